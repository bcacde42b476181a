"""Rules stage: claim_lines -> line_units and findings (pure functions in pipelines/rules)."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines import progress, warehouse
from pipelines.columns import CANONICAL
from pipelines.resources import ReviewSettings
from pipelines.rules.registry import RULES, findings
from pipelines.rules.units import line_units


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
    """Recompute expected units for every loaded line, then every finding rule, over the warehouse."""
    config = review.config()
    ref, settings = config.reference(), config.rule_settings()
    with warehouse_db.get_connection() as con, progress.stage("rules", 2) as shown:
        warehouse.ensure_schema(con)
        lines = warehouse.read_claim_lines(con, list(CANONICAL)).lazy()
        units = line_units(lines, ref, settings).collect()
        shown.advance("rules", "line_units")
        found = findings(lines, units.lazy(), ref, settings).collect()
        shown.advance("rules", "findings")
        warehouse.replace_table(con, "line_units", units)
        warehouse.replace_table(con, "findings", found)
    by_rule = found.group_by("rule_id").len().sort("rule_id")
    counts = {rule_id: 0 for rule_id in RULES} | dict(by_rule.iter_rows())
    yield dg.MaterializeResult(asset_key="line_units", metadata={"table_rows": units.height})
    yield dg.MaterializeResult(
        asset_key="findings",
        metadata={
            "table_rows": found.height,
            "units_over": int(found["units_over"].sum() or 0),
            "amount_at_risk": float(found["amount_at_risk"].sum() or 0.0),
            **{f"findings_{rule_id.lower()}": n for rule_id, n in counts.items()},
        },
    )


def _scalar(warehouse_db: DuckDBResource, query: str) -> int:
    with warehouse_db.get_connection() as con:
        return con.execute(query).fetchall()[0][0]


@dg.asset_check(asset="line_units", blocking=True, description="Every loaded line has exactly one line_units row")
def one_units_row_per_line(warehouse_db: DuckDBResource) -> dg.AssetCheckResult:
    unmatched = _scalar(
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
    orphans = _scalar(
        warehouse_db,
        "select count(*) from findings f where"
        " (f.claim_id is not null and not exists (select 1 from claim_lines c"
        "   where c.claim_id = f.claim_id and c.line_number = f.line_number))"
        " or (f.patient_id is not null and not exists (select 1 from claim_lines c"
        "   where c.patient_id = f.patient_id and c.service_date = f.service_date))"
        " or (f.rendering_npi is not null and not exists (select 1 from claim_lines c"
        "   where c.rendering_npi = f.rendering_npi and c.service_date = f.service_date))",
    )
    return dg.AssetCheckResult(passed=orphans == 0, metadata={"findings_with_unknown_keys": orphans})

