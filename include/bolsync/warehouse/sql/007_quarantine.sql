-- Quarantine, one table for every stream: records whose values the warehouse cannot hold (a quantity beyond
-- INTEGER, a price beyond DECIMAL(12,2), a change time without a zone, ...) are kept here as raw JSON with the
-- reason, so the rest of their window lands. A record is released when a later load lands it.
-- raw_json is the record's JSON text (ASCII, NaN and Infinity kept as bol sent them), never customer data.
CREATE TABLE IF NOT EXISTS bol.quarantine (
    stream                 VARCHAR     NOT NULL,
    retailer_id            VARCHAR     NOT NULL,
    record_key             VARCHAR     NOT NULL,
    conn_id                VARCHAR     NOT NULL,
    field                  VARCHAR,
    reason                 VARCHAR     NOT NULL,
    raw_json               VARCHAR     NOT NULL,
    window_start           TIMESTAMPTZ,
    window_end             TIMESTAMPTZ,
    first_seen_at          TIMESTAMPTZ NOT NULL,
    last_seen_at           TIMESTAMPTZ NOT NULL,
    dag_id                 VARCHAR     NOT NULL,
    run_id                 VARCHAR     NOT NULL,
    alerted_at             TIMESTAMPTZ,
    released_at            TIMESTAMPTZ,
    released_by_dag_id     VARCHAR,
    released_by_run_id     VARCHAR,
    PRIMARY KEY (stream, retailer_id, record_key)
);

-- How many records a load quarantined: per synced window, and per task try.
ALTER TABLE bol.sync_coverage ADD COLUMN IF NOT EXISTS quarantined INTEGER;
ALTER TABLE bol.sync_runs ADD COLUMN IF NOT EXISTS quarantined INTEGER;
