"""The request budget of a credential and the shared state (SQLite, Redis, PostgreSQL) that holds it."""
