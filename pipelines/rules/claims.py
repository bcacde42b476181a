"""Replacements and voids: which claims still stand (X12 claim frequency, CLM05-3).

Input contract: ``claim_frequency`` 1 original, 7 replacement of a prior claim, 8 void of a prior
claim (blank = 1); ``original_claim_id`` names the claim a replacement or void replaces or voids. A
replacement supersedes the claim it replaces; a void removes it, and is no service itself. Neither
is a duplicate of the claim it names.

``claim_status`` gives each claim of ``lines`` one status (the replacements', voids' and named
claims' listed, every other claim 'original'):

- ``replaced`` / ``voided``: a replacement / void among ``lines`` names it (a void wins; a
  replacement that a later one names is replaced too);
- ``void``: a void whose claim is among ``lines`` (it only cancels);
- ``replacement``: a replacement whose claim is among ``lines``;
- ``unresolved_replacement`` / ``unresolved_void``: it names a claim that is not among ``lines``.
  Kept in the review as billed (never silently dropped); the review's summary counts them;
- ``original``: anything else.

The lines of ``EXCLUDED`` claims are left out of every rule (``line_units`` keeps a row for each,
with no units); everything else is reviewed. A claim's frequency is its lines' largest value.
"""

from __future__ import annotations

import polars as pl

from pipelines.rules.frame import canonical

REPLACEMENT, VOID = 7, 8
STATUSES = ("original", "replacement", "replaced", "void", "voided", "unresolved_replacement", "unresolved_void")
EXCLUDED = ("replaced", "voided", "void")


def claim_status(lines: pl.LazyFrame) -> pl.LazyFrame:
    """One row per claim of ``lines`` whose status is not 'original' (the replacements, voids and the
    claims they name: few): claim_id, claim_status. A left join onto the lines, filled with
    'original', gives every line's status without grouping all of them."""
    special = (
        canonical(lines)
        .filter(pl.col("claim_frequency").is_in([REPLACEMENT, VOID]))
        .group_by("claim_id")
        .agg(
            pl.col("claim_frequency").max(),
            pl.col("original_claim_id").str.strip_chars().drop_nulls().first(),
        )
        .cache()
    )
    targets = special.select(pl.col("original_claim_id").alias("claim_id")).drop_nulls().unique()
    known = (
        canonical(lines)
        .select("claim_id")
        .join(targets, on="claim_id", how="semi")
        .unique()
        .select(pl.col("claim_id").alias("original_claim_id"), pl.lit(True).alias("_known"))
    )
    named = (
        special.filter(pl.col("original_claim_id").is_not_null())
        .join(known, on="original_claim_id", how="semi")
        .group_by(pl.col("original_claim_id").alias("claim_id"))
        .agg((pl.col("claim_frequency") == VOID).any().alias("_voided"))
        .with_columns(
            pl.when(pl.col("_voided")).then(pl.lit("voided")).otherwise(pl.lit("replaced")).alias("claim_status")
        )
        .select("claim_id", "claim_status")
    )
    resolved = pl.col("_known").fill_null(False)
    frequency = pl.col("claim_frequency")
    own = special.join(known, on="original_claim_id", how="left").select(
        "claim_id",
        pl.when(frequency == VOID)
        .then(pl.when(resolved).then(pl.lit("void")).otherwise(pl.lit("unresolved_void")))
        .otherwise(pl.when(resolved).then(pl.lit("replacement")).otherwise(pl.lit("unresolved_replacement")))
        .alias("claim_status"),
    )
    # a claim that is both named and itself a replacement (a chain) is superseded: named wins
    return pl.concat([named, own.join(named, on="claim_id", how="anti")])


def unresolved_claims(claims: pl.DataFrame) -> pl.DataFrame:
    """For the summary, from (claim_id, claim_frequency, original_claim_id) rows of a whole warehouse:
    replacements and voids naming no known claim, counted by kind (kept in the review as billed)."""
    status = claim_status(claims.lazy()).collect()
    return (
        status.filter(pl.col("claim_status").str.starts_with("unresolved_"))
        .group_by("claim_status")
        .agg(pl.len().alias("claims"))
        .sort("claim_status")
    )
