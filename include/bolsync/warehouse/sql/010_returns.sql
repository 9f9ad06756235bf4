-- Returns: one row per return, one per return item (rmaId) at its latest state, one per processing result, and
-- the scan state of the handled lists' stop rule. No customer personal data (customer details and comments live in
-- the personal store of opted-in accounts only). Portable SQL (DuckDB and PostgreSQL).
CREATE TABLE IF NOT EXISTS bol.returns (
    retailer_id            VARCHAR     NOT NULL,
    return_id              VARCHAR     NOT NULL,
    registered_at          TIMESTAMPTZ NOT NULL,
    fulfilment_method      VARCHAR     NOT NULL,
    item_count             INTEGER     NOT NULL,
    -- every item handled (the return is on bol's handled list)
    handled                BOOLEAN     NOT NULL,
    result_count           INTEGER     NOT NULL,
    -- a digest of the state the lists show: a read with another digest changed the return
    state_fingerprint      VARCHAR     NOT NULL,
    -- when the stored state was first read
    observed_at            TIMESTAMPTZ NOT NULL,
    -- when its detail answered 404 (not re-read by id until a list shows it again)
    not_found_at           TIMESTAMPTZ,
    first_synced_at        TIMESTAMPTZ NOT NULL,
    synced_by_dag_id       VARCHAR,
    synced_by_run_id       VARCHAR,
    extracted_at           TIMESTAMPTZ,
    PRIMARY KEY (retailer_id, return_id)
);

CREATE TABLE IF NOT EXISTS bol.return_item_states (
    retailer_id            VARCHAR     NOT NULL,
    rma_id                 VARCHAR     NOT NULL,
    return_id              VARCHAR     NOT NULL,
    order_id               VARCHAR     NOT NULL,
    ean                    VARCHAR     NOT NULL,
    -- from the return's detail (null until one was read)
    title                  VARCHAR,
    expected_quantity      INTEGER     NOT NULL,
    main_reason            VARCHAR,
    detailed_reason        VARCHAR,
    handled                BOOLEAN     NOT NULL,
    result_count           INTEGER     NOT NULL,
    processed_quantity     BIGINT      NOT NULL,
    track_and_trace        VARCHAR,
    transporter_name       VARCHAR,
    observed_at            TIMESTAMPTZ NOT NULL,
    detail_read_at         TIMESTAMPTZ,
    first_synced_at        TIMESTAMPTZ NOT NULL,
    synced_by_dag_id       VARCHAR,
    synced_by_run_id       VARCHAR,
    extracted_at           TIMESTAMPTZ,
    PRIMARY KEY (retailer_id, rma_id)
);

CREATE TABLE IF NOT EXISTS bol.return_processing_results (
    retailer_id            VARCHAR     NOT NULL,
    rma_id                 VARCHAR     NOT NULL,
    -- 1.. per item, by processing time (then the result's values): stable when bol adds a result
    result_number          INTEGER     NOT NULL,
    return_id              VARCHAR     NOT NULL,
    quantity               INTEGER     NOT NULL,
    processing_result      VARCHAR,
    handling_result        VARCHAR,
    processed_at           TIMESTAMPTZ NOT NULL,
    first_synced_at        TIMESTAMPTZ NOT NULL,
    synced_by_dag_id       VARCHAR,
    synced_by_run_id       VARCHAR,
    extracted_at           TIMESTAMPTZ,
    PRIMARY KEY (retailer_id, rma_id, result_number)
);

CREATE TABLE IF NOT EXISTS bol.return_scans (
    retailer_id                VARCHAR     NOT NULL,
    fulfilment_method          VARCHAR     NOT NULL,
    -- when the last complete scan started (the handled lists' stop bound is this minus a margin)
    last_scan_started_at       TIMESTAMPTZ NOT NULL,
    -- when the last complete scan that read the handled list to its end started
    last_full_scan_started_at  TIMESTAMPTZ,
    last_scan_run_id           VARCHAR,
    PRIMARY KEY (retailer_id, fulfilment_method)
);

-- One row per return item at its latest state, with the order item it names: order_item_id where (order id, EAN)
-- names exactly one item in bol.order_items of the same retailer; otherwise null, and order_match says why (the
-- order is not in the warehouse: normal for orders older than the synced history). A view, so the match follows
-- the orders as they arrive.
CREATE OR REPLACE VIEW bol.return_items AS
SELECT
    s.retailer_id,
    s.return_id,
    s.rma_id,
    r.registered_at,
    r.fulfilment_method,
    s.order_id,
    s.ean,
    CASE WHEN m.items = 1 THEN m.order_item_id END AS order_item_id,
    CASE
        WHEN m.items = 1 THEN 'matched'
        WHEN o.items IS NULL THEN 'order_not_in_warehouse'
        WHEN m.items IS NULL THEN 'no_item_with_ean'
        ELSE 'several_items_with_ean'
    END AS order_match,
    s.title,
    s.expected_quantity,
    s.main_reason,
    s.detailed_reason,
    s.handled,
    s.result_count,
    s.processed_quantity,
    s.track_and_trace,
    s.transporter_name,
    s.observed_at,
    s.detail_read_at,
    s.first_synced_at,
    s.synced_by_dag_id,
    s.synced_by_run_id,
    s.extracted_at
FROM bol.return_item_states s
LEFT JOIN bol.returns r ON r.retailer_id = s.retailer_id AND r.return_id = s.return_id
LEFT JOIN (
    SELECT retailer_id, order_id, count(*) AS items FROM bol.order_items GROUP BY retailer_id, order_id
) o ON o.retailer_id = s.retailer_id AND o.order_id = s.order_id
LEFT JOIN (
    SELECT retailer_id, order_id, ean, count(*) AS items, min(order_item_id) AS order_item_id
    FROM bol.order_items GROUP BY retailer_id, order_id, ean
) m ON m.retailer_id = s.retailer_id AND m.order_id = s.order_id AND m.ean = s.ean;
