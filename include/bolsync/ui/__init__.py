"""The bolsync status page inside the Airflow UI (an Airflow plugin: ``plugin``)."""
