"""Rules stage: claim_lines -> line_units and findings (pure functions in pipelines/rules), incremental
by service month (the policy: ``pipelines.rules.incremental``)."""

import datetime as dt
from contextlib import ExitStack, nullcontext

import dagster as dg
import duckdb
import polars as pl
from dagster_duckdb import DuckDBResource

from pipelines.assets import progress
from pipelines.resources import ReviewSettings
from pipelines.rules.findings.documentation import (
    RULE_ID as DOCUMENTATION,
)
from pipelines.rules.findings.documentation import (
    coverage_counts_plan,
    coverage_of_counts,
    coverage_row,
    month_of_counts,
)
from pipelines.rules.frame import RULE_COLUMNS
from pipelines.rules.incremental import (
    DERIVED,
    Recompute,
    RulesState,
    WritePlan,
    flush_due,
    how_to_write,
    what_to_recompute,
)
from pipelines.rules.reference import Reference
from pipelines.rules.registry import RULES, findings
from pipelines.rules.settings import RuleSettings
from pipelines.rules.units import LINE_UNITS_SCHEMA, line_units, units_fingerprint
from pipelines.warehouse import by_month, schema, writes


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "line_units",
            deps=["claim_lines"],
            description="Per loaded line: the payer's method, the minutes used and the units they support.",
        ),
        dg.AssetSpec(
            "findings",
            deps=["claim_lines"],
            description="Every finding of the review: rule_id, severity, grain keys, units over, amount at risk, detail.",
        ),
    ],
    group_name="rules",
    pool="warehouse_writes",
)
def review_rules(context: dg.AssetExecutionContext, warehouse_db: DuckDBResource, review: ReviewSettings):
    """Recompute expected units and every finding rule for the service months that changed."""
    config = review.config()
    ref, settings, fingerprint = config.reference(), config.rule_settings(), config.rules_fingerprint()
    units_print = units_fingerprint(ref, settings)
    with warehouse_db.get_connection() as con:
        schema.ensure_schema(con)
        state = _rules_state(con)
        recompute = what_to_recompute(state, fingerprint, units_print)
        months = {
            "all": lambda: by_month.derived_months(con),
            "none": list,
            "touched": lambda: by_month.months_to_recompute(con, state.computed_through),
        }[recompute.months]()
        plan = how_to_write(recompute, len(months))
        with progress.stage("rules", len(months)) as shown:
            stamp = (state.newest_line, fingerprint, units_print)
            units_rows, found_rows = _write_months(con, months, recompute, plan, (ref, settings), shown, stamp)
        if not months:
            context.log.info("no new claim lines since the last rules run: nothing to recompute")
        totals = dict(con.execute("select rule_id, count(*) from findings group by 1").fetchall())
        table_rows = con.execute(
            "select (select count(*) from line_units), (select count(*) from findings)"
        ).fetchall()[0]
    recomputed = [m.isoformat()[:7] for m in months]
    yield dg.MaterializeResult(
        asset_key="line_units",
        metadata={
            "table_rows": table_rows[0],
            "rows_recomputed": units_rows,
            "months_recomputed": dg.MetadataValue.json([] if recompute.keep_units else recomputed),
        },
    )
    yield dg.MaterializeResult(
        asset_key="findings",
        metadata={
            "table_rows": table_rows[1],
            "rows_recomputed": found_rows,
            "months_recomputed": dg.MetadataValue.json(recomputed),
            **{f"findings_{rule_id.lower()}": totals.get(rule_id, 0) for rule_id in RULES},
        },
    )


def _rules_state(con: duckdb.DuckDBPyConnection) -> RulesState:
    computed_through, config_hash, units_hash = by_month.rules_state(con)
    newest_line = con.execute("select max(ingested_at) from claim_lines").fetchall()[0][0]
    per_month = con.execute("select count(*) from rule_coverage_months").fetchall()[0][0] > 0
    return RulesState(computed_through, config_hash, units_hash, per_month, newest_line)


