"""Appraising an audited sample: the overpayment total per stratum and overall, its standard error,
precision and limits at 80, 90 and 95% confidence, and the error rate (``pipelines.audit.stats``).

The input is one row per sampled item (sample_item, stratum, examined_amount, audited_amount) and
the frame size of each stratum; the difference is examined - audited (an overpayment is positive).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

import polars as pl

from pipelines.audit import stats


class AppraisalError(ValueError):
    """The worksheet cannot be appraised; the message names sample item numbers, never patients."""


@dataclass(frozen=True)
class StratumFrame:
    stratum: int
    label: str
    frame_size: int
    sample_size: int


@dataclass
class Appraisal:
    appraisal_id: str
    sample_id: str | None
    design: str  # unrestricted | stratified
    variable: stats.StratifiedAppraisal
    attributes: list[stats.AttributeAppraisal]  # per stratum, in order
    attribute_overall: stats.AttributeAppraisal
    strata: list[StratumFrame]
    items: pl.DataFrame  # sample_item, stratum, examined_amount, audited_amount, difference
    appraised_at: dt.datetime
    source: str | None = None
    worksheet_sha256: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def overall(self) -> stats.VariableAppraisal:
        return self.variable.overall

    def statement(self) -> str:
        """The sentence an auditor quotes (OIG practice: the lower limit of the two-sided 90% interval)."""
        o = self.overall
        lower = o.at_least
        one_sided = o.one_sided_lower_90
        head = (
            f"Point estimate of the overpayment: ${o.estimate:,.2f} over {o.population_size:,} beneficiary-days "
            f"({o.sample_size} sampled, {self.design}). "
        )
        if lower > 0:
            claim = f"At least ${lower:,.2f} was overpaid (lower limit of the two-sided 90% confidence interval). "
        else:
            claim = (
                f"The lower limit of the two-sided 90% confidence interval is ${lower:,.2f}: "
                "no overpayment is demonstrated at 90% confidence. "
            )
        return head + claim + (f"One-sided 90% lower limit (= two-sided 80% lower limit): ${one_sided:,.2f}.")

    def table(self) -> pl.DataFrame:
        """One row per stratum and one overall (the ``audit_appraisals`` columns)."""
        rows = []
        for part, attr, frame in zip(self.variable.strata, self.attributes, self.strata, strict=True):
            rows.append(self._row("stratum", frame.stratum, frame.label, part, attr))
        rows.append(self._row("overall", None, "overall", self.overall, self.attribute_overall))
        return pl.DataFrame(rows, schema=TABLE_SCHEMA)

    def _row(self, scope, stratum, label, v: stats.VariableAppraisal, a: stats.AttributeAppraisal) -> dict:
        items = self.items if stratum is None else self.items.filter(pl.col("stratum") == stratum)
        row = {
            "appraisal_id": self.appraisal_id,
            "sample_id": self.sample_id,
            "scope": scope,
            "stratum": stratum,
            "stratum_label": label,
            "design": self.design,
            "frame_size": v.population_size,
            "sample_size": v.sample_size,
            "examined_sample": round(float(items["examined_amount"].sum()), 2),
            "audited_sample": round(float(items["audited_amount"].sum()), 2),
            "difference_sample": v.difference_total,
            "mean_difference": v.mean,
            "sd_difference": v.sd,
            "point_estimate": v.estimate,
            "standard_error": v.standard_error,
            "distribution": v.distribution,
            "degrees_of_freedom": v.df,
        }
        for level in stats.LEVELS:
            lim = v.at(level)
            k = round(level * 100)
            row.update(
                {
                    f"quantile_{k}": lim.quantile,
                    f"lower_{k}": lim.lower,
                    f"upper_{k}": lim.upper,
                    f"precision_{k}": lim.half_width,
                    f"precision_pct_{k}": lim.precision_pct,
                }
            )
        row.update(
            {
                "one_sided_lower_90": v.one_sided_lower_90,
                "at_least": v.at_least,
                "items_in_error": a.errors,
                "error_rate": a.rate,
                "error_rate_exact_lower_90": a.exact_lower,
                "error_rate_exact_upper_90": a.exact_upper,
                "error_rate_normal_lower_90": a.normal_lower,
                "error_rate_normal_upper_90": a.normal_upper,
                "sample_items": items["sample_item"].cast(pl.Int32).to_list(),
                "examined_amounts": items["examined_amount"].to_list(),
                "audited_amounts": items["audited_amount"].to_list(),
                "source": self.source,
                "worksheet_sha256": self.worksheet_sha256,
                "appraised_at": self.appraised_at,
            }
        )
        return row

    def display_table(self) -> pl.DataFrame:
        """The table for people: scope, sizes, estimate, SE, limits and precision per level, error rate."""
        t = self.table()
        return t.select(
            pl.col("stratum_label").alias("scope"),
            "frame_size",
            "sample_size",
            "items_in_error",
            pl.col("error_rate").round(4),
            "difference_sample",
            "point_estimate",
            "standard_error",
            "distribution",
            "degrees_of_freedom",
            *[c for k in (80, 90, 95) for c in (f"lower_{k}", f"upper_{k}", f"precision_pct_{k}")],
            "one_sided_lower_90",
        ).with_columns(pl.col(pl.Float64).round(2))


TABLE_SCHEMA = {
    "appraisal_id": pl.String,
    "sample_id": pl.String,
    "scope": pl.String,
    "stratum": pl.Int32,
    "stratum_label": pl.String,
    "design": pl.String,
    "frame_size": pl.Int64,
    "sample_size": pl.Int64,
    "examined_sample": pl.Float64,
    "audited_sample": pl.Float64,
    "difference_sample": pl.Float64,
    "mean_difference": pl.Float64,
    "sd_difference": pl.Float64,
    "point_estimate": pl.Float64,
    "standard_error": pl.Float64,
    "distribution": pl.String,
    "degrees_of_freedom": pl.Int32,
    **{
        f"{name}_{k}": pl.Float64
        for k in (80, 90, 95)
        for name in ("quantile", "lower", "upper", "precision", "precision_pct")
    },
    "one_sided_lower_90": pl.Float64,
    "at_least": pl.Float64,
    "items_in_error": pl.Int64,
    "error_rate": pl.Float64,
    "error_rate_exact_lower_90": pl.Float64,
    "error_rate_exact_upper_90": pl.Float64,
    "error_rate_normal_lower_90": pl.Float64,
    "error_rate_normal_upper_90": pl.Float64,
    "sample_items": pl.List(pl.Int32),
    "examined_amounts": pl.List(pl.Float64),
    "audited_amounts": pl.List(pl.Float64),
    "source": pl.String,
    "worksheet_sha256": pl.String,
    "appraised_at": pl.Datetime("us", "UTC"),
}


def appraise(
    items: pl.DataFrame,
    strata: list[StratumFrame],
    *,
    sample_id: str | None = None,
    source: str | None = None,
    worksheet_sha256: str | None = None,
    appraisal_id: str | None = None,
    appraised_at: dt.datetime | None = None,
) -> Appraisal:
    """Appraise audited items (sample_item, stratum, examined_amount, audited_amount).

    Raises ``AppraisalError`` listing the sample item numbers whose audited amount is missing, or
    when the items do not match the strata's sample sizes."""
    for column in ("sample_item", "stratum", "examined_amount", "audited_amount"):
        if column not in items.columns:
            raise AppraisalError(f"the sample has no column {column}")
    items = items.select(
        pl.col("sample_item").cast(pl.Int64),
        pl.col("stratum").cast(pl.Int64),
        pl.col("examined_amount").cast(pl.Float64),
        pl.col("audited_amount").cast(pl.Float64),
    ).sort("sample_item")
    missing = items.filter(pl.col("audited_amount").is_null() | pl.col("audited_amount").is_nan())[
        "sample_item"
    ].to_list()
    if missing:
        raise AppraisalError(
            f"{len(missing)} sampled item(s) have no audited amount: sample item(s) {_ranges(missing)}. "
            "Enter the audited amount (0 when nothing is supported) for every item."
        )
    no_examined = items.filter(pl.col("examined_amount").is_null())["sample_item"].to_list()
    if no_examined:
        raise AppraisalError(f"sample item(s) {_ranges(no_examined)} have no examined amount")
    negative = items.filter(pl.col("audited_amount") < 0)["sample_item"].to_list()
    if negative:
        raise AppraisalError(f"sample item(s) {_ranges(negative)} have a negative audited amount")
    dupes = items.filter(pl.col("sample_item").is_duplicated())["sample_item"].unique().sort().to_list()
    if dupes:
        raise AppraisalError(f"sample item(s) {_ranges(dupes)} appear more than once")
    known = {s.stratum for s in strata}
    stray = items.filter(~pl.col("stratum").is_in(list(known)))["sample_item"].to_list()
    if stray:
        raise AppraisalError(f"sample item(s) {_ranges(stray)} name a stratum the parameters do not list")
    items = items.with_columns((pl.col("examined_amount") - pl.col("audited_amount")).round(2).alias("difference"))
    inputs, attrs, used = [], [], []
    for s in sorted(strata, key=lambda s: s.stratum):
        part = items.filter(pl.col("stratum") == s.stratum)
        if part.height == 0 and s.frame_size == 0:
            continue
        if part.height == 0:
            raise AppraisalError(
                f"stratum {s.stratum} has no sampled item: the overpayment in its {s.frame_size} beneficiary-days "
                "cannot be estimated"
            )
        if part.height != s.sample_size:
            raise AppraisalError(
                f"stratum {s.stratum}: {part.height} sampled item(s) in the worksheet, the draw had {s.sample_size}"
            )
        d = part["difference"].to_list()
        inputs.append(stats.StratumInput(s.label, s.frame_size, d))
        attrs.append(
            stats.attribute_unrestricted(sum(1 for x in d if x != 0), len(d), s.frame_size, 0.90, label=s.label)
        )
        used.append(s)
    try:
        variable = stats.stratified(inputs)
    except ValueError as exc:
        raise AppraisalError(str(exc)) from None
    return Appraisal(
        appraisal_id=appraisal_id or "A-" + uuid.uuid4().hex[:12],
        sample_id=sample_id,
        design=variable.design,
        variable=variable,
        attributes=attrs,
        attribute_overall=stats.attribute_stratified(attrs, 0.90),
        strata=used,
        items=items,
        appraised_at=appraised_at or dt.datetime.now(dt.UTC),
        source=source,
        worksheet_sha256=worksheet_sha256,
    )


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 7] -> '1-3, 7'."""
    numbers = sorted({int(n) for n in numbers})
    out, start, prev = [], None, None
    for n in numbers:
        if start is None:
            start = prev = n
        elif n == prev + 1:
            prev = n
        else:
            out.append(f"{start}-{prev}" if prev != start else str(start))
            start = prev = n
    if start is not None:
        out.append(f"{start}-{prev}" if prev != start else str(start))
    return ", ".join(out)
