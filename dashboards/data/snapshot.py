"""Opening a published snapshot read-only, and asking it which tables and columns it has.

Each open is a fresh in-memory DuckDB that ATTACHes the snapshot file READ_ONLY: DuckDB's
per-process instance cache never hands back a database whose file was since replaced, so a new
snapshot (swapped in by ``pipelines.warehouse.snapshot``) shows on the next request.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

ALIAS = "snap"


class SnapshotUnavailable(RuntimeError):
    """The snapshot file does not exist (nothing published yet) or cannot be opened."""


class MissingData(LookupError):
    """A table or column that a view needs is not in this snapshot."""


@dataclass(frozen=True)
class SnapshotInfo:
    taken_at: dt.datetime | None
    source_warehouse: str | None
    tables: dict[str, int]

    def taken_at_text(self) -> str:
        if self.taken_at is None:
            return "unknown (no snapshot_info table)"
        t = self.taken_at
        if t.tzinfo is not None:
            t = t.astimezone(dt.UTC)
        return t.strftime("%Y-%m-%d %H:%M:%S UTC")


class Snapshot:
    """A read-only view of one published snapshot.

    ``identity`` names the file that was opened (path, size, modification time, inode), so that
    what is derived from it can be cached across requests until a new snapshot is swapped in;
    ``memo`` keeps what one open has already worked out (the checks ``dashboards.data`` makes)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, identity: tuple | None = None):
        self.con = con
        self.path = path
        self.identity = identity
        self.memo: dict = {}
        rows = con.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_catalog = ? and table_schema = 'main' order by table_name, ordinal_position",
            [ALIAS],
        ).fetchall()
        self._columns: dict[str, list[str]] = {}
        for table, column in rows:
            self._columns.setdefault(table, []).append(column)

    def has(self, table: str, *columns: str) -> bool:
        present = self._columns.get(table)
        return present is not None and all(c in present for c in columns)

    def columns(self, table: str) -> list[str]:
        return list(self._columns.get(table, []))

    def require(self, table: str, *columns: str) -> None:
        if table not in self._columns:
            raise MissingData(f"table {table} is not in this snapshot")
        missing = [c for c in columns if c not in self._columns[table]]
        if missing:
            raise MissingData(f"table {table} has no column {', '.join(missing)} in this snapshot")

    def col(self, table: str, alias: str, column: str, sql_type: str = "varchar") -> str:
        """``alias."column"`` when the table has it, else a typed NULL (tolerates older snapshots)."""
        if self.has(table, column):
            return f'{alias}."{column}"'
        return f"cast(null as {sql_type})"

    def frame(self, query: str, params: dict | None = None) -> pl.DataFrame:
        return self.con.sql(query, params=params).pl()

    def rows(self, query: str, params: list | None = None) -> list[tuple]:
        return self.con.execute(query, params or []).fetchall()

    def info(self) -> SnapshotInfo:
        if not self.has("snapshot_info", "taken_at"):
            return SnapshotInfo(None, None, {})
        rows = self.rows(
            "select taken_at, source_warehouse, table_name, row_count from snapshot_info order by table_name"
        )
        if not rows:
            return SnapshotInfo(None, None, {})
        return SnapshotInfo(rows[0][0], rows[0][1], {r[2]: r[3] for r in rows})

    def close(self) -> None:
        self.con.close()


def file_identity(path: Path) -> tuple | None:
    """(path, size, modification time, inode) of a file, None when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (str(Path(path).resolve()), st.st_size, st.st_mtime_ns, st.st_ino)


def attach_read_only(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    quoted = "'" + str(path).replace("'", "''") + "'"
    con.execute(f"attach {quoted} as {ALIAS} (read_only)")
    con.execute(f"use {ALIAS}")


def open_snapshot(path: Path) -> Snapshot:
    path = Path(path)
    if not path.is_file():
        raise SnapshotUnavailable(f"no snapshot has been published at {path} yet")
    con = duckdb.connect(":memory:")
    try:
        before = file_identity(path)
        attach_read_only(con, path)
        # a snapshot swapped in while this one was being attached has no identity: nothing cached is reused
        identity = before if before is not None and file_identity(path) == before else None
    except duckdb.Error as exc:
        con.close()
        raise SnapshotUnavailable(f"the snapshot at {path} cannot be opened: {exc}") from exc
    return Snapshot(con, path, identity)


@contextmanager
def reading(path: Path) -> Iterator[Snapshot]:
    snap = open_snapshot(path)
    try:
        yield snap
    finally:
        snap.close()
