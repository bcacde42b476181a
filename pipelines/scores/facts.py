"""Provider facts per review period: the counts every provider metric is a ratio of.

Grains, from fine to coarse:
- line: one line unit (``units``) with what scoring reads from its claim line (``lines``);
- patient-day: one rendering NPI, one patient, one service date (all the therapist's lines for that
  patient that day); OIG audits sample beneficiary-days, and every rate is per patient-day;
- therapist-day: one rendering NPI, one service date (a "working day");
- provider-period: one rendering NPI in one review period, a calendar month ``'YYYY-MM'`` or the
  whole window ``'all'``.

Documented timed minutes, per visit (one claim's lines of the therapist, patient and date), as the
IMPOSSIBLE_DAY rule counts them: the per-line minutes of the timed lines when no billed timed line
lacks them; else the visit's ``total_timed_minutes`` once (it is repeated on each line); else none
(the visit is undocumented). Lines the rules mark ``duplicate_extra`` (a second claim for the same
service) and untimed lines add no minutes; their units stay billed units. The per-line minutes are
``units.minutes_used`` (the rules' per-line minutes), or the claim line's ``minutes`` when the units
carry no ``minutes_used``.

``minutes_per_timed_unit`` = documented minutes / the timed units billed on documented visits only,
so a visit without minutes (a MINUTES_MISSING finding) neither raises nor lowers it.

Timed minutes of a working day (``timed_hours_per_day_*``, ``share_days_over_8h``): the documented
minutes of the therapist's visits that date, plus 15 minutes per timed unit billed on undocumented
visits (the CBR's "units x 15").
"""

from __future__ import annotations

import polars as pl

from pipelines.scores.settings import ScoreSettings

NPI = "rendering_npi"
PATIENT_DAY = (NPI, "patient_id", "service_date")
CODE_97112 = "97112"
MINUTES_PER_UNIT = 15


