"""The DuckDB warehouse: table DDL from ``sql/``, and the writes that must be atomic.

Values always travel as parameters or registered frames; the only names spliced into SQL are column
identifiers, quoted by ``quote_identifier``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from pipelines.ingest.extract import FileResult

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


def quote_identifier(name: str) -> str:
    """A column name as a DuckDB identifier, whatever characters it holds."""
    return '"' + name.replace('"', '""') + '"'


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table and view of ``sql/`` that does not exist yet (files run in name order)."""
    for script in sorted(SQL_DIR.glob("*.sql")):
        con.execute(script.read_text())


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_name = ? "
        "order by ordinal_position",
        [table],
    ).fetchall()
    return [r[0] for r in rows]


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
    con.execute("begin transaction")
    try:
        if result.lines.height:
            # DuckDB's column names ignore case: "Memo" from one file and "memo" from another are one column
            present = {c.lower() for c in table_columns(con, "claim_lines")}
            for column in result.lines.columns:
                if column.lower() not in present:  # a column beyond the contract, carried as text
                    con.execute(f"alter table claim_lines add column {quote_identifier(column)} varchar")
            _insert(con, "claim_lines", result.lines)
        if result.quarantine.height:
            _insert(con, "quarantine", result.quarantine)
        _insert(con, "ingest_log", log)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


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


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """Append a frame's rows to a table by column name."""
    _insert(con, table, frame)


def rules_state(con: duckdb.DuckDBPyConnection) -> tuple[dt.datetime | None, str | None, str | None]:
    """(claim lines ingested up to here are covered, the configuration they were computed with, the
    fingerprint of what their line units read of it; None where not recorded)."""
    rows = con.execute("select computed_through, config_hash, units_hash from rules_state where id = 1").fetchall()
    return rows[0] if rows else (None, None, None)


