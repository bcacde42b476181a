"""Shared shaping of the loaded ``claim_lines`` frame for the rules (no rule logic here)."""

from __future__ import annotations

import polars as pl

from pipelines.ingest.columns import CANONICAL

# Canonical columns no rule reads: the review reads a month without them; ``canonical`` gives a
# frame without them typed nulls. tests/test_rules_registry.py checks that dropping them changes no
# unit, finding or coverage count.
NOT_READ = ("provider_name", "clinic_name")
RULE_COLUMNS = [name for name in CANONICAL if name not in NOT_READ]


def canonical(lines: pl.LazyFrame) -> pl.LazyFrame:
    """``lines`` with every canonical column present (an absent optional column becomes typed nulls)
    and cast to its canonical dtype."""
    schema = lines.collect_schema()
    exprs = []
    for name, dtype in CANONICAL.items():
        if name not in schema:
            exprs.append(pl.lit(None, dtype).alias(name))
        elif schema[name] != dtype:
            exprs.append(pl.col(name).cast(dtype))
    return lines.with_columns(exprs) if exprs else lines


PRICE_BASES = ("paid", "allowed", "charge", "pfs_estimate")


def line_price() -> pl.Expr:
    """Price of one billed unit of a line from its own amounts: paid_amount / units_billed where paid
    is present, else allowed, else charge; null for a line with no units or no amount (the rules'
    line units then fall back on the fee schedule's estimate, ``units.prepared_lines``)."""
    units = pl.col("units_billed")
    amount = pl.coalesce(pl.col("paid_amount"), pl.col("allowed_amount"), pl.col("charge_amount"))
    return pl.when(units > 0).then(amount / units).otherwise(None).alias("price_per_unit")


def price_basis() -> pl.Expr:
    """Which amount ``line_price`` used: 'paid', 'allowed', 'charge', or null (none)."""
    return (
        pl.when(pl.col("units_billed") <= 0)
        .then(None)
        .when(pl.col("paid_amount").is_not_null())
        .then(pl.lit("paid"))
        .when(pl.col("allowed_amount").is_not_null())
        .then(pl.lit("allowed"))
        .when(pl.col("charge_amount").is_not_null())
        .then(pl.lit("charge"))
        .alias("price_basis")
    )
