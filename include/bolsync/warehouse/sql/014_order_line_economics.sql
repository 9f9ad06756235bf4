-- What each order line earned: bol.order_line_economics, one row per order item, every amount excluding VAT with
-- its VAT apart. Revenue from the order (unit price incl. VAT x units shipped, less the sales VAT rate); commission
-- and fees from the invoice lines once invoiced, else the order's estimated commission; returned units from the
-- accepted processing results. Invoice amounts keep bol's sign: positive = the seller owes bol, so the net is the
-- revenue less every charge. Portable SQL (DuckDB and PostgreSQL).

-- Which column of the economics each of bol's invoice charge types feeds; a type not listed counts as 'other'.
-- Add a row for a charge type bol introduces (INSERT ... ON CONFLICT DO NOTHING keeps yours on upgrade).
CREATE TABLE IF NOT EXISTS bol.invoice_charge_types (
    charge_type            VARCHAR     NOT NULL,
    economics_column       VARCHAR     NOT NULL,
    description            VARCHAR,
    PRIMARY KEY (charge_type)
);

INSERT INTO bol.invoice_charge_types (charge_type, economics_column, description) VALUES
    ('TURNOVER', 'turnover', 'sales bol collected for the seller (negative); not in the net: revenue comes from the order'),
    ('CORRECTION_TURNOVER', 'refunds', 'turnover taken back for returned or refunded units'),
    ('COMMISSION', 'commission', 'bol''s commission'),
    ('CORRECTION_COMMISSION', 'commission', 'commission given back, e.g. on a return (negative)'),
    ('PICK_PACK', 'fees', 'FBB pick and pack'),
    ('CORRECTION_PICK_PACK', 'fees', 'correction of pick and pack'),
    ('SHIPMENT_LABEL', 'fees', 'shipping label'),
    ('SHIPMENT_LABEL_POST', 'fees', 'shipping label (PostNL, VAT exempt)'),
    ('CORRECTION_SHIPMENT_LABEL', 'fees', 'correction of a shipping label'),
    ('OUTBOUND', 'fees', 'FBB outbound handling'),
    ('CORRECTION_OUTBOUND', 'fees', 'correction of outbound handling'),
    ('LOGISTICAL_CHARGE', 'fees', 'FBB logistics'),
    ('STOCK', 'fees', 'FBB storage (usually per EAN, not per order)'),
    ('NCK_STOCK', 'fees', 'FBB storage of slow stock'),
    ('INBOUND', 'fees', 'FBB inbound'),
    ('FIRST_MILE', 'fees', 'FBB first mile'),
    ('CORRECTION_FIRST_MILE', 'fees', 'correction of first mile'),
    ('PLAZA_RETURN_SHIPPING_LABEL', 'return_costs', 'return shipping label'),
    ('CORRECTION_PLAZA_RETURN_SHIPPING_LABEL', 'return_costs', 'correction of a return shipping label'),
    ('CORRECTION_CORRECTION', 'other', 'manual correction'),
    ('COMPENSATION', 'other', 'compensation to the seller (negative)'),
    ('COMPENSATION_LOST_GOODS', 'other', 'compensation for goods bol lost (negative)'),
    ('RETAILER_AUTHORIZATION', 'other', 'brand authorisation fee'),
    ('CORRECTION_RETAILER_AUTHORIZATION', 'other', 'correction of the brand authorisation fee'),
    ('BRMG', 'other', 'advertising'),
    ('BRMG_REFUND', 'other', 'advertising refund')
ON CONFLICT (charge_type) DO NOTHING;

-- The VAT rate of a sale: per EAN where set (e.g. 9 % for books in NL), else per shipment country, else 21 %.
CREATE TABLE IF NOT EXISTS bol.sales_vat_rates (
    country_code           VARCHAR       NOT NULL,
    vat_rate               DECIMAL(5, 2) NOT NULL,
    PRIMARY KEY (country_code)
);

INSERT INTO bol.sales_vat_rates (country_code, vat_rate) VALUES ('NL', 21.00), ('BE', 21.00)
ON CONFLICT (country_code) DO NOTHING;

CREATE TABLE IF NOT EXISTS bol.product_vat_rates (
    retailer_id            VARCHAR       NOT NULL,
    ean                    VARCHAR       NOT NULL,
    vat_rate               DECIMAL(5, 2) NOT NULL,
    PRIMARY KEY (retailer_id, ean)
);

