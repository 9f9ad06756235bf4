"""Triggers that wait in the triggerer for bol to finish asynchronous work."""
