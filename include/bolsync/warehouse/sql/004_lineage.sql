-- Lineage: which sync run last inserted or really changed a row (its Airflow dag_id and run_id, joining
-- bol.sync_runs and the Airflow UI), and when that run's extract pulled the data from the API.
ALTER TABLE bol.orders ADD COLUMN IF NOT EXISTS synced_by_dag_id VARCHAR;
ALTER TABLE bol.orders ADD COLUMN IF NOT EXISTS synced_by_run_id VARCHAR;
ALTER TABLE bol.orders ADD COLUMN IF NOT EXISTS extracted_at TIMESTAMPTZ;
ALTER TABLE bol.order_items ADD COLUMN IF NOT EXISTS synced_by_dag_id VARCHAR;
ALTER TABLE bol.order_items ADD COLUMN IF NOT EXISTS synced_by_run_id VARCHAR;
ALTER TABLE bol.order_items ADD COLUMN IF NOT EXISTS extracted_at TIMESTAMPTZ;
ALTER TABLE bol.offers ADD COLUMN IF NOT EXISTS synced_by_dag_id VARCHAR;
ALTER TABLE bol.offers ADD COLUMN IF NOT EXISTS synced_by_run_id VARCHAR;
ALTER TABLE bol.offers ADD COLUMN IF NOT EXISTS extracted_at TIMESTAMPTZ;
ALTER TABLE bol.offer_snapshots ADD COLUMN IF NOT EXISTS synced_by_dag_id VARCHAR;
ALTER TABLE bol.offer_snapshots ADD COLUMN IF NOT EXISTS synced_by_run_id VARCHAR;
ALTER TABLE bol.offer_snapshots ADD COLUMN IF NOT EXISTS extracted_at TIMESTAMPTZ;
