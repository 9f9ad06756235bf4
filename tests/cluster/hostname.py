"""``[core] hostname_callable`` of the cluster's workers: each worker stands for a host of its own."""

from __future__ import annotations

import os
import socket

HOSTNAME_VARIABLE = "BOLSYNC_CLUSTER_HOSTNAME"


def worker_hostname() -> str:
    """``$BOLSYNC_CLUSTER_HOSTNAME`` (the worker's name, e.g. ``w1``), else the machine's FQDN."""
    return os.environ.get(HOSTNAME_VARIABLE) or socket.getfqdn()
