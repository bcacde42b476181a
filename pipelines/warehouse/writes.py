"""Writes of derived tables that must be atomic: rows appended, tables replaced whole, and results
staged piece by piece then moved in together.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import polars as pl

from pipelines.warehouse.schema import quote_identifier, table_columns, transaction


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """Append a frame's rows to a table by column name."""
    _insert(con, table, frame)


STAGED_SUFFIX = "__staged"


@contextmanager
def staged(con: duckdb.DuckDBPyConnection, tables: list[str]) -> Iterator[dict[str, str]]:
    """Empty copies of derived tables (same columns and constraints), named ``<table>__staged``, for
    results written piece by piece and committed as they come (memory stays at one piece: rows of an
    open transaction are held in memory); ``publish_staged`` then moves them in, in one transaction.
    The copies are dropped on the way out, also when the work fails; one left by a killed run is
    replaced."""
    names = {table: table + STAGED_SUFFIX for table in tables}
    try:
        for table, name in names.items():
            (ddl,) = con.execute(
                "select sql from duckdb_tables() where schema_name = 'main' and table_name = ?", [table]
            ).fetchall()[0]
            head = f"CREATE TABLE {table}("
            if not ddl.startswith(head):
                raise RuntimeError(f"unexpected DDL for {table}: {ddl[:60]!r}")
            con.execute(f"drop table if exists {quote_identifier(name)}")
            con.execute(f"CREATE TABLE {quote_identifier(name)}(" + ddl[len(head):])
        yield names
    finally:
        for name in names.values():
            con.execute(f"drop table if exists {quote_identifier(name)}")


def publish_staged(con: duckdb.DuckDBPyConnection, names: dict[str, str], months: list[dt.date] | None) -> None:
    """Move staged rows into their tables: all rows replaced (``months`` None: the staged table takes
    the table's place), or only the given service months' rows. Call inside ``transaction``."""
    for table, name in names.items():
        if months is None:
            con.execute(f"drop table {quote_identifier(table)}")
            con.execute(f"alter table {quote_identifier(name)} rename to {quote_identifier(table)}")
            continue
        delete_months(con, table, months)
        con.execute(f"insert into {quote_identifier(table)} by name select * from {quote_identifier(name)}")


def delete_months(con: duckdb.DuckDBPyConnection, table: str, months: list[dt.date]) -> None:
    """Delete a derived table's rows of these service months."""
    if not months:
        return
    # a table kept per month says so in its service_month column; else its rows' service_date
    keyed = "service_month" in table_columns(con, table)
    month_of = "service_month" if keyed else "date_trunc('month', service_date)::date"
    con.execute(
        f"delete from {quote_identifier(table)} where {month_of} in (select unnest($months::date[]))",
        {"months": months},
    )


def replace_tables(con: duckdb.DuckDBPyConnection, frames: dict[str, pl.DataFrame]) -> None:
    """Replace the rows of several derived tables in one transaction: a reader (or a crash) sees all
    of the old rows or all of the new ones, never one table new and another old. A table's DDL, when
    ``sql/`` has one, is kept; a table that does not exist yet is created from its frame."""
    with transaction(con):
        for table, frame in frames.items():
            if table_columns(con, table):
                con.execute(f"delete from {quote_identifier(table)}")
                _insert(con, table, frame)
            else:
                con.register("incoming", frame)
                try:
                    con.execute(f"create table {quote_identifier(table)} as select * from incoming")
                finally:
                    con.unregister("incoming")


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    con.register("incoming", frame)
    try:
        con.execute(f"insert into {quote_identifier(table)} by name select * from incoming")
    finally:
        con.unregister("incoming")


