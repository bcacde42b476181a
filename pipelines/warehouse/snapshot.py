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

from pipelines.warehouse.schema import quote_identifier

SNAPSHOT_ALIAS = "unitreview_snapshot"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def publish_snapshot(con: duckdb.DuckDBPyConnection, snapshot_path: Path) -> dict:
    """Copy every table (and view) of ``con``'s current database into a new DuckDB file beside
    ``snapshot_path``, add a ``snapshot_info`` table (taken_at UTC, source warehouse, table_name,
    row_count: one row per copied table), close it and ``os.replace`` it onto ``snapshot_path``.

    Call it outside an open transaction. Returns ``{"snapshot_path", "taken_at", "source_warehouse",
    "tables": {table: rows}}``.
    """
    snapshot = take_snapshot(con, snapshot_path)
    if snapshot["source_file"] is not None:
        return copy_snapshot(snapshot)
    return copy_database_snapshot(con, snapshot)


def take_snapshot(con: duckdb.DuckDBPyConnection, snapshot_path: Path) -> dict:
    """What the snapshot will hold: its tables and row counts, taken_at, and ``source_file``, the
    warehouse file (None for an in-memory warehouse). For a file, after a checkpoint that leaves the
    whole database in it: close ``con`` (and open no writer) and ``copy_snapshot``; readers may read
    the file meanwhile. For an in-memory warehouse, ``copy_database_snapshot`` with ``con``."""
    snapshot_path = Path(snapshot_path).resolve()
    snapshot_path.parent.mkdir(parents=True, exist_ok=True)
    source_db, source_path = con.execute(
        "select database_name, path from duckdb_databases() where database_name = current_database()"
    ).fetchone()
    tables = [
        r[0]
        for r in con.execute(
            "select table_name from duckdb_tables() where database_name = current_database() "
            "and schema_name = 'main' and table_name <> 'snapshot_info' order by table_name"
        ).fetchall()
    ]
    source_file = Path(source_path) if source_path and Path(source_path).is_file() else None
    if source_file is not None:
        con.execute("force checkpoint")
    return {
        "snapshot_path": str(snapshot_path),
        "taken_at": dt.datetime.now(dt.UTC),
        "source_warehouse": source_path,
        "tables": {t: con.execute(f"select count(*) from {quote_identifier(t)}").fetchone()[0] for t in tables},
        "source_db": source_db,
        "source_file": source_file,
    }


def copy_snapshot(snapshot: dict) -> dict:
    """The byte copy of a checkpointed warehouse file that no one writes (``take_snapshot``), with
    its snapshot_info, swapped in atomically. Returns what ``publish_snapshot`` returns."""
    tmp = _tmp_beside(snapshot)
    try:
        shutil.copyfile(snapshot["source_file"], tmp)
    except BaseException:
        _remove(tmp)
        raise
    return _finish(tmp, snapshot)


def copy_database_snapshot(con: duckdb.DuckDBPyConnection, snapshot: dict) -> dict:
    """An in-memory warehouse's snapshot, copied table by table through ``con``."""
    tmp = _tmp_beside(snapshot)
    _copy_database(con, snapshot["source_db"], tmp)
    return _finish(tmp, snapshot)


def _tmp_beside(snapshot: dict) -> Path:
    target = Path(snapshot["snapshot_path"])
    return target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")


def _finish(tmp: Path, snapshot: dict) -> dict:
    """Add snapshot_info to the copy, checkpoint, fsync and swap it in."""
    taken_at, source_path, counts = snapshot["taken_at"], snapshot["source_warehouse"], snapshot["tables"]
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
        os.replace(tmp, snapshot["snapshot_path"])
    except BaseException:
        _remove(tmp)
        raise
    finally:
        _remove(Path(str(tmp) + ".wal"))
    return {k: v for k, v in snapshot.items() if k not in ("source_db", "source_file")}


def _copy_database(con: duckdb.DuckDBPyConnection, source_db: str, tmp: Path) -> None:
    con.execute(f"attach {_literal(str(tmp))} as {SNAPSHOT_ALIAS}")
    try:
        con.execute(f"copy from database {quote_identifier(source_db)} to {SNAPSHOT_ALIAS}")
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
