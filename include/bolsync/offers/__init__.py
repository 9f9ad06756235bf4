"""Offers: the v10 export (CSV, deferrable wait) or the v11 list, into bol.offers and bol.offer_snapshots."""