def _month_results(
    con: duckdb.DuckDBPyConnection, month: dt.date, keep_units: bool, ref: Reference, settings: RuleSettings
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """One service month's line units, findings and DOCUMENTATION coverage counts."""
    lines = by_month.read_month_lines(con, RULE_COLUMNS, month).lazy()
    in_month = pl.col("service_date").dt.truncate("1mo") == month
    # the in-memory engine: polars 2.1's streaming engine can panic on a large month's findings
    if keep_units:
        units = by_month.read_month_lines(con, list(LINE_UNITS_SCHEMA), month, "line_units")
    else:
        units = line_units(lines, ref, settings, ordered=False).collect(engine="in-memory")
    # collected together: DOCUMENTATION and the coverage counts share the month's 97112 patient-day sources
    found, counts = pl.collect_all(
        [findings(lines, units.lazy(), ref, settings).filter(in_month), coverage_counts_plan(lines)],
        engine="in-memory",
    )
    coverage = month_of_counts(counts, month).with_columns(rule_id=pl.lit(DOCUMENTATION))
    return units.filter(in_month), found, coverage


def _write_months(
    con: duckdb.DuckDBPyConnection,
    months: list[dt.date],
    recompute: Recompute,
    plan: WritePlan,
    rules: tuple[Reference, RuleSettings],
    shown,
    stamp: tuple[dt.datetime | None, str, str],
) -> tuple[int, int]:
    """Recompute the months, write them as ``plan`` says and move them in with the rules state
    (``stamp``: lines covered up to, configuration and units fingerprints); the line units' and
    findings' row counts."""
    units_rows = found_rows = 0
    if not (months or recompute.everything):
        return units_rows, found_rows
    with ExitStack() as stack:
        if plan.in_place:
            stack.enter_context(schema.transaction(con))  # commits after the publishing below
            for table in plan.tables:
                writes.delete_months(con, table, months)
            target = {table: table for table in plan.tables}
        else:
            target = stack.enter_context(writes.staged(con, list(plan.tables)))
        by_month.mark_claims_across_months(con, None if recompute.everything else months)
        waiting: dict[str, list[pl.DataFrame]] = {table: [] for table in plan.tables}

        def write_waiting() -> None:
            for table, frames in waiting.items():
                if frames:
                    writes.insert_rows(con, target[table], pl.concat(frames, how="diagonal_relaxed"))
                    frames.clear()

        for month in months:
            units, found, coverage = _month_results(con, month, recompute.keep_units, *rules)
            for table, frame in zip(DERIVED, (units, found, coverage), strict=True):
                if table in waiting:
                    waiting[table].append(frame)
            # staged months are committed write by write (an open transaction holds its rows in memory);
            # the findings' rows are counted when the line units are kept
            if flush_due(sum(frame.height for frame in waiting.get("line_units", waiting["findings"]))):
                write_waiting()
            units_rows += 0 if recompute.keep_units else units.height
            found_rows += found.height
            shown.advance("rules", month.isoformat()[:7])
        write_waiting()
        # readers see the old months or the new ones, never a mix: one transaction moves them in
        with nullcontext() if plan.in_place else schema.transaction(con):
            if not plan.in_place:
                writes.publish_staged(con, target, None if recompute.everything else months)
            by_month.stamp_rules_months(con, months, recompute.everything)
            by_month.set_rules_state(con, *stamp)
            counts = con.sql("select * from rule_coverage_months where rule_id = ?", params=[DOCUMENTATION]).pl()
            con.execute("delete from rule_coverage where rule_id = ?", [DOCUMENTATION])
            writes.insert_rows(con, "rule_coverage", coverage_row(coverage_of_counts(counts)))
    return units_rows, found_rows


def _scalar(warehouse_db: DuckDBResource, query: str) -> int:
    with warehouse_db.get_connection() as con:
        return con.execute(query).fetchall()[0][0]


@dg.asset_check(asset="line_units", blocking=True, description="Every loaded line has exactly one line_units row")
def one_units_row_per_line(warehouse_db: DuckDBResource) -> dg.AssetCheckResult:
    # keys compared as multisets first (row count and a 64-bit hash sum: one scan each, no join); with the
    # keys unique in claim_lines (line_keys_unique) equal multisets mean one row per line, else the join counts
    same_keys = _scalar(
        warehouse_db,
        "select (select (count(*), sum(hash(claim_id, line_number))) from claim_lines)"
        " = (select (count(*), sum(hash(claim_id, line_number))) from line_units)",
    )
    unmatched = (
        0
        if same_keys
        else _scalar(
            warehouse_db,
            "select count(*) from claim_lines c full join ("
            "  select claim_id, line_number, count(*) n from line_units group by all) u"
            " using (claim_id, line_number) where u.n is distinct from 1 or c.claim_id is null",
        )
    )
    return dg.AssetCheckResult(passed=unmatched == 0, metadata={"lines_without_exactly_one_row": unmatched})


@dg.asset_check(asset="line_units", blocking=True, description="No negative expected units")
def no_negative_expected_units(warehouse_db: DuckDBResource) -> dg.AssetCheckResult:
    negative = _scalar(warehouse_db, "select count(*) from line_units where expected_units < 0")
    return dg.AssetCheckResult(passed=negative == 0, metadata={"negative_expected_units": negative})


@dg.asset_check(asset="findings", blocking=True, description="Every finding's keys exist in claim_lines")
def findings_keys_exist(warehouse_db: DuckDBResource) -> dg.AssetCheckResult:
    # each key's matches as a semi join (findings are few, claim lines many), not correlated NOT EXISTS subqueries
    orphans = _scalar(
        warehouse_db,
        "with f as (select rowid as i, claim_id, line_number, patient_id, rendering_npi, service_date from findings),"
        " line_ok as (select i from f semi join claim_lines c on c.claim_id = f.claim_id and c.line_number = f.line_number),"
        " patient_day_ok as (select i from f semi join claim_lines c on c.patient_id = f.patient_id and c.service_date = f.service_date),"
        " therapist_day_ok as (select i from f semi join claim_lines c on c.rendering_npi = f.rendering_npi and c.service_date = f.service_date)"
        " select count(*) from f where (claim_id is not null and i not in (select i from line_ok))"
        " or (patient_id is not null and i not in (select i from patient_day_ok))"
        " or (rendering_npi is not null and i not in (select i from therapist_day_ok))",
    )
    return dg.AssetCheckResult(passed=orphans == 0, metadata={"findings_with_unknown_keys": orphans})
