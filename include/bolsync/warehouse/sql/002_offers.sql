-- Offers slice: current offer state, one snapshot per offer per day, the sync state per retailer,
-- and the offer counters of the audit rows. Portable SQL (DuckDB and PostgreSQL).
CREATE TABLE IF NOT EXISTS bol.offers (
    retailer_id               VARCHAR        NOT NULL,
    offer_id                  VARCHAR        NOT NULL,
    ean                       VARCHAR,
    condition_name            VARCHAR,
    condition_category        VARCHAR,
    condition_comment         VARCHAR,
    unit_price                DECIMAL(12, 2),
    fulfilment_delivery_code  VARCHAR,
    stock_amount              INTEGER,
    corrected_stock           INTEGER,
    on_hold_by_retailer       BOOLEAN,
    fulfilment_type           VARCHAR,
    mutation_date_time        TIMESTAMPTZ,
    reference_code            VARCHAR,
    economic_operator_id      VARCHAR,
    extra                     JSON,
    source                    VARCHAR        NOT NULL,
    deleted                   BOOLEAN        NOT NULL,
    deleted_at                TIMESTAMPTZ,
    first_seen_at             TIMESTAMPTZ    NOT NULL,
    last_seen_at              TIMESTAMPTZ    NOT NULL,
    PRIMARY KEY (retailer_id, offer_id)
);

CREATE TABLE IF NOT EXISTS bol.offer_snapshots (
    retailer_id               VARCHAR        NOT NULL,
    offer_id                  VARCHAR        NOT NULL,
    snapshot_date             DATE           NOT NULL,
    ean                       VARCHAR,
    unit_price                DECIMAL(12, 2),
    stock_amount              INTEGER,
    corrected_stock           INTEGER,
    on_hold_by_retailer       BOOLEAN,
    fulfilment_type           VARCHAR,
    fulfilment_delivery_code  VARCHAR,
    mutation_date_time        TIMESTAMPTZ,
    PRIMARY KEY (retailer_id, offer_id, snapshot_date)
);

CREATE TABLE IF NOT EXISTS bol.offer_sync_state (
    retailer_id               VARCHAR        NOT NULL,
    last_sync_at              TIMESTAMPTZ    NOT NULL,
    last_source               VARCHAR        NOT NULL,
    last_full_sweep_at        TIMESTAMPTZ,
    PRIMARY KEY (retailer_id)
);

ALTER TABLE bol.sync_runs ADD COLUMN IF NOT EXISTS offers_listed INTEGER;
ALTER TABLE bol.sync_runs ADD COLUMN IF NOT EXISTS offers_inserted INTEGER;
ALTER TABLE bol.sync_runs ADD COLUMN IF NOT EXISTS offers_updated INTEGER;
ALTER TABLE bol.sync_runs ADD COLUMN IF NOT EXISTS offers_deleted INTEGER;
