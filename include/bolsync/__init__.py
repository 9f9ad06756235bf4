"""bolsync pipeline code: windows, extract, transform, load and the Airflow task wiring."""
