"""Thin Dagster wrappers, one module per stage, calling ingest/, rules/ and scores/."""
