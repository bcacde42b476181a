"""Publishing a read-only snapshot of the warehouse for the report and the dashboard.

DuckDB allows one read-write process or many read-only ones, never both, so the dashboard never
opens the live warehouse: it reads a copy that this module writes next to the target and swaps in
with ``os.replace`` (atomic on one filesystem). A dashboard request that already opened the old
snapshot keeps reading it; the next request sees the new one.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from pathlib import Path

import duckdb

SNAPSHOT_ALIAS = "unitreview_snapshot"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def publish_snapshot(con: duckdb.DuckDBPyConnection, snapshot_path: Path) -> dict:
    """Copy every table (and view) of ``con``'s current database into a new DuckDB file beside
    ``snapshot_path``, add a ``snapshot_info`` table (taken_at UTC, source warehouse, table_name,
    row_count: one row per copied table), close it and ``os.replace`` it onto ``snapshot_path``.

    Call it outside an open transaction. Returns ``{"snapshot_path", "taken_at", "source_warehouse",
    "tables": {table: rows}}``.
    """
    snapshot_path = Path(snapshot_path).resolve()
    snapshot_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = snapshot_path.with_name(f".{snapshot_path.name}.{uuid.uuid4().hex}.tmp")
    source_db, source_path = con.execute(
        "select database_name, path from duckdb_databases() where database_name = current_database()"
    ).fetchone()
    taken_at = dt.datetime.now(dt.UTC)
    tables = [
        r[0]
        for r in con.execute(
            "select table_name from duckdb_tables() where database_name = current_database() "
            "and schema_name = 'main' and table_name <> 'snapshot_info' order by table_name"
        ).fetchall()
    ]
    counts = {t: con.execute(f"select count(*) from {_quote(t)}").fetchone()[0] for t in tables}

    if source_path and Path(source_path).is_file():
        _copy_file(con, Path(source_path), tmp)
    else:  # an in-memory warehouse: copy table by table
        _copy_database(con, source_db, tmp)
    try:
        with duckdb.connect(str(tmp)) as snap:
            snap.execute("drop table if exists snapshot_info")
            snap.execute(
                "create table snapshot_info (taken_at timestamptz not null, "
                "source_warehouse varchar, table_name varchar not null, row_count bigint not null)"
            )
            info_rows = [(taken_at, source_path, t, n) for t, n in counts.items()] or [
                (taken_at, source_path, "(none)", 0)
            ]
            snap.executemany("insert into snapshot_info values (?, ?, ?, ?)", info_rows)
            snap.execute("checkpoint")
    except BaseException:
        _remove(tmp)
        raise

    try:
        _fsync(tmp)
        os.replace(tmp, snapshot_path)
    except BaseException:
        _remove(tmp)
        raise
    finally:
        _remove(Path(str(tmp) + ".wal"))
    return {
        "snapshot_path": str(snapshot_path),
        "taken_at": taken_at,
        "source_warehouse": source_path,
        "tables": counts,
    }


def _copy_file(con: duckdb.DuckDBPyConnection, source: Path, tmp: Path) -> None:
    """A byte copy of the warehouse file: after a checkpoint, with this connection the only writer
    and no transaction open, the file holds the whole database (the fast path: no re-encoding)."""
    con.execute("force checkpoint")
    try:
        shutil.copyfile(source, tmp)
    except BaseException:
        _remove(tmp)
        raise


def _copy_database(con: duckdb.DuckDBPyConnection, source_db: str, tmp: Path) -> None:
    con.execute(f"attach {_literal(str(tmp))} as {SNAPSHOT_ALIAS}")
    try:
        con.execute(f"copy from database {_quote(source_db)} to {SNAPSHOT_ALIAS}")
        con.execute(f"checkpoint {SNAPSHOT_ALIAS}")
    except BaseException:
        con.execute(f"detach {SNAPSHOT_ALIAS}")
        _remove(tmp)
        raise
    con.execute(f"detach {SNAPSHOT_ALIAS}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
