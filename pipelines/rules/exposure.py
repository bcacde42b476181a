"""One amount at risk per line: each finding's lines priced once, by a documented precedence.

Every rule names the lines it questions and how many of their units (``_claims``). A line's price of
one unit is its paid amount / units, else allowed, else charge, else the Medicare Physician Fee
Schedule's national estimate (``units.prepared_lines``: ``price_per_unit``, ``price_basis``).

- ``amount_at_risk``: the finding's own units at its lines' prices, as if no other finding existed.
- ``exposure``: the part of it no finding of higher precedence counted already on the same lines. A
  line's units are counted up to the most any finding questions (never beyond its units billed):
  the findings of a line in ``PRECEDENCE`` order each carry the units beyond those already counted.
  Summing ``exposure`` over findings counts every line's amount once: one $200 line questioned by
  four rules is $200 at risk, not $800. Every total (summary, provider scores, report) sums it.
- ``price_basis``: the bases of its lines' prices ('paid', 'allowed', 'charge', 'pfs_estimate');
  ``exposure_estimated``: some of it is the fee schedule's estimate (shown as such).
- ``counted_by``: the rules whose findings counted some of its lines first ('' when none).

Precedence, most certain first: a service billed twice (DUPLICATE) or without any minutes
(MINUTES_MISSING), units an edit denies (DAILY_LIMIT), untimed units (UNTIMED_UNITS), units the
minutes do not support (UNITS_OVER_MINUTES), time no one can work (IMPOSSIBLE_DAY, OVERLAP), medical
necessity (DX_SUPPORT, DOCUMENTATION), and units on the wrong code of a supported day (ALLOCATION).
"""

from __future__ import annotations

import polars as pl

from pipelines.rules.findings._common import CLAIMS, FINDINGS_SCHEMA, MICROS

PRECEDENCE = (
    "DUPLICATE",
    "MINUTES_MISSING",
    "DAILY_LIMIT",
    "UNTIMED_UNITS",
    "UNITS_OVER_MINUTES",
    "IMPOSSIBLE_DAY",
    "OVERLAP",
    "DX_SUPPORT",
    "DOCUMENTATION",
    "ALLOCATION",
)
LINE = ["claim_id", "line_number"]


def priced(found: pl.LazyFrame, units: pl.LazyFrame) -> pl.LazyFrame:
    """``found`` (the rules' findings with ``_claims``) with amount_at_risk recomputed from its lines
    and the ``EXPOSURE_SCHEMA`` columns, in ``FINDINGS_SCHEMA`` (``_claims`` dropped)."""
    found = found.with_row_index("_fid").cache()
    rank = {rule: i for i, rule in enumerate(PRECEDENCE)}
    prices = units.select(*LINE, "units_billed", "price_per_unit", "price_basis")
    claims = (
        found.select("_fid", "rule_id", CLAIMS)
        .explode(CLAIMS)
        .drop_nulls(CLAIMS)
        .unnest(CLAIMS)
        .join(prices, on=LINE, how="left")
        .with_columns(
            pl.min_horizontal("units", "units_billed").clip(lower_bound=0).alias("units"),
            pl.col("rule_id").replace_strict(rank, default=len(PRECEDENCE), return_dtype=pl.Int64).alias("_rank"),
        )
        .sort([*LINE, "_rank", "_fid"])
    )
    counted = pl.col("units").cum_max().over(LINE)
    claims = claims.with_columns(counted.alias("_counted")).with_columns(
        (pl.col("_counted") - pl.col("_counted").shift(1).over(LINE).fill_null(0)).alias("_carried"),
        pl.col("rule_id").first().over(LINE).alias("_first_rule"),
    )
    price = pl.col("price_per_unit").fill_null(0.0)
    micros = lambda n: (n.cast(pl.Float64) * price * MICROS).round().cast(pl.Int64)
    others = pl.col("_first_rule").filter(
        (pl.col("_carried") < pl.col("units")) & (pl.col("_first_rule") != pl.col("rule_id"))
    )
    per_finding = claims.group_by("_fid").agg(
        (micros(pl.col("units")).sum() / MICROS).round(2).alias("_amount"),
        (micros(pl.col("_carried")).sum() / MICROS).round(2).alias("exposure"),
        pl.col("price_basis").drop_nulls().unique().sort().str.join(", ").alias("price_basis"),
        (pl.col("price_basis") == "pfs_estimate").any().alias("exposure_estimated"),
        others.unique().sort().str.join(", ").alias("counted_by"),
    )
    return (
        found.join(per_finding, on="_fid", how="left")
        .with_columns(
            pl.col("_amount").fill_null(0.0).alias("amount_at_risk"),
            pl.col("exposure").fill_null(0.0),
            pl.col("exposure_estimated").fill_null(False),
            pl.col("counted_by").fill_null(""),
        )
        .select([pl.col(name).cast(dtype) for name, dtype in FINDINGS_SCHEMA.items()])
    )
