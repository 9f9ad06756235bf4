-- FBB inventory: the stock bol holds per EAN as last listed, and one snapshot per EAN per Dutch day (the day the
-- list was read; bol keeps no stock history). Portable SQL (DuckDB and PostgreSQL).
CREATE TABLE IF NOT EXISTS bol.inventory (
    retailer_id            VARCHAR     NOT NULL,
    ean                    VARCHAR     NOT NULL,
    bsku                   VARCHAR,
    title                  VARCHAR,
    regular_stock          INTEGER     NOT NULL,
    graded_stock           INTEGER     NOT NULL,
    -- Whether bol's latest full list names the EAN; unlisted_on: the first snapshot day whose list did not.
    listed                 BOOLEAN     NOT NULL,
    unlisted_on            DATE,
    first_seen_on          DATE        NOT NULL,
    last_seen_on           DATE        NOT NULL,
    first_synced_at        TIMESTAMPTZ NOT NULL,
    synced_by_dag_id       VARCHAR,
    synced_by_run_id       VARCHAR,
    extracted_at           TIMESTAMPTZ,
    PRIMARY KEY (retailer_id, ean)
);

-- carried_over: not named by the day's list (its deletions were held, or its record was held in the
-- quarantine), so the row repeats the EAN's last known stock.
CREATE TABLE IF NOT EXISTS bol.inventory_snapshots (
    retailer_id            VARCHAR     NOT NULL,
    ean                    VARCHAR     NOT NULL,
    snapshot_date          DATE        NOT NULL,
    regular_stock          INTEGER     NOT NULL,
    graded_stock           INTEGER     NOT NULL,
    carried_over           BOOLEAN     NOT NULL,
    first_synced_at        TIMESTAMPTZ NOT NULL,
    synced_by_dag_id       VARCHAR,
    synced_by_run_id       VARCHAR,
    extracted_at           TIMESTAMPTZ,
    PRIMARY KEY (retailer_id, ean, snapshot_date)
);
