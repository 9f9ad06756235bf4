"""Streams: one description per stream (``spec``), the registry of all of them (``registry``), and the generic
tasks and DAG factory that run every stream through the shared path (``tasks``, ``dag``)."""
