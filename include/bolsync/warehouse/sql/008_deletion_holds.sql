-- Mass deletions a full list would have made but that were held for confirmation (bolsync.runs.evidence): one
-- row per held list, open until a later full list of the same stream and retailer is applied.
CREATE TABLE IF NOT EXISTS bol.deletion_holds (
    stream                 VARCHAR     NOT NULL,
    retailer_id            VARCHAR     NOT NULL,
    dag_id                 VARCHAR     NOT NULL,
    run_id                 VARCHAR     NOT NULL,
    conn_id                VARCHAR     NOT NULL,
    source                 VARCHAR     NOT NULL,
    listed_at              TIMESTAMPTZ NOT NULL,
    live                   INTEGER     NOT NULL,
    named                  INTEGER     NOT NULL,
    listed                 INTEGER     NOT NULL,
    held                   INTEGER     NOT NULL,
    held_at                TIMESTAMPTZ NOT NULL,
    resolved_at            TIMESTAMPTZ,
    resolution             VARCHAR,
    resolved_by_run_id     VARCHAR,
    PRIMARY KEY (stream, retailer_id, dag_id, run_id)
);

ALTER TABLE bol.sync_runs ADD COLUMN IF NOT EXISTS deletions_held INTEGER;
