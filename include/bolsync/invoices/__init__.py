"""Invoices: bol's invoices and every line of their specifications, reconciled per VAT rate."""
