"""Opt-in storage of customer personal data, apart from the warehouse, with retention."""
