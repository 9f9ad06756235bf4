"""The shipments stream: bol's shipments (FBR and FBB), their items and transport."""