def months_to_recompute(con: duckdb.DuckDBPyConnection, since: dt.datetime) -> list[dt.date]:
    """Service months holding lines ingested after ``since``, or sharing a claim with them (a claim's
    diagnoses are read across all its lines). Every rule's grain lies within one service month."""
    # the touched claims' id range, as constants, lets zone maps skip the row groups outside it (ids
    # issued in order: an older month's lines go unread, 0.33 s -> 0.11 s for a 10M-line warehouse)
    lo, hi = con.execute("select min(claim_id), max(claim_id) from claim_lines where ingested_at > ?", [since]).fetchall()[0]
    if lo is None:
        return []
    rows = con.execute(
        "with touched as (select distinct claim_id from claim_lines where ingested_at > $since) "
        "select distinct date_trunc('month', c.service_date)::date from claim_lines c "
        "semi join touched t on t.claim_id = c.claim_id where c.claim_id between $lo and $hi order by 1",
        {"since": since, "lo": lo, "hi": hi},
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


def derived_months(con: duckdb.DuckDBPyConnection) -> list[dt.date]:
    """Every service month of the loaded lines."""
    rows = con.execute(
        "select distinct date_trunc('month', service_date)::date from claim_lines order by 1"
    ).fetchall()
    return [r[0] for r in rows]


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


def mark_claims_across_months(con: duckdb.DuckDBPyConnection, months: list[dt.date] | None = None) -> None:
    """Note, in the connection's temporary table ``months_of_spanning_claims`` (claim_id, month), the
    service months of every claim whose lines fall in more than one month (few or none): what
    ``read_month_lines`` adds to a month besides the month's own lines. With ``months``, only claims
    with a line from the first to the last of them are looked at (a month added: one month's claims)."""
    looked_at, in_range, params = "", "true", {}
    if months is not None:
        params = {"first": min(months, default=dt.date.min), "last": max(months, default=dt.date.min)}
        looked_at = (
            "and claim_id in (select claim_id from claim_lines"
            "  where service_date >= $first and service_date < $last + interval 1 month)"
        )
        # those claims' id range, as constants: zone maps skip the row groups outside it (see
        # months_to_recompute)
        params["lo"], params["hi"] = con.execute(
            "select min(claim_id), max(claim_id) from claim_lines"
            " where service_date >= $first and service_date < $last + interval 1 month",
            params,
        ).fetchall()[0]
        in_range = "claim_id between $lo and $hi"
    con.execute(
        "create or replace temp table months_of_spanning_claims as "
        "select distinct claim_id, date_trunc('month', service_date)::date as month from claim_lines "
        f"where {in_range} and claim_id in (select claim_id from claim_lines where {in_range} {looked_at}"
        "  group by claim_id"
        "  having min(date_trunc('month', service_date)) <> max(date_trunc('month', service_date)))",
        params,
    )


def _in_month(alias: str) -> str:
    """The rows of alias' table in the service month ``$month`` (a range of dates, for zone maps)."""
    return f"{alias}.service_date >= $month and {alias}.service_date < $month + interval 1 month"


def read_month_lines(
    con: duckdb.DuckDBPyConnection, columns: list[str], month: dt.date, table: str = "claim_lines"
) -> pl.DataFrame:
    """A service month's lines, with every other line of their claims (a claim's diagnoses are
    read across all its lines); the caller keeps only the month's results. Call
    ``mark_claims_across_months`` first on the same connection: the month's own lines are then one range
    of service dates, and the other months are read only for the claims that span them. ``table``:
    ``line_units`` reads the stored units of the same lines."""
    selected = ", ".join(quote_identifier(c) for c in columns)
    source = quote_identifier(table)
    in_month = _in_month(source)
    own = con.sql(f"select {selected} from {source} where {in_month}", params={"month": month}).pl()
    if not con.execute("select count(*) from months_of_spanning_claims where month = ?", [month]).fetchall()[0][0]:
        return own
    others = con.sql(
        f"select {selected} from {source} where not ({in_month}) and claim_id in"
        " (select claim_id from months_of_spanning_claims where month = $month)",
        params={"month": month},
    ).pl()
    return pl.concat([own, others], how="vertical")


def stamp_rules_months(con: duckdb.DuckDBPyConnection, months: list[dt.date], everything: bool) -> None:
    """Record in ``rules_months`` that the rules recomputed these months now (``everything``: these
    are all the months there are). Call inside the transaction that publishes them."""
    if everything:
        con.execute("delete from rules_months")
    con.execute(
        "insert or replace into rules_months (service_month, computed_at) "
        "select unnest($months::date[]), now()",
        {"months": months},
    )


def set_rules_state(
    con: duckdb.DuckDBPyConnection, computed_through: dt.datetime | None, config_hash: str, units_hash: str
) -> None:
    con.execute(
        "insert or replace into rules_state (id, computed_through, config_hash, units_hash) values (1, ?, ?, ?)",
        [computed_through, config_hash, units_hash],
    )


def replace_tables(con: duckdb.DuckDBPyConnection, frames: dict[str, pl.DataFrame]) -> None:
    """Replace the rows of several derived tables in one transaction: a reader (or a crash) sees all
    of the old rows or all of the new ones, never one table new and another old. A table's DDL, when
    ``sql/`` has one, is kept; a table that does not exist yet is created from its frame."""
    con.execute("begin transaction")
    try:
        for table, frame in frames.items():
            exists = con.execute(
                "select count(*) from information_schema.tables where table_name = ?", [table]
            ).fetchall()[0][0]
            if exists:
                con.execute(f"delete from {quote_identifier(table)}")
                _insert(con, table, frame)
            else:
                con.register("incoming", frame)
                try:
                    con.execute(f"create table {quote_identifier(table)} as select * from incoming")
                finally:
                    con.unregister("incoming")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    con.register("incoming", frame)
    try:
        con.execute(f"insert into {quote_identifier(table)} by name select * from incoming")
    finally:
        con.unregister("incoming")


def scored_months(con: duckdb.DuckDBPyConnection) -> list[dt.date]:
    """Every service month of line_units and findings: the months scoring reads one at a time."""
    rows = con.execute(
        "select date_trunc('month', service_date)::date from line_units"
        " union select date_trunc('month', service_date)::date from findings order by 1"
    ).fetchall()
    return [r[0] for r in rows]


def month_units_with_line_columns(
    con: duckdb.DuckDBPyConnection,
    month: dt.date,
    unit_columns: list[str],
    line_columns: list[str],
    batch_rows: int = 1_000_000,
) -> Iterator[pl.DataFrame]:
    """line_units' given columns (those it has) of one service month, with some claim_lines columns
    of the same line, joined in DuckDB while reading, in frames of up to ``batch_rows`` rows. The
    claim lines are read from the same month (a line unit's service date is its claim line's), so
    the join's hash table holds one month of lines."""
    present = set(table_columns(con, "line_units"))
    units = [c for c in dict.fromkeys(unit_columns) if c in present]
    lines = [c for c in dict.fromkeys(line_columns) if c not in units]
    selected = ", ".join([f"u.{quote_identifier(c)}" for c in units] + [f"c.{quote_identifier(c)}" for c in lines])
    line_side = ", ".join(["c.claim_id", "c.line_number"] + [f"c.{quote_identifier(c)}" for c in lines])
    reader = con.sql(
        f"select {selected} from line_units u left join"
        f" (select {line_side} from claim_lines c where {_in_month('c')}) c"
        f" on c.claim_id = u.claim_id and c.line_number = u.line_number where {_in_month('u')}",
        params={"month": month},
    ).to_arrow_reader(batch_rows)
    empty = True
    for batch in reader:
        empty = False
        yield pl.from_arrow(batch)
    if empty:  # no line units that month: one empty frame with the columns
        yield pl.from_arrow(reader.schema.empty_table())


def read_month_columns(
    con: duckdb.DuckDBPyConnection, table: str, columns: list[str], month: dt.date
) -> pl.DataFrame:
    """Some columns of a table (those it has), of its rows of one service month."""
    present = set(table_columns(con, table))
    chosen = ", ".join(quote_identifier(c) for c in dict.fromkeys(columns) if c in present)
    return con.sql(
        f"select {chosen} from {quote_identifier(table)} t where {_in_month('t')}", params={"month": month}
    ).pl()
