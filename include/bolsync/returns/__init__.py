"""The returns stream: bol's returns (FBR and FBB, handled and unhandled), their items and processing results."""
