"""bolsync: an Airflow provider for the bol.com Retailer API."""

from __future__ import annotations

__version__ = "0.1.0"
