"""The sampling frame of a provider and the detail of sampled beneficiary-days, read from a DuckDB
connection: the live warehouse (command line) or a published snapshot (dashboard, read-only).

A *beneficiary-day* is one patient on one service date with every claim line the therapist
(``rendering_npi``) billed for that patient that day. Its *examined amount* is the sum over those
lines of the paid amount, else the allowed amount, else the charge (per line, the first that is
filled; a line with none counts 0 and is reported). Values always travel as parameters; registered
frames carry the sampled keys.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from pipelines.warehouse.schema import table_columns

AMOUNT_COLUMNS = ("paid_amount", "allowed_amount", "charge_amount")
AMOUNT_RULE = "per line: paid_amount, else allowed_amount, else charge_amount (0 when none is filled)"
FRAME_ORDER = ("service_date", "patient_id")


def _col(present: list[str], alias: str, name: str, sql_type: str) -> str:
    return f'{alias}."{name}"' if name in present else f"cast(null as {sql_type})"


def _amounts(present: list[str], alias: str = "cl") -> tuple[str, str, str]:
    paid, allowed, charge = (_col(present, alias, c, "double") for c in AMOUNT_COLUMNS)
    return paid, allowed, charge


def _basis_sql(paid: str, allowed: str, charge: str) -> str:
    return (
        f"case when {paid} is not null then 'paid' when {allowed} is not null then 'allowed' "
        f"when {charge} is not null then 'charge' else 'none' end"
    )


def beneficiary_days(
    con: duckdb.DuckDBPyConnection, npi: str, start: dt.date | None = None, end: dt.date | None = None
) -> pl.DataFrame:
    """The frame: one row per beneficiary-day of ``npi`` with service_date in [start, end] (either
    open), sorted by (service_date, patient_id). Columns: patient_id, service_date, lines,
    examined_amount (rounded to cents), amount_basis ('paid', 'paid+allowed', ...), and the count of
    lines per basis (lines_paid, lines_allowed, lines_charge, lines_none)."""
    present = table_columns(con, "claim_lines")
    for needed in ("patient_id", "service_date", "rendering_npi", "claim_id", "line_number"):
        if needed not in present:
            raise LookupError(f"claim_lines has no column {needed}")
    paid, allowed, charge = _amounts(present)
    basis = _basis_sql(paid, allowed, charge)
    frame = con.sql(
        f"""
        with l as (
            select cl.patient_id, cl.service_date, coalesce({paid}, {allowed}, {charge}, 0) as amount, {basis} as basis
            from claim_lines cl
            where cl.rendering_npi = $npi and ($start is null or cl.service_date >= $start)
              and ($end is null or cl.service_date <= $end)
        )
        select patient_id, service_date, count(*)::bigint as lines, round(sum(amount), 2)::double as examined_amount,
               count(*) filter (where basis = 'paid')::bigint as lines_paid,
               count(*) filter (where basis = 'allowed')::bigint as lines_allowed,
               count(*) filter (where basis = 'charge')::bigint as lines_charge,
               count(*) filter (where basis = 'none')::bigint as lines_none
        from l group by patient_id, service_date
        """,
        params={"npi": npi, "start": start, "end": end},
    ).pl()
    frame = frame.with_columns(
        pl.concat_str(
            [pl.when(pl.col(f"lines_{b}") > 0).then(pl.lit(b)) for b in ("paid", "allowed", "charge", "none")],
            separator="+",
            ignore_nulls=True,
        ).alias("amount_basis")
    )
    return frame.sort(list(FRAME_ORDER))


def _register(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame):
    con.register(name, frame)
    return name


def item_lines(con: duckdb.DuckDBPyConnection, npi: str, items: pl.DataFrame) -> pl.DataFrame:
    """Every claim line of the sampled beneficiary-days (``items``: sample_item, patient_id,
    service_date) with minutes, billed and expected units (``line_units``) and the amounts."""
    present = table_columns(con, "claim_lines")
    lu_present = table_columns(con, "line_units")
    have_lu = {"claim_id", "line_number"} <= set(lu_present)
    c = lambda name, t="varchar": _col(present, "cl", name, t)
    u = lambda name, t="varchar": _col(lu_present, "lu", name, t) if have_lu else f"cast(null as {t})"
    paid, allowed, charge = _amounts(present)
    join = (
        " left join line_units lu on lu.claim_id = cl.claim_id and lu.line_number = cl.line_number" if have_lu else ""
    )
    keys = items.select("sample_item", "patient_id", "service_date")
    name = _register(con, "audit_sampled_items", keys)
    try:
        return con.sql(
            f"""
            select s.sample_item, cl.patient_id, cl.service_date, cl.claim_id, cl.line_number, cl.cpt_code,
                   {c("modifiers")} as modifiers, {c("minutes", "bigint")} as minutes,
                   {c("total_timed_minutes", "bigint")} as total_timed_minutes, cl.units_billed,
                   {u("is_timed", "boolean")} as is_timed, {u("method")} as method,
                   {u("expected_units", "double")} as expected_units, {u("expected_units_min", "double")} as expected_units_min,
                   {u("expected_units_max", "double")} as expected_units_max, {u("expected_basis")} as expected_basis,
                   {c("diagnosis_codes")} as diagnosis_codes, {c("payer_type")} as payer_type, {c("payer_name")} as payer_name,
                   {paid} as paid_amount, {allowed} as allowed_amount, {charge} as charge_amount,
                   coalesce({paid}, {allowed}, {charge}, 0)::double as examined_amount,
                   {_basis_sql(paid, allowed, charge)} as amount_basis
            from claim_lines cl
            join {name} s on s.patient_id = cl.patient_id and s.service_date = cl.service_date
            {join}
            where cl.rendering_npi = $npi
            order by s.sample_item, cl.claim_id, cl.line_number
            """,
            params={"npi": npi},
        ).pl()
    finally:
        con.unregister(name)


GRAIN_LINE, GRAIN_PATIENT_DAY, GRAIN_THERAPIST_DAY = "line", "patient-day", "therapist-day"


def item_findings(con: duckdb.DuckDBPyConnection, npi: str, items: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """The findings of the sampled beneficiary-days: those of their lines (line grain), those of the
    patient-day (this therapist's, or naming no therapist: daily limit, duplicate), and the
    therapist-day findings of this therapist that date (shared with the therapist's other patients
    that day, so never counted in ``amount_at_risk`` of one beneficiary-day)."""
    present = table_columns(con, "findings")
    empty = pl.DataFrame(
        schema={
            "sample_item": pl.Int64,
            "grain": pl.String,
            "rule_id": pl.String,
            "severity": pl.String,
            "claim_id": pl.String,
            "line_number": pl.Int64,
            "units_over": pl.Float64,
            "amount_at_risk": pl.Float64,
            "detail": pl.String,
        }
    )
    if "rule_id" not in present or "service_date" not in present or items.height == 0:
        return empty
    f = lambda name, t="varchar": _col(present, "f", name, t)
    select = (
        f"f.rule_id, {f('severity')} as severity, {f('claim_id')} as claim_id, {f('line_number', 'bigint')} as line_number, "
        f"{f('units_over', 'double')} as units_over, {f('amount_at_risk', 'double')} as amount_at_risk, {f('detail')} as detail"
    )
    keys = items.select("sample_item", "patient_id", "service_date")
    line_keys = lines.select("sample_item", "claim_id", "line_number")
    con.register("audit_sampled_items", keys)
    con.register("audit_sampled_lines", line_keys)
    try:
        parts = []
        if {"claim_id", "line_number"} <= set(present):
            parts.append(
                f"select l.sample_item, '{GRAIN_LINE}' as grain, {select} from findings f "
                "join audit_sampled_lines l on l.claim_id = f.claim_id and l.line_number = f.line_number"
            )
        no_line = f"{f('claim_id')} is null"
        if "patient_id" in present:
            npi_ok = f"({f('rendering_npi')} = $npi or {f('rendering_npi')} is null)"
            parts.append(
                f"select s.sample_item, '{GRAIN_PATIENT_DAY}' as grain, {select} from findings f "
                f"join audit_sampled_items s on s.patient_id = f.patient_id and s.service_date = f.service_date "
                f"where {no_line} and {npi_ok}"
            )
            therapist_day = f"{no_line} and f.patient_id is null and {f('rendering_npi')} = $npi"
        else:
            therapist_day = f"{no_line} and {f('rendering_npi')} = $npi"
        parts.append(
            f"select s.sample_item, '{GRAIN_THERAPIST_DAY}' as grain, {select} from findings f "
            f"join audit_sampled_items s on s.service_date = f.service_date where {therapist_day}"
        )
        frame = con.sql(
            " union all ".join(parts) + " order by sample_item, grain, rule_id, claim_id, line_number",
            params={"npi": npi},
        ).pl()
    finally:
        con.unregister("audit_sampled_items")
        con.unregister("audit_sampled_lines")
    return frame.cast({c: t for c, t in empty.schema.items() if c in frame.columns})
