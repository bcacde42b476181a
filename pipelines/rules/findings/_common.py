"""What every finding rule shares: the FINDINGS schema, prices, attribution and readable breakdowns.

PHI: a patient identifier never goes into ``detail`` (nor any message); details name codes, minutes,
units, NPIs and claim ids only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl

from pipelines.rules.reference import Reference
from pipelines.rules.settings import RuleSettings

FINDING_BASE: dict[str, pl.DataType] = {
    "rule_id": pl.String(),
    "severity": pl.String(),
    "rendering_npi": pl.String(),
    "patient_id": pl.String(),
    "service_date": pl.Date(),
    "claim_id": pl.String(),
    "line_number": pl.Int64(),
    "units_over": pl.Int64(),
    "amount_at_risk": pl.Float64(),
    "detail": pl.String(),
    "billing_provider": pl.String(),
    "discipline": pl.String(),
}
# Added by the registry from each finding's lines (``pipelines/rules/exposure.py``): the part of its
# amount at risk no finding of higher precedence counted already, what priced it, and who did.
EXPOSURE_SCHEMA: dict[str, pl.DataType] = {
    "exposure": pl.Float64(),
    "price_basis": pl.String(),
    "exposure_estimated": pl.Boolean(),
    "counted_by": pl.String(),
}
FINDINGS_SCHEMA: dict[str, pl.DataType] = {**FINDING_BASE, **EXPOSURE_SCHEMA}

RuleFunction = Callable[[pl.LazyFrame, pl.LazyFrame, Reference, RuleSettings], pl.LazyFrame]

# Grains of the contract's rule table (docs/contract/review-outputs.md).
PATIENT_DAY_NPI = ("patient_id", "service_date", "rendering_npi")
PATIENT_DAY = ("patient_id", "service_date")
LINE = ("claim_id", "line_number")
# Line findings also carry the patient-day and therapist for drill-down.
LINE_DRILL_DOWN = (*LINE, "patient_id", "service_date", "rendering_npi")
THERAPIST_DAY = ("rendering_npi", "service_date")
GROUP_EXTRAS = ("billing_provider", "discipline")


CLAIMS = "_claims"  # the lines a finding questions: list of {claim_id, line_number, units}
CLAIM_DTYPE = pl.List(pl.Struct({"claim_id": pl.String, "line_number": pl.Int64, "units": pl.Int64}))


def each_line(units: pl.Expr = pl.col("units_billed")) -> pl.Expr:
    """A line-grain finding's claim: its own line, ``units`` of it."""
    return pl.concat_list(pl.struct(pl.col("claim_id"), pl.col("line_number"), units.alias("units"))).alias(CLAIMS)


def lines_claimed(units: pl.Expr = pl.col("units_billed")) -> pl.Expr:
    """Aggregation: the group's lines, ``units`` of each (lines with none left out)."""
    return (
        pl.struct(pl.col("claim_id"), pl.col("line_number"), units.alias("units"))
        .filter(units > 0)
        .sort_by(pl.col("claim_id"), pl.col("line_number"))
        .alias(CLAIMS)
    )


def spread(
    lines: pl.LazyFrame, key: Sequence[str], budget: str, order: Sequence[str], descending: Sequence[bool]
) -> pl.LazyFrame:
    """Per ``key``, its ``budget`` units (a column, the same on each of its lines) laid on its lines
    in ``order``, each line up to its own units_billed: ``key`` + ``_claims``. How a group-level
    finding's units over become the lines it questions (e.g. the lines billing the most above their
    code's share first, then the latest claims)."""
    key = list(key)
    ordered = lines.sort([*key, *order], descending=[False] * len(key) + list(descending))
    units = pl.col("units_billed")
    before = units.cum_sum().over(key) - units
    take = pl.min_horizontal(units, pl.col(budget) - before).clip(lower_bound=0)
    return (
        ordered.with_columns(take.alias("_take"))
        .filter(pl.col("_take") > 0)
        .group_by(key)
        .agg(pl.struct(pl.col("claim_id"), pl.col("line_number"), pl.col("_take").alias("units")).alias(CLAIMS))
    )


def as_findings(
    frame: pl.LazyFrame,
    rule_id: str,
    severity: str | pl.Expr,
    filled: Sequence[str],
) -> pl.LazyFrame:
    """``frame`` (with units_over, amount_at_risk, detail and the ``filled`` columns) in the FINDINGS
    schema: the ``filled`` columns kept, every other identifying column null; and ``_claims``, the
    lines it questions, from which the registry prices it (``exposure.py``)."""
    fixed = {"rule_id", "severity", "units_over", "amount_at_risk", "detail"}
    exprs = []
    for name, dtype in FINDING_BASE.items():
        if name == "rule_id":
            exprs.append(pl.lit(rule_id, dtype).alias(name))
        elif name == "severity":
            sev = severity if isinstance(severity, pl.Expr) else pl.lit(severity)
            exprs.append(sev.cast(dtype).alias(name))
        elif name in fixed or name in filled:
            exprs.append(pl.col(name).cast(dtype))
        else:
            exprs.append(pl.lit(None, dtype).alias(name))
    claims = (
        pl.col(CLAIMS).cast(CLAIM_DTYPE)
        if CLAIMS in frame.collect_schema().names()
        else pl.lit(None, CLAIM_DTYPE).alias(CLAIMS)
    )
    return frame.select(*exprs, claims)


MICROS = 1_000_000


def amount_micros() -> pl.Expr:
    """A line's amount (``price_per_unit`` x ``units_billed``) in whole millionths of a dollar.
    Amounts are summed as these integers: a float sum depends on the order of the lines, and after
    rounding to the cent that moved about 1 finding in 9,000 by a cent when the same lines came in
    another order (an incremental month against a full rebuild)."""
    return (pl.col("price_per_unit") * pl.col("units_billed") * MICROS).round().cast(pl.Int64)


