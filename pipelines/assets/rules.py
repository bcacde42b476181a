"""Rules stage: claim_lines -> line_units and findings (pure functions in pipelines/rules).

Incremental by service month: every rule's grain (line, patient-day, therapist-day) lies within one
month, so only the months that newly ingested lines touch are recomputed; a change of configuration
or reference data recomputes everything; when it leaves what line units read as it was
(``units_fingerprint``: the timed codes and payer methods) and no lines came in since, the stored
line units stand and only the findings are recomputed from them. Many months are written to staged
copies of the tables, each write committed on its own (memory stays at one month, or at the small
months written together: FLUSH_ROWS), and moved in together in one transaction; a single month (a
monthly review's) is written in place, in one transaction. Readers see all old or all new months
either way.
"""

from contextlib import ExitStack, nullcontext

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from pipelines.assets import progress
from pipelines.resources import ReviewSettings
from pipelines.rules.findings.documentation import (
    RULE_ID as DOCUMENTATION,
    coverage_counts_plan,
    coverage_of_counts,
    coverage_row,
    month_of_counts,
)
from pipelines.rules.frame import RULE_COLUMNS
from pipelines.rules.registry import RULES, findings
from pipelines.rules.units import LINE_UNITS_SCHEMA, line_units, units_fingerprint
from pipelines.warehouse import by_month, schema, writes