def lazy(frame: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    return frame.lazy() if isinstance(frame, pl.DataFrame) else frame


def key_column(key: str) -> str:
    """The line-frame column holding a peer key's values."""
    return f"peer__{key}"


def line_frame(
    lines: pl.DataFrame | pl.LazyFrame | None, units: pl.DataFrame | pl.LazyFrame, settings: ScoreSettings
) -> pl.DataFrame:
    """One row per line unit with the columns scoring reads (collected once, reused by every step).
    ``lines`` may be None when ``units`` already carries the claim-line columns scoring reads
    (provider_name, peer keys): the warehouse joins them while reading."""
    u = lazy(units)
    ln = lazy(lines) if lines is not None else pl.LazyFrame(schema={"claim_id": pl.String, "line_number": pl.Int64})
    ucols = set(u.collect_schema().names())
    lcols = set(ln.collect_schema().names())
    wanted = {"total_timed_minutes", "provider_name"} | set(settings.peer_keys)
    if "minutes_used" not in ucols:
        wanted.add("minutes")
    wanted.discard("discipline")
    take = sorted(c for c in wanted if c in lcols and c not in ucols)
    unknown = [k for k in settings.peer_keys if k != "discipline" and k not in ucols | lcols]
    if unknown:
        raise ValueError(f"peer_keys: no column {', '.join(map(repr, unknown))} in the line units or claim lines")
    if take:
        u = u.join(ln.select("claim_id", "line_number", *take), on=["claim_id", "line_number"], how="left")
    present = ucols | set(take)

    def col_or_null(name: str, dtype: pl.DataType) -> pl.Expr:
        return pl.col(name).cast(dtype) if name in present else pl.lit(None, dtype=dtype)

    minutes = col_or_null("minutes_used" if "minutes_used" in present else "minutes", pl.Int64())
    timed = pl.col("is_timed").fill_null(False)
    counts = timed & ~col_or_null("duplicate_extra", pl.Boolean()).fill_null(False)
    billed = pl.col("units_billed").cast(pl.Int64).fill_null(0)
    code = pl.col("cpt_code").cast(pl.String).str.strip_chars().str.to_uppercase()
    keys = [
        pl.col(k).cast(pl.String).alias(key_column(k)) for k in settings.peer_keys if k != "discipline"
    ]
    return u.select(
        pl.col(NPI).cast(pl.String),
        pl.col("patient_id").cast(pl.String),
        pl.col("service_date").cast(pl.Date),
        pl.col("claim_id").cast(pl.String),
        pl.col("line_number").cast(pl.Int64),
        pl.col("service_date").cast(pl.Date).dt.truncate("1mo").alias("month_start"),
        pl.col("discipline").cast(pl.String),
        pl.when(timed).then(billed).otherwise(0).alias("timed_units"),
        pl.when(code == CODE_97112).then(billed).otherwise(0).alias("units_97112"),
        # what the minute-based metrics read: timed lines that are not duplicate extras
        pl.when(counts).then(billed).otherwise(0).alias("minute_units"),
        pl.when(counts).then(minutes).alias("line_minutes"),
        (counts & (billed > 0) & minutes.is_null()).alias("lacks_minutes"),
        pl.when(counts).then(col_or_null("total_timed_minutes", pl.Int64())).alias("visit_minutes"),
        col_or_null("provider_name", pl.String()).alias("provider_name"),
        *keys,
    ).filter(pl.col(NPI).is_not_null() & pl.col("service_date").is_not_null()).collect()


def with_periods(frame: pl.LazyFrame, date: str = "service_date") -> pl.LazyFrame:
    """Each row twice: once in its calendar month's period, once in the whole window's ('all')."""
    monthly = frame.with_columns(pl.col(date).dt.strftime("%Y-%m").alias("period"))
    return pl.concat([monthly, frame.with_columns(pl.lit("all").alias("period"))], how="vertical")


def patient_days(line: pl.DataFrame) -> pl.LazyFrame:
    """One row per patient-day: timed units, 97112 units, documented minutes (null when no visit is
    documented), and the timed units of documented and of undocumented visits."""
    line_minutes = pl.col("line_minutes")
    visits = (
        line.lazy()
        .group_by(*PATIENT_DAY, "claim_id")
        .agg(
            pl.col("timed_units").sum(),
            pl.col("units_97112").sum(),
            pl.col("minute_units").sum(),
            pl.when(~pl.col("lacks_minutes").any() & line_minutes.is_not_null().any())
            .then(line_minutes.sum())
            .otherwise(pl.col("visit_minutes").max())
            .alias("documented_minutes"),
        )
        .with_columns(
            pl.when(pl.col("documented_minutes").is_not_null())
            .then(pl.col("minute_units"))
            .otherwise(0)
            .alias("documented_units")
        )
    )
    documented = pl.col("documented_minutes")
    return visits.group_by(*PATIENT_DAY).agg(
        pl.col("timed_units").sum(),
        pl.col("units_97112").sum(),
        pl.when(documented.is_not_null().any()).then(documented.sum()).alias("documented_minutes"),
        pl.col("documented_units").sum(),
        (pl.col("minute_units") - pl.col("documented_units")).sum().alias("undocumented_units"),
    )


def provider_facts(line: pl.DataFrame, days: pl.LazyFrame, settings: ScoreSettings) -> pl.LazyFrame:
    """One row per provider-period: the counts behind the metrics, period bounds, name and peer keys."""
    volume = (
        with_periods(days)
        .group_by(NPI, "period")
        .agg(
            pl.len().cast(pl.Int64).alias("patient_days"),
            pl.col("timed_units").sum().cast(pl.Int64),
            pl.col("units_97112").sum().cast(pl.Int64),
            (pl.col("units_97112") >= settings.daily_limit_97112).sum().cast(pl.Int64).alias("days_97112_at_limit"),
            pl.col("documented_minutes").sum().cast(pl.Int64),
            pl.col("documented_units").sum().cast(pl.Int64),
        )
    )
    day_minutes = (
        pl.col("documented_minutes").fill_null(0) + MINUTES_PER_UNIT * pl.col("undocumented_units")
    ).sum()
    working = (
        days.group_by(NPI, "service_date")
        .agg(day_minutes.cast(pl.Float64).alias("day_minutes"))
        .pipe(with_periods)
        .group_by(NPI, "period")
        .agg(
            pl.len().cast(pl.Int64).alias("working_days"),
            (pl.col("day_minutes") / 60).mean().alias("timed_hours_per_day_mean"),
            (pl.col("day_minutes") / 60).max().alias("timed_hours_per_day_max"),
            (pl.col("day_minutes") > settings.oig_day_minutes).sum().cast(pl.Int64).alias("days_over_8h"),
        )
    )
    facts = (
        volume.join(_patients(days), on=[NPI, "period"], how="left")
        .join(working, on=[NPI, "period"], how="left")
        .join(_period_bounds(line), on="period", how="left")
    )
    labels = ["provider_name", "discipline", *(key_column(k) for k in settings.peer_keys if k != "discipline")]
    # one pass over the lines counts every combination of labels; each mode is read from that
    combinations = line.lazy().group_by(NPI, "month_start", *labels).agg(pl.len().alias("n")).collect()
    for label in labels:
        facts = facts.join(_mode(combinations, label), on=[NPI, "period"], how="left")
    peer_values = [
        pl.col("discipline" if k == "discipline" else key_column(k)).fill_null("(none)") for k in settings.peer_keys
    ]
    return facts.with_columns(pl.concat_str(peer_values, separator=" | ").alias("peer_group"))


def _patients(days: pl.LazyFrame) -> pl.LazyFrame:
    """Distinct patients per provider-period (distinct rows, then counts: much faster than a
    string ``n_unique`` inside a group_by)."""
    monthly = (
        days.select(NPI, pl.col("service_date").dt.strftime("%Y-%m").alias("period"), "patient_id")
        .unique()
        .collect()
    )
    whole = monthly.lazy().select(NPI, "patient_id").unique().group_by(NPI).agg(pl.len().alias("patients"))
    return pl.concat(
        [
            monthly.lazy().group_by(NPI, "period").agg(pl.len().alias("patients")),
            whole.select(NPI, pl.lit("all").alias("period"), "patients"),
        ],
        how="vertical",
    ).with_columns(pl.col("patients").cast(pl.Int64))


def _period_bounds(line: pl.DataFrame) -> pl.LazyFrame:
    months = (
        line.lazy()
        .select(pl.col("month_start").unique())
        .select(
            pl.col("month_start").dt.strftime("%Y-%m").alias("period"),
            pl.col("month_start").alias("period_start"),
            pl.col("month_start").dt.month_end().alias("period_end"),
        )
    )
    whole = line.lazy().select(
        pl.lit("all").alias("period"),
        pl.col("service_date").min().alias("period_start"),
        pl.col("service_date").max().alias("period_end"),
    )
    return pl.concat([months, whole], how="vertical")


def _mode(combinations: pl.DataFrame, column: str) -> pl.LazyFrame:
    """A provider's most frequent non-null value of ``column`` per period, by lines (``n``: lines of
    each combination of labels a month); a tie goes to the smallest value."""
    counts = (
        combinations.lazy()
        .filter(pl.col(column).is_not_null())
        .group_by(NPI, "month_start", column)
        .agg(pl.col("n").sum())
    )
    monthly = counts.select(NPI, pl.col("month_start").dt.strftime("%Y-%m").alias("period"), column, "n")
    whole = counts.group_by(NPI, column).agg(pl.col("n").sum()).select(NPI, pl.lit("all").alias("period"), column, "n")
    return (
        pl.concat([monthly, whole], how="vertical")
        .group_by(NPI, "period")
        .agg(pl.col(column).sort_by([pl.col("n"), pl.col(column)], descending=[True, False]).first())
    )