def per_unit(micros: pl.Expr, units: pl.Expr) -> pl.Expr:
    """Price per unit from summed ``amount_micros`` and the units they price; 0.0 without units."""
    return pl.when(units > 0).then(micros / units / MICROS).otherwise(pl.lit(0.0))


def unit_price() -> pl.Expr:
    """Aggregation: price per unit over a set of lines, weighting each line's ``price_per_unit``
    (allowed / units, else charge / units) by its units; 0.0 when no line has an amount."""
    priced_units = pl.col("units_billed").filter(pl.col("price_per_unit").is_not_null()).sum()
    return per_unit(amount_micros().sum(), priced_units)


def at_risk(units_over: pl.Expr, price: pl.Expr) -> pl.Expr:
    """amount_at_risk = units_over x price per unit, in cents."""
    return (units_over.cast(pl.Float64) * price).round(2).alias("amount_at_risk")


def attribute_rendering(timed_lines: pl.LazyFrame, key: Sequence[str]) -> pl.LazyFrame:
    """Per ``key``: ``rendering_npi`` = the therapist billing the most timed units (ties: smallest
    NPI), ``other_npis`` = the others, comma-separated (empty string when none), and
    ``group_price`` = ``unit_price()`` over all the lines."""
    per = timed_lines.group_by(*key, "rendering_npi").agg(
        pl.col("units_billed").sum().alias("_u"),
        amount_micros().sum().alias("_amount"),
        pl.col("units_billed").filter(pl.col("price_per_unit").is_not_null()).sum().alias("_priced"),
    )
    ranked = pl.col("rendering_npi").sort_by(["_u", "rendering_npi"], descending=[True, False])
    priced = pl.col("_priced").sum()
    return per.group_by(key).agg(
        ranked.first().alias("rendering_npi"),
        ranked.slice(1).sort().str.join(", ").alias("other_npis"),
        per_unit(pl.col("_amount").sum(), priced).alias("group_price"),
    )


def cotreatment_note(shared: pl.Expr) -> pl.Expr:
    """' Co-treatment: N minutes ... count once.' when the group had shared minutes, else ''
    (Pub. 100-04 ch. 5 sec. 20.3: "The time counted is the time the patient is treated")."""
    return (
        pl.when(shared.fill_null(0) > 0)
        .then(
            pl.format(
                " Co-treatment: {} two clinicians spent with the patient at the same time on one service count once"
                " (the time counted is the time the patient is treated).",
                plural(shared, "minute"),
            )
        )
        .otherwise(pl.lit(""))
    )


def also_rendered(other_npis: pl.Expr) -> pl.Expr:
    """' Also rendered by NPI ...' when the group had other therapists, else ''."""
    return (
        pl.when(other_npis.str.len_chars() > 0)
        .then(pl.format(" Also rendered by NPI {}.", other_npis))
        .otherwise(pl.lit(""))
    )


def service_label(ref: Reference) -> pl.Expr:
    """The code as the 8-minute rule counts it: a pair of ``addon_codes.csv`` as one service
    ('97129/97130'), any other code as itself."""
    labels = {}
    for addon, primary in ref.code_families().items():
        labels[addon] = labels[primary] = f"{primary}/{addon}"
    return pl.col("cpt_code").replace(labels) if labels else pl.col("cpt_code")


def code_level(timed_lines: pl.LazyFrame, key: Sequence[str], ref: Reference | None = None) -> pl.LazyFrame:
    """One row per (key, service) from ``line_units`` rows: minutes, units billed, allowed range (a
    code pair of ``addon_codes.csv`` is one service: its lines share these figures)."""
    if ref is not None:
        timed_lines = timed_lines.with_columns(service_label(ref).alias("cpt_code"))
    return timed_lines.group_by(*key, "cpt_code").agg(
        pl.col("code_minutes").first(),
        pl.col("code_units_billed").first(),
        pl.col("code_units_min").first(),
        pl.col("code_units_max").first(),
        (pl.col("units_billed") - pl.col("expected_units_max")).clip(lower_bound=0).sum().alias("code_excess"),
    )


def join_sorted(text: pl.Expr, by: pl.Expr | Sequence[pl.Expr], descending: bool | Sequence[bool] = False) -> pl.Expr:
    """Aggregation: ``text`` of a group's rows joined with ', ' in a fixed order (nulls skipped)."""
    return text.sort_by(by, descending=descending).str.join(", ")


def sorted_rows(fields: Sequence[str], by: Sequence[pl.Expr], descending: Sequence[bool]) -> pl.Expr:
    """Aggregation: a group's ``fields`` as a list of structs in a fixed order (one sort per group
    for several texts; read them back with ``joined_field``)."""
    return pl.struct(*fields).sort_by(list(by), descending=list(descending)).alias("_rows")


def joined_field(field: str) -> pl.Expr:
    """``field`` of ``sorted_rows`` joined with ', ' (nulls skipped)."""
    return pl.col("_rows").list.eval(pl.element().struct.field(field)).list.join(", ").alias(field)


def units_range(low: pl.Expr, high: pl.Expr) -> pl.Expr:
    """'2' when low == high, else '1-2' (a tie leaves the choice to the clinician)."""
    return pl.when(low == high).then(low.cast(pl.String)).otherwise(pl.format("{}-{}", low, high))


def plural(n: pl.Expr, word: str) -> pl.Expr:
    """'1 unit' / '3 units'."""
    return pl.when(n == 1).then(pl.format("{} " + word, n)).otherwise(pl.format("{} " + word + "s", n))