DERIVED = ["line_units", "findings", "rule_coverage_months"]
# Up to this many recomputed months are written in place, in one transaction that holds their rows
# in memory until it commits (about 300 MB for an 860k-line month); more go through staged tables.
# In place saves copying the staged rows in (0.75 s for a 10M-line warehouse's new month).
IN_PLACE_MONTHS = 1
# Staged months are written once this many line units wait (a month at least as large goes alone). A
# DuckDB insert smaller than a row group (122,880 rows) goes through the write-ahead log, and the log
# passing its threshold checkpoints the database: the 12 months of a 1M-line warehouse wrote their
# units and findings in 4.7 s one month an insert, in 2.1 s two or more months an insert.
FLUSH_ROWS = 250_000


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
        covered, covered_hash, covered_units = by_month.rules_state(con)
        watermark = con.execute("select max(ingested_at) from claim_lines").fetchall()[0][0]
        # a warehouse from before coverage was kept per month has none: recompute it all once
        counted = con.execute("select count(*) from rule_coverage_months").fetchall()[0][0] > 0
        no_new_lines = watermark is None or (covered is not None and watermark <= covered)
        # stored units stand for a configuration change they do not read, if every line has them
        keep_units = False
        if covered is None or covered_hash != fingerprint or not counted:
            months, everything = by_month.derived_months(con), True  # new configuration: all
            keep_units = covered is not None and counted and covered_units == units_print and no_new_lines
        elif no_new_lines:
            months, everything = [], False
        else:
            months, everything = by_month.months_to_recompute(con, covered), False
        derived = [table for table in DERIVED if not (keep_units and table == "line_units")]
        units_rows = found_rows = 0
        in_place = not everything and len(months) <= IN_PLACE_MONTHS
        with progress.stage("rules", len(months)) as shown, ExitStack() as stack:
            if months and in_place:
                stack.enter_context(schema.transaction(con))  # commits after the publishing below
                for table in derived:
                    writes.delete_months(con, table, months)
                target = {table: table for table in derived}
            elif months or everything:
                target = stack.enter_context(writes.staged(con, derived))
            if months or everything:
                by_month.mark_claims_across_months(con, None if everything else months)
            waiting: dict[str, list[pl.DataFrame]] = {table: [] for table in derived}

            def write_waiting() -> None:
                for table, frames in waiting.items():
                    if frames:
                        writes.insert_rows(con, target[table], pl.concat(frames, how="diagonal_relaxed"))
                        frames.clear()

            for month in months:
                lines = by_month.read_month_lines(con, RULE_COLUMNS, month).lazy()
                in_month = pl.col("service_date").dt.truncate("1mo") == month
                # the in-memory engine: same speed on a month, and polars 2.1's streaming engine, used
                # for both, panicked on a large month's findings ("assertion failed: i < self.len()",
                # see pipelines/rules/__init__.py)
                if keep_units:  # the same lines' stored units (0.15 s against 1.2 s at 860k lines)
                    units = by_month.read_month_lines(con, list(LINE_UNITS_SCHEMA), month, "line_units")
                else:
                    units = line_units(lines, ref, settings, ordered=False).collect(engine="in-memory")
                # collected together: DOCUMENTATION and the coverage counts share the month's 97112
                # patient-day sources (0.1-0.15 s a month of 866k lines)
                found, counts = pl.collect_all(
                    [findings(lines, units.lazy(), ref, settings).filter(in_month), coverage_counts_plan(lines)],
                    engine="in-memory",
                )
                units = units.filter(in_month)
                coverage = month_of_counts(counts, month).with_columns(rule_id=pl.lit(DOCUMENTATION))
                for table, frame in zip(DERIVED, (units, found, coverage)):
                    if table in waiting:
                        waiting[table].append(frame)
                # staged, the months are written as they come, small ones together (FLUSH_ROWS), each
                # write committed on its own (an open transaction holds its rows in memory: a 10M-line
                # rebuild in one transaction peaked 2.5 GB higher); in place, the one month is written
                # after the loop and waits for the transaction's commit below
                # (the findings' rows are counted when the line units are kept)
                if sum(frame.height for frame in waiting.get("line_units", waiting["findings"])) >= FLUSH_ROWS:
                    write_waiting()
                units_rows, found_rows = units_rows + (0 if keep_units else units.height), found_rows + found.height
                shown.advance("rules", month.isoformat()[:7])
            write_waiting()
            # readers see the old months or the new ones, never a mix: one transaction moves them in
            if months or everything:
                with nullcontext() if in_place else schema.transaction(con):
                    if not in_place:
                        writes.publish_staged(con, target, None if everything else months)
                    by_month.stamp_rules_months(con, months, everything)
                    by_month.set_rules_state(con, watermark, fingerprint, units_print)
                    counts = con.sql("select * from rule_coverage_months where rule_id = ?", params=[DOCUMENTATION]).pl()
                    con.execute("delete from rule_coverage where rule_id = ?", [DOCUMENTATION])
                    writes.insert_rows(con, "rule_coverage", coverage_row(coverage_of_counts(counts)))
        if not months:
            context.log.info("no new claim lines since the last rules run: nothing to recompute")
        totals = dict(con.execute("select rule_id, count(*) from findings group by 1").fetchall())
        table_rows = con.execute("select (select count(*) from line_units), (select count(*) from findings)").fetchall()[0]
    recomputed = [m.isoformat()[:7] for m in months]
    yield dg.MaterializeResult(
        asset_key="line_units",
        metadata={
            "table_rows": table_rows[0],
            "rows_recomputed": units_rows,
            "months_recomputed": dg.MetadataValue.json([] if keep_units else recomputed),
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


def _scalar(warehouse_db: DuckDBResource, query: str) -> int:
    with warehouse_db.get_connection() as con:
        return con.execute(query).fetchall()[0][0]


@dg.asset_check(asset="line_units", blocking=True, description="Every loaded line has exactly one line_units row")
def one_units_row_per_line(warehouse_db: DuckDBResource) -> dg.AssetCheckResult:
    # first the two tables' keys compared as multisets, by row count and by the sum of a 64-bit hash
    # of each key (one scan each: 0.4 s at 10M lines against 2-2.7 s for the join); with
    # (claim_id, line_number) unique in claim_lines (line_keys_unique), equal multisets mean exactly
    # one row per line. A difference, or a hash collision hiding one (~2^-64), is then counted exactly.
    same_keys = _scalar(
        warehouse_db,
        "select (select (count(*), sum(hash(claim_id, line_number))) from claim_lines)"
        " = (select (count(*), sum(hash(claim_id, line_number))) from line_units)",
    )
    unmatched = 0 if same_keys else _scalar(
        warehouse_db,
        "select count(*) from claim_lines c full join ("
        "  select claim_id, line_number, count(*) n from line_units group by all) u"
        " using (claim_id, line_number) where u.n is distinct from 1 or c.claim_id is null",
    )
    return dg.AssetCheckResult(passed=unmatched == 0, metadata={"lines_without_exactly_one_row": unmatched})


@dg.asset_check(asset="line_units", blocking=True, description="No negative expected units")
def no_negative_expected_units(warehouse_db: DuckDBResource) -> dg.AssetCheckResult:
    negative = _scalar(warehouse_db, "select count(*) from line_units where expected_units < 0")
    return dg.AssetCheckResult(passed=negative == 0, metadata={"negative_expected_units": negative})


@dg.asset_check(asset="findings", blocking=True, description="Every finding's keys exist in claim_lines")
def findings_keys_exist(warehouse_db: DuckDBResource) -> dg.AssetCheckResult:
    # each key's matches as a semi join (findings are few, claim lines many), then the findings
    # with a key that found none: 2x faster at 10M lines than correlated NOT EXISTS subqueries
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
