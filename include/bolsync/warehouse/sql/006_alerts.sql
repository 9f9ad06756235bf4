-- Alerts: one row per alert key (runs.alert_log): what it is about, every attempt to deliver it, whether it got
-- out, and when what it reported was resolved (cleared_at; NULL while open).
CREATE TABLE IF NOT EXISTS bol.alerts (
    alert_key              VARCHAR     NOT NULL,
    kind                   VARCHAR     NOT NULL,
    conn_id                VARCHAR,
    retailer_id            VARCHAR,
    stream                 VARCHAR,
    subject                VARCHAR     NOT NULL,
    body                   VARCHAR     NOT NULL,
    dag_id                 VARCHAR,
    run_id                 VARCHAR,
    task_id                VARCHAR,
    first_attempt_at       TIMESTAMPTZ NOT NULL,
    last_attempt_at        TIMESTAMPTZ NOT NULL,
    attempts               INTEGER     NOT NULL,
    first_sent_at          TIMESTAMPTZ,
    last_sent_at           TIMESTAMPTZ,
    sends                  INTEGER     NOT NULL,
    last_error             VARCHAR,
    cleared_at             TIMESTAMPTZ,
    cleared_by             VARCHAR,
    PRIMARY KEY (alert_key)
);

-- The coverage alert that reported each remembered hole (its bol.alerts row is cleared once none is left).
ALTER TABLE bol.coverage_alerts ADD COLUMN IF NOT EXISTS alert_key VARCHAR;

-- Retention: one row per try of a purge task of bol_retention (what it purged, how much, whether it finished).
CREATE TABLE IF NOT EXISTS bol.retention_purges (
    dag_id                 VARCHAR     NOT NULL,
    run_id                 VARCHAR     NOT NULL,
    task_id                VARCHAR     NOT NULL,
    try_number             INTEGER     NOT NULL,
    target                 VARCHAR     NOT NULL,
    location               VARCHAR,
    status                 VARCHAR     NOT NULL,
    started_at             TIMESTAMPTZ NOT NULL,
    finished_at            TIMESTAMPTZ NOT NULL,
    retailers              INTEGER,
    retailers_kept         INTEGER,
    contacts_purged        INTEGER,
    rows_deleted           INTEGER,
    folders_removed        INTEGER,
    folders_failed         INTEGER,
    error                  VARCHAR,
    PRIMARY KEY (dag_id, run_id, task_id, try_number)
);
