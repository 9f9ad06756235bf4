-- Invoices: bol's invoices and the lines of their specifications. Amounts are as bol sends them, seen from bol's
-- side: positive = the seller owes bol (commission, fees, labels), negative = bol owes the seller (turnover).
-- Every line in bol.invoice_lines belongs to an invoice whose lines add up to its totals per VAT rate
-- (specification_status 'reconciled'); the lines of an invoice that does not add up are held in bol.quarantine.
CREATE TABLE IF NOT EXISTS bol.invoices (
    retailer_id                   VARCHAR        NOT NULL,
    invoice_id                    VARCHAR        NOT NULL,
    invoice_type                  VARCHAR,
    issue_date                    DATE,
    period_start                  DATE,
    period_end                    DATE,
    currency                      VARCHAR,
    total_excl_vat                DECIMAL(12, 2),
    total_vat                     DECIMAL(12, 2),
    total_incl_vat                DECIMAL(12, 2),
    vat_by_rate                   JSON,
    specification_status          VARCHAR        NOT NULL,
    specification_read            BOOLEAN        NOT NULL,
    reconciled                    BOOLEAN        NOT NULL,
    line_count                    INTEGER,
    open_amount                   DECIMAL(12, 2),
    open_amount_at                TIMESTAMPTZ,
    read_at                       TIMESTAMPTZ    NOT NULL,
    extra                         JSON,
    no_specification_reported_at  TIMESTAMPTZ,
    first_synced_at               TIMESTAMPTZ    NOT NULL,
    synced_by_dag_id              VARCHAR,
    synced_by_run_id              VARCHAR,
    extracted_at                  TIMESTAMPTZ,
    PRIMARY KEY (retailer_id, invoice_id)
);

CREATE TABLE IF NOT EXISTS bol.invoice_lines (
    retailer_id                   VARCHAR        NOT NULL,
    invoice_id                    VARCHAR        NOT NULL,
    line_key                      VARCHAR        NOT NULL,
    line_ref                      VARCHAR,
    bol_line_id                   VARCHAR,
    charge_type                   VARCHAR,
    description                   VARCHAR,
    order_id                      VARCHAR,
    order_item_id                 VARCHAR,
    ean                           VARCHAR,
    shipment_id                   VARCHAR,
    rma_id                        VARCHAR,
    quantity                      DECIMAL(12, 3),
    amount_excl_vat               DECIMAL(12, 2) NOT NULL,
    vat_rate                      DECIMAL(5, 2),
    vat_category                  VARCHAR,
    vat_amount                    DECIMAL(12, 2),
    currency                      VARCHAR,
    transaction_at                TIMESTAMPTZ,
    transaction_date              DATE,
    extra                         JSON,
    first_synced_at               TIMESTAMPTZ    NOT NULL,
    synced_by_dag_id              VARCHAR,
    synced_by_run_id              VARCHAR,
    extracted_at                  TIMESTAMPTZ,
    PRIMARY KEY (retailer_id, invoice_id, line_key)
);

CREATE INDEX IF NOT EXISTS invoice_lines_by_order ON bol.invoice_lines (retailer_id, order_id);
