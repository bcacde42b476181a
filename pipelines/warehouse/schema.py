"""The warehouse's tables (DDL from ``sql/``) and the SQL helpers every read and write uses.

Values always travel as parameters or registered frames; the only names spliced into SQL are column
identifiers, quoted by ``quote_identifier``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def quote_identifier(name: str) -> str:
    """A column name as a DuckDB identifier, whatever characters it holds."""
    return '"' + name.replace('"', '""') + '"'


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table and view of ``sql/`` that does not exist yet (files run in name order)."""
    for script in sorted(SQL_DIR.glob("*.sql")):
        con.execute(script.read_text())


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """A table's column names in their order, in the connection's current database and schema (an
    attached database's table of the same name is another table); none when there is no such table."""
    rows = con.execute(
        "select column_name from information_schema.columns where table_name = ? "
        "and table_catalog = current_database() and table_schema = current_schema() order by ordinal_position",
        [table],
    ).fetchall()
    return [r[0] for r in rows]


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Everything inside commits together or not at all."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
