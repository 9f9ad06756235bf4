-- PostgreSQL keeps its primary keys: concurrent loads rely on them (INSERT ... ON CONFLICT).
-- DuckDB drops their index (see 003_merge_keys.duckdb.sql).
SELECT 1;
