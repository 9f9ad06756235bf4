"""Orders: extract from the Retailer API, transform to tables."""
