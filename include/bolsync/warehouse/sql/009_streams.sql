-- Every stream's audit rows: which stream a try synced, its counts in columns every stream shares, and whether a
-- successful load covered its window (false: its data may be incomplete, so bol.sync_coverage has no row for it).
ALTER TABLE bol.sync_runs ADD COLUMN IF NOT EXISTS stream VARCHAR;
ALTER TABLE bol.sync_runs ADD COLUMN IF NOT EXISTS records_listed INTEGER;
ALTER TABLE bol.sync_runs ADD COLUMN IF NOT EXISTS details_fetched INTEGER;
ALTER TABLE bol.sync_runs ADD COLUMN IF NOT EXISTS rows_inserted INTEGER;
ALTER TABLE bol.sync_runs ADD COLUMN IF NOT EXISTS rows_updated INTEGER;
ALTER TABLE bol.sync_runs ADD COLUMN IF NOT EXISTS covered BOOLEAN;
