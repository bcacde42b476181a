"""The DuckDB warehouse: its tables and SQL helpers (schema), atomic writes (writes), the ingest log,
reads and state by service month (by_month), scoring's stored pieces, and the published snapshot."""
