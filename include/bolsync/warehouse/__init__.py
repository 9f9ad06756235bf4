"""The warehouse: DuckDB by default (single writer, guarded by a file lock)."""
