"""The warehouse by service month: which months the rules must recompute, and one month's rows.

Every rule's grain lies within one service month, so the rules and scores read, stage and replace
the warehouse a month at a time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import duckdb
import polars as pl

from pipelines.warehouse.schema import quote_identifier, table_columns


def rules_state(con: duckdb.DuckDBPyConnection) -> tuple[dt.datetime | None, str | None, str | None]:
    """(claim lines ingested up to here are covered, the configuration they were computed with, the
    fingerprint of what their line units read of it; None where not recorded)."""
    rows = con.execute("select computed_through, config_hash, units_hash from rules_state where id = 1").fetchall()
    return rows[0] if rows else (None, None, None)


def months_to_recompute(con: duckdb.DuckDBPyConnection, since: dt.datetime) -> list[dt.date]:
    """Service months holding lines ingested after ``since``, or sharing a claim with them (a claim's
    diagnoses are read across all its lines). Every rule's grain lies within one service month."""
    # the touched claims' id range as constants lets zone maps skip older months' row groups (ids are issued in order)
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


def derived_months(con: duckdb.DuckDBPyConnection) -> list[dt.date]:
    """Every service month of the loaded lines."""
    rows = con.execute(
        "select distinct date_trunc('month', service_date)::date from claim_lines order by 1"
    ).fetchall()
    return [r[0] for r in rows]


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
