-- Shipments: one row per shipment (list fields, and the transport of its detail), one per shipment item (from the
-- detail), and the span of shipment times complete scans have read (the lists' stop rule). No customer personal
-- data (the shipment and billing details live in the personal store of opted-in accounts only). Portable SQL
-- (DuckDB and PostgreSQL).
CREATE TABLE IF NOT EXISTS bol.shipments (
    retailer_id            VARCHAR     NOT NULL,
    shipment_id            VARCHAR     NOT NULL,
    shipped_at             TIMESTAMPTZ NOT NULL,
    shipment_reference     VARCHAR,
    -- the list it was read from (FBR or FBB)
    fulfilment_method      VARCHAR     NOT NULL,
    order_id               VARCHAR     NOT NULL,
    order_placed_at        TIMESTAMPTZ,
    transport_id           VARCHAR,
    item_count             INTEGER     NOT NULL,
    -- when the stored list fields were first read
    observed_at            TIMESTAMPTZ NOT NULL,
    -- from the detail (null until one was read)
    pickup_point           BOOLEAN,
    transporter_code       VARCHAR,
    track_and_trace        VARCHAR,
    shipping_label_id      VARCHAR,
    -- JSON array of {"event_code", "event_at"} (UTC), oldest first, as of detail_read_at
    transport_events       VARCHAR,
    event_count            INTEGER,
    latest_event_code      VARCHAR,
    latest_event_at        TIMESTAMPTZ,
    -- a final event (delivered, picked up, returned to sender) or no track and trace: the detail is not re-read
    journey_ended          BOOLEAN,
    detail_read_at         TIMESTAMPTZ,
    first_synced_at        TIMESTAMPTZ NOT NULL,
    synced_by_dag_id       VARCHAR,
    synced_by_run_id       VARCHAR,
    extracted_at           TIMESTAMPTZ,
    PRIMARY KEY (retailer_id, shipment_id)
);

CREATE TABLE IF NOT EXISTS bol.shipment_items (
    retailer_id            VARCHAR     NOT NULL,
    shipment_id            VARCHAR     NOT NULL,
    order_item_id          VARCHAR     NOT NULL,
    order_id               VARCHAR     NOT NULL,
    ean                    VARCHAR,
    title                  VARCHAR,
    offer_id               VARCHAR,
    fulfilment_method      VARCHAR,
    -- units of the order item in this shipment (bol's quantityShipped)
    quantity               INTEGER     NOT NULL,
    -- units the order item ordered
    quantity_ordered       INTEGER,
    unit_price             DECIMAL(12, 2),
    -- bol's estimated commission for the units in this shipment
    commission             DECIMAL(12, 2),
    detail_read_at         TIMESTAMPTZ NOT NULL,
    first_synced_at        TIMESTAMPTZ NOT NULL,
    synced_by_dag_id       VARCHAR,
    synced_by_run_id       VARCHAR,
    extracted_at           TIMESTAMPTZ,
    PRIMARY KEY (retailer_id, shipment_id, order_item_id)
);

CREATE TABLE IF NOT EXISTS bol.shipment_scans (
    retailer_id            VARCHAR     NOT NULL,
    fulfilment_method      VARCHAR     NOT NULL,
    -- every shipment shipped in [covered_from, covered_to) that bol listed was read by a complete scan
    covered_from           TIMESTAMPTZ NOT NULL,
    covered_to             TIMESTAMPTZ NOT NULL,
    last_scan_started_at   TIMESTAMPTZ NOT NULL,
    last_scan_run_id       VARCHAR,
    PRIMARY KEY (retailer_id, fulfilment_method)
);