CREATE OR REPLACE VIEW bol.order_line_economics AS
WITH items AS (
    SELECT
        i.retailer_id,
        i.order_id,
        i.order_item_id,
        i.ean,
        i.fulfilment_method,
        o.order_placed_at,
        o.shipment_country_code,
        coalesce(i.quantity, 0) AS units_ordered,
        coalesce(i.quantity_shipped, 0) AS units_shipped,
        coalesce(i.quantity_cancelled, 0) AS units_cancelled,
        i.unit_price,
        i.commission AS estimated_commission,
        coalesce(p.vat_rate, c.vat_rate, 21.00) AS sales_vat_rate,
        coalesce(i.unit_price, 0) * coalesce(i.quantity_shipped, 0) AS revenue_incl_vat
    FROM bol.order_items i
    LEFT JOIN bol.orders o ON o.retailer_id = i.retailer_id AND o.order_id = i.order_id
    LEFT JOIN bol.product_vat_rates p ON p.retailer_id = i.retailer_id AND p.ean = i.ean
    LEFT JOIN bol.sales_vat_rates c ON c.country_code = o.shipment_country_code
),
shares AS (
    -- An item's share of its order's charges that name only the order (e.g. one label for the whole parcel): by
    -- revenue, equal shares when nothing of the order was shipped.
    SELECT
        items.*,
        CASE
            WHEN sum(revenue_incl_vat) OVER (PARTITION BY retailer_id, order_id) > 0
                THEN revenue_incl_vat / sum(revenue_incl_vat) OVER (PARTITION BY retailer_id, order_id)
            ELSE 1.0 / count(*) OVER (PARTITION BY retailer_id, order_id)
        END AS order_share
    FROM items
),
lines AS (
    SELECT
        l.retailer_id,
        l.order_id,
        l.order_item_id,
        coalesce(t.economics_column, 'other') AS bucket,
        l.amount_excl_vat AS amount,
        coalesce(l.vat_amount, 0) AS vat
    FROM bol.invoice_lines l
    LEFT JOIN bol.invoice_charge_types t ON t.charge_type = l.charge_type
    WHERE l.order_id IS NOT NULL
),
charges AS (
    SELECT retailer_id, order_item_id, bucket, amount, vat
    FROM lines
    WHERE order_item_id IS NOT NULL
    UNION ALL
    SELECT s.retailer_id, s.order_item_id, l.bucket, l.amount * s.order_share, l.vat * s.order_share
    FROM lines l
    JOIN shares s ON s.retailer_id = l.retailer_id AND s.order_id = l.order_id
    WHERE l.order_item_id IS NULL
),
charged AS (
    SELECT
        retailer_id,
        order_item_id,
        count(*) FILTER (WHERE bucket = 'commission') AS commission_lines,
        sum(amount) FILTER (WHERE bucket = 'commission') AS commission,
        sum(vat) FILTER (WHERE bucket = 'commission') AS commission_vat,
        sum(amount) FILTER (WHERE bucket = 'fees') AS fees,
        sum(vat) FILTER (WHERE bucket = 'fees') AS fees_vat,
        sum(amount) FILTER (WHERE bucket = 'return_costs') AS return_costs,
        sum(vat) FILTER (WHERE bucket = 'return_costs') AS return_costs_vat,
        sum(amount) FILTER (WHERE bucket = 'refunds') AS refunds,
        sum(vat) FILTER (WHERE bucket = 'refunds') AS refunds_vat,
        sum(amount) FILTER (WHERE bucket = 'other') AS other,
        sum(vat) FILTER (WHERE bucket = 'other') AS other_vat,
        sum(amount) FILTER (WHERE bucket = 'turnover') AS turnover
    FROM charges
    GROUP BY retailer_id, order_item_id
),
returned AS (
    SELECT r.retailer_id, r.order_item_id, sum(p.quantity) AS units
    FROM bol.return_items r
    JOIN bol.return_processing_results p ON p.retailer_id = r.retailer_id AND p.rma_id = r.rma_id
    WHERE r.order_item_id IS NOT NULL AND p.processing_result = 'ACCEPTED'
    GROUP BY r.retailer_id, r.order_item_id
),
money AS (
    SELECT
        s.*,
        coalesce(rt.units, 0) AS units_returned,
        CAST(round(s.revenue_incl_vat / (1 + s.sales_vat_rate / 100), 2) AS DECIMAL(12, 2)) AS revenue_excl_vat,
        CASE
            WHEN ch.commission_lines > 0 THEN 'invoice'
            WHEN s.estimated_commission IS NOT NULL THEN 'order_estimate'
        END AS commission_source,
        CASE
            WHEN ch.commission_lines > 0 THEN CAST(round(ch.commission, 2) AS DECIMAL(12, 2))
            WHEN s.units_ordered > 0
                THEN CAST(round(s.estimated_commission * s.units_shipped / s.units_ordered, 2) AS DECIMAL(12, 2))
        END AS commission_excl_vat,
        CASE
            WHEN ch.commission_lines > 0 THEN CAST(round(ch.commission_vat, 2) AS DECIMAL(12, 2))
            WHEN s.units_ordered > 0
                THEN CAST(round(s.estimated_commission * s.units_shipped / s.units_ordered * 0.21, 2) AS DECIMAL(12, 2))
        END AS commission_vat,
        CAST(round(coalesce(ch.fees, 0), 2) AS DECIMAL(12, 2)) AS fees_excl_vat,
        CAST(round(coalesce(ch.fees_vat, 0), 2) AS DECIMAL(12, 2)) AS fees_vat,
        CAST(round(coalesce(ch.return_costs, 0), 2) AS DECIMAL(12, 2)) AS return_costs_excl_vat,
        CAST(round(coalesce(ch.return_costs_vat, 0), 2) AS DECIMAL(12, 2)) AS return_costs_vat,
        CAST(round(coalesce(ch.refunds, 0), 2) AS DECIMAL(12, 2)) AS refunds_excl_vat,
        CAST(round(coalesce(ch.refunds_vat, 0), 2) AS DECIMAL(12, 2)) AS refunds_vat,
        CAST(round(coalesce(ch.other, 0), 2) AS DECIMAL(12, 2)) AS other_charges_excl_vat,
        CAST(round(coalesce(ch.other_vat, 0), 2) AS DECIMAL(12, 2)) AS other_charges_vat,
        CAST(round(coalesce(ch.turnover, 0), 2) AS DECIMAL(12, 2)) AS invoiced_turnover_excl_vat
    FROM shares s
    LEFT JOIN charged ch ON ch.retailer_id = s.retailer_id AND ch.order_item_id = s.order_item_id
    LEFT JOIN returned rt ON rt.retailer_id = s.retailer_id AND rt.order_item_id = s.order_item_id
)
SELECT
    retailer_id,
    order_id,
    order_item_id,
    ean,
    fulfilment_method,
    order_placed_at,
    shipment_country_code,
    units_ordered,
    units_shipped,
    units_cancelled,
    units_returned,
    unit_price AS unit_price_incl_vat,
    sales_vat_rate,
    CAST(revenue_excl_vat AS DECIMAL(12, 2)) AS revenue_excl_vat,
    CAST(revenue_incl_vat - revenue_excl_vat AS DECIMAL(12, 2)) AS revenue_vat,
    commission_source,
    CAST(coalesce(commission_excl_vat, 0) AS DECIMAL(12, 2)) AS commission_excl_vat,
    CAST(coalesce(commission_vat, 0) AS DECIMAL(12, 2)) AS commission_vat,
    CAST(fees_excl_vat AS DECIMAL(12, 2)) AS fees_excl_vat,
    CAST(fees_vat AS DECIMAL(12, 2)) AS fees_vat,
    CAST(return_costs_excl_vat AS DECIMAL(12, 2)) AS return_costs_excl_vat,
    CAST(return_costs_vat AS DECIMAL(12, 2)) AS return_costs_vat,
    CAST(refunds_excl_vat AS DECIMAL(12, 2)) AS refunds_excl_vat,
    CAST(refunds_vat AS DECIMAL(12, 2)) AS refunds_vat,
    CAST(other_charges_excl_vat AS DECIMAL(12, 2)) AS other_charges_excl_vat,
    CAST(other_charges_vat AS DECIMAL(12, 2)) AS other_charges_vat,
    CAST(invoiced_turnover_excl_vat AS DECIMAL(12, 2)) AS invoiced_turnover_excl_vat,
    CAST(
        revenue_excl_vat - coalesce(commission_excl_vat, 0) - fees_excl_vat - return_costs_excl_vat
        - refunds_excl_vat - other_charges_excl_vat AS DECIMAL(12, 2)
    ) AS net_excl_vat
FROM money;
