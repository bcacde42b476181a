"""The ingest log: which files were read, their rows and quarantine written with their log entry."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from pipelines.ingest.extract import FileResult
from pipelines.warehouse import writes
from pipelines.warehouse.schema import quote_identifier, table_columns, transaction


def known_file(con: duckdb.DuckDBPyConnection, source_file: str, sha256: str) -> bool:
    """True when this very file (same name, same content) was read before: nothing to do again."""
    rows = con.execute(
        "select count(*) from ingest_log where source_file = ? and sha256 = ?", [source_file, sha256]
    ).fetchall()
    return rows[0][0] > 0


def loaded_as(con: duckdb.DuckDBPyConnection, sha256: str) -> str | None:
    """The earlier file whose lines were loaded with this same content, if any."""
    rows = con.execute(
        "select source_file from ingest_log where sha256 = ? and status = 'loaded' "
        "order by ingested_at limit 1",
        [sha256],
    ).fetchall()
    return rows[0][0] if rows else None


def existing_keys(con: duckdb.DuckDBPyConnection):
    """A lookup of (claim_id, line_number) keys already in claim_lines, for the ingest step."""

    def lookup(keys: pl.DataFrame) -> pl.DataFrame:
        con.register("incoming_keys", keys)
        try:
            return con.sql(
                "select k.claim_id, k.line_number from incoming_keys k "
                "semi join claim_lines c on c.claim_id = k.claim_id and c.line_number = k.line_number"
            ).pl()
        finally:
            con.unregister("incoming_keys")

    return lookup


def logged_file_stats(con: duckdb.DuckDBPyConnection) -> dict[str, dict[tuple[int, int], str]]:
    """Per source file: (size, modification time in ns) -> SHA-256, from the ingest log."""
    stats: dict[str, dict[tuple[int, int], str]] = {}
    rows = con.execute(
        "select source_file, file_bytes, file_mtime_ns, sha256 from ingest_log "
        "where file_mtime_ns is not null and file_bytes is not null"
    ).fetchall()
    for name, size, mtime_ns, sha256 in rows:
        stats.setdefault(name, {})[(size, mtime_ns)] = sha256
    return stats


def note_file_stat(con: duckdb.DuckDBPyConnection, source_file: str, sha256: str, file_bytes: int, file_mtime_ns: int) -> None:
    """Keep the size and modification time a logged file was last seen with, with this content: the
    next review then need not read it (``logged_file_stats``)."""
    con.execute(
        "update ingest_log set file_mtime_ns = ? where source_file = ? and sha256 = ? and file_bytes = ?",
        [file_mtime_ns, source_file, sha256, file_bytes],
    )


def write_file_result(
    con: duckdb.DuckDBPyConnection, result: FileResult, run_id: str | None, file_mtime_ns: int | None = None
) -> None:
    """Lines, quarantine and the ingest-log entry of one file, in one transaction: a file is
    marked read only together with its rows."""
    now = dt.datetime.now(dt.UTC)
    log = pl.DataFrame(
        [{**result.log_row(), "run_id": run_id, "ingested_at": now, "file_mtime_ns": file_mtime_ns}]
    ).with_columns(pl.col("ingested_at").cast(pl.Datetime("us", "UTC")), pl.col("file_mtime_ns").cast(pl.Int64))
    with transaction(con):
        if result.lines.height:
            # DuckDB's column names ignore case: "Memo" from one file and "memo" from another are one column
            present = {c.lower() for c in table_columns(con, "claim_lines")}
            for column in result.lines.columns:
                if column.lower() not in present:  # a column beyond the contract, carried as text
                    con.execute(f"alter table claim_lines add column {quote_identifier(column)} varchar")
            writes.insert_rows(con, "claim_lines", result.lines)
        if result.quarantine.height:
            writes.insert_rows(con, "quarantine", result.quarantine)
        writes.insert_rows(con, "ingest_log", log)


def write_duplicate_delivery(
    con: duckdb.DuckDBPyConnection,
    source_file: str,
    sha256: str,
    file_format: str | None,
    file_bytes: int,
    earlier: str,
    run_id: str | None,
    file_mtime_ns: int | None = None,
) -> None:
    """A redelivered file (same SHA-256 as one already loaded) is logged, not loaded twice."""
    con.execute(
        "insert into ingest_log (source_file, sha256, file_format, file_bytes, rows_read, "
        "rows_loaded, rows_quarantined, status, reason, run_id, ingested_at, file_mtime_ns) "
        "values (?, ?, ?, ?, 0, 0, 0, 'duplicate', ?, ?, now(), ?)",
        [source_file, sha256, file_format, file_bytes, f"same content as {earlier}, already loaded", run_id, file_mtime_ns],
    )
