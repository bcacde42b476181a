"""Ingestion: read an extract, match its headers, validate every row, split loaded from quarantined."""
