"""The dashboards' fixture warehouse (tests/fixtures_warehouse.py) has the shape of a real review's: the
same tables, each with the same columns of the same types as the review of data_samples/ wrote. A
dashboard test passing on the fixture then says something about a real snapshot."""

from __future__ import annotations

from pathlib import Path

import duckdb

# scoring's per-month cache: columns follow the scoring settings, nothing but scoring reads it
CACHE_PREFIX = "score_piece_"


def tables_and_columns(warehouse: Path) -> dict[str, dict[str, str]]:
    """{table: {column: DuckDB type}} of every table and view of ``warehouse``."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'main' order by table_name, ordinal_position"
        ).fetchall()
    shape: dict[str, dict[str, str]] = {}
    for table, column, kind in rows:
        shape.setdefault(table, {})[column] = kind
    return shape


def test_the_fixture_warehouse_has_the_tables_of_a_real_review(fixture_info, samples_review):
    review = {t for t in tables_and_columns(samples_review) if not t.startswith(CACHE_PREFIX)}
    assert set(tables_and_columns(fixture_info.path)) == review


def test_each_fixture_table_has_the_columns_and_types_of_the_review_table(fixture_info, samples_review):
    fixture, review = tables_and_columns(fixture_info.path), tables_and_columns(samples_review)
    for table in sorted(set(fixture) & set(review)):
        missing = {c: t for c, t in review[table].items() if c not in fixture[table]}
        extra = {c: t for c, t in fixture[table].items() if c not in review[table]}
        retyped = {c: (fixture[table][c], t) for c, t in review[table].items() if fixture[table].get(c, t) != t}
        assert (missing, extra, retyped) == ({}, {}, {}), table
