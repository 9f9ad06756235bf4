-- Coverage: which [window_start, window_end) of which stream and account a load synced successfully (the last
-- run that did, and when), and the holes the nightly coverage check has alerted (so each is alerted once).
CREATE TABLE IF NOT EXISTS bol.sync_coverage (
    stream                 VARCHAR     NOT NULL,
    conn_id                VARCHAR     NOT NULL,
    retailer_id            VARCHAR,
    window_start           TIMESTAMPTZ NOT NULL,
    window_end             TIMESTAMPTZ NOT NULL,
    dag_id                 VARCHAR     NOT NULL,
    run_id                 VARCHAR     NOT NULL,
    synced_at              TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (stream, conn_id, window_start, window_end)
);

CREATE TABLE IF NOT EXISTS bol.coverage_alerts (
    stream                 VARCHAR     NOT NULL,
    conn_id                VARCHAR     NOT NULL,
    hole_start             TIMESTAMPTZ NOT NULL,
    hole_end               TIMESTAMPTZ NOT NULL,
    kind                   VARCHAR     NOT NULL,
    alerted_at             TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (stream, conn_id, hole_start, hole_end)
);
