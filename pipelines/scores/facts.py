"""Provider facts per review period: the counts every provider metric is a ratio of.

Grains, from fine to coarse:
- line: one line unit (``units``) with what scoring reads from its claim line (``lines``);
- patient-day: one rendering NPI, one patient, one service date (all the therapist's lines for that
  patient that day); OIG audits sample beneficiary-days, and every rate is per patient-day;
- therapist-day: one rendering NPI, one service date (a "working day");
- provider-period: one rendering NPI in one review period, a calendar month ``'YYYY-MM'`` or the
  whole window ``'all'``.

Every grain below the provider-period lies within one calendar service month, so scoring reads the
lines a month at a time (``month_facts``; a piece may hold several whole months, never part of one)
and keeps per provider and month only what the periods need: counts that add up over months
(patient-days and working days never cross a month), the longest day, the distinct patients, and
how many lines carry each combination of labels (name, discipline, peer keys). ``provider_periods``
then gives each month's facts and derives the whole window's from the months: the sums, the
longest day, the distinct patients over all months (a patient seen in two months counts once), the
most frequent label over the summed line counts, and the first to the last service date.

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
visits (the CBR's "units x 15"). The mean is the period's timed minutes over its working days.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipelines.scores.settings import ScoreSettings

NPI = "rendering_npi"
PATIENT_DAY = (NPI, "patient_id", "service_date")
CODE_97112 = "97112"
MINUTES_PER_UNIT = 15

MONTH_START = pl.col("service_date").dt.truncate("1mo").alias("month_start")
PERIOD_OF_MONTH = pl.col("month_start").dt.strftime("%Y-%m").alias("period")
WHOLE = pl.lit("all").alias("period")
# A provider's counts that add up over its months.
ADDITIVE = (
    "patient_days",
    "timed_units",
    "units_97112",
    "days_97112_at_limit",
    "documented_minutes",
    "documented_units",
    "working_days",
    "working_day_minutes",
    "days_over_8h",
)
LONGEST = ("longest_day_minutes",)


@dataclass(frozen=True)
class MonthFacts:
    """What scoring keeps of some whole service months' lines (``month_facts``), all small."""

    providers: pl.DataFrame  # per NPI and month_start: the ADDITIVE counts, LONGEST and patients
    patients: pl.DataFrame  # the distinct (NPI, patient_id)
    labels: pl.DataFrame  # per NPI, month_start and combination of label_columns: lines (n)
    dates: pl.DataFrame  # per month_start: its first and last service date (first_day, last_day)


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
    keys = [pl.col(k).cast(pl.String).alias(key_column(k)) for k in settings.peer_keys if k != "discipline"]
    return (
        u.select(
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
        )
        .filter(pl.col(NPI).is_not_null() & pl.col("service_date").is_not_null())
        .collect()
    )


def empty_line_frame(settings: ScoreSettings) -> pl.DataFrame:
    """A line frame without rows (what a warehouse without line units gives)."""
    units = pl.DataFrame(
        schema={
            "claim_id": pl.String,
            "line_number": pl.Int64,
            NPI: pl.String,
            "patient_id": pl.String,
            "service_date": pl.Date,
            "discipline": pl.String,
            "cpt_code": pl.String,
            "is_timed": pl.Boolean,
            "units_billed": pl.Int64,
            **{k: pl.String for k in settings.peer_keys if k != "discipline"},
        }
    )
    return line_frame(None, units, settings)


def label_columns(settings: ScoreSettings) -> list[str]:
    """The line-frame columns whose most frequent value a provider-period takes."""
    return ["provider_name", "discipline", *(key_column(k) for k in settings.peer_keys if k != "discipline")]


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


def month_facts(line: pl.DataFrame, days: pl.LazyFrame, settings: ScoreSettings) -> MonthFacts:
    """What the line frame ``line`` (whole service months) and its patient-days give the periods."""
    provider_month = [NPI, "month_start"]
    days = days.with_columns(MONTH_START)
    volume = days.group_by(provider_month).agg(
        pl.len().cast(pl.Int64).alias("patient_days"),
        pl.col("timed_units").sum().cast(pl.Int64),
        pl.col("units_97112").sum().cast(pl.Int64),
        (pl.col("units_97112") >= settings.daily_limit_97112).sum().cast(pl.Int64).alias("days_97112_at_limit"),
        pl.col("documented_minutes").sum().cast(pl.Int64),
        pl.col("documented_units").sum().cast(pl.Int64),
    )
    day_minutes = (pl.col("documented_minutes").fill_null(0) + MINUTES_PER_UNIT * pl.col("undocumented_units")).sum()
    working = (
        days.group_by(NPI, "service_date", "month_start")
        .agg(day_minutes.cast(pl.Int64).alias("day_minutes"))
        .group_by(provider_month)
        .agg(
            pl.len().cast(pl.Int64).alias("working_days"),
            pl.col("day_minutes").sum().alias("working_day_minutes"),
            pl.col("day_minutes").max().alias("longest_day_minutes"),
            (pl.col("day_minutes") > settings.oig_day_minutes).sum().cast(pl.Int64).alias("days_over_8h"),
        )
    )
    # distinct rows, then counts: much faster than a string n_unique inside a group_by
    seen = days.select(NPI, "month_start", "patient_id").unique().collect()
    patients = seen.lazy().group_by(provider_month).agg(pl.len().cast(pl.Int64).alias("patients"))
    providers = (
        volume.join(working, on=provider_month, how="left")
        .join(patients, on=provider_month, how="left")
        .select(*provider_month, *ADDITIVE, *LONGEST, "patients")
    )
    labels = label_columns(settings)
    return MonthFacts(
        providers=providers.collect(),
        patients=seen.select(NPI, "patient_id").unique(),
        labels=line.lazy().group_by(NPI, "month_start", *labels).agg(pl.len().alias("n")).collect(),
        dates=line.lazy()
        .group_by("month_start")
        .agg(pl.col("service_date").min().alias("first_day"), pl.col("service_date").max().alias("last_day"))
        .collect(),
    )


def provider_periods(months: list[MonthFacts], settings: ScoreSettings) -> pl.LazyFrame:
    """One row per provider-period: the counts behind the metrics, period bounds, name and peer keys;
    the months' own, and the whole window's derived from them."""
    monthly = pl.concat([m.providers for m in months], how="vertical").lazy()
    distinct = pl.concat([m.patients for m in months], how="vertical").lazy().unique()
    patients = pl.concat(
        [
            monthly.select(NPI, PERIOD_OF_MONTH, "patients"),
            distinct.group_by(NPI).agg(pl.len().cast(pl.Int64).alias("patients")).select(NPI, WHOLE, "patients"),
        ],
        how="vertical",
    )
    facts = (
        by_period(monthly, [NPI], sums=ADDITIVE, maxima=LONGEST)
        .join(patients, on=[NPI, "period"], how="left")
        .join(_period_bounds(pl.concat([m.dates for m in months], how="vertical")), on="period", how="left")
        .with_columns(
            (pl.col("working_day_minutes") / (60 * pl.col("working_days"))).alias("timed_hours_per_day_mean"),
            (pl.col("longest_day_minutes") / 60).alias("timed_hours_per_day_max"),
        )
    )
    combinations = pl.concat([m.labels for m in months], how="vertical")
    for label in label_columns(settings):
        facts = facts.join(_mode(combinations, label), on=[NPI, "period"], how="left")
    peer_values = [
        pl.col("discipline" if k == "discipline" else key_column(k)).fill_null("(none)") for k in settings.peer_keys
    ]
    return facts.with_columns(pl.concat_str(peer_values, separator=" | ").alias("peer_group"))


def by_period(
    monthly: pl.DataFrame | pl.LazyFrame, keys: list[str], sums: tuple[str, ...], maxima: tuple[str, ...] = ()
) -> pl.LazyFrame:
    """Rows per ``keys`` and ``month_start`` as rows of their month's period, plus per ``keys`` one
    row of the whole window ('all'): the sums (and maxima) over its months."""
    columns = [*keys, "period", *sums, *maxima]
    months = lazy(monthly)
    whole = months.group_by(keys).agg(pl.col(list(sums)).sum(), *(pl.col(c).max() for c in maxima))
    return pl.concat(
        [months.with_columns(PERIOD_OF_MONTH).select(columns), whole.with_columns(WHOLE).select(columns)],
        how="vertical",
    )


def _period_bounds(dates: pl.DataFrame) -> pl.LazyFrame:
    """Each month's first and last calendar day; the whole window's first and last service date."""
    months = dates.lazy().select(
        PERIOD_OF_MONTH,
        pl.col("month_start").alias("period_start"),
        pl.col("month_start").dt.month_end().alias("period_end"),
    )
    whole = dates.lazy().select(
        WHOLE, pl.col("first_day").min().alias("period_start"), pl.col("last_day").max().alias("period_end")
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
    monthly = counts.select(NPI, PERIOD_OF_MONTH, column, "n")
    whole = counts.group_by(NPI, column).agg(pl.col("n").sum()).select(NPI, WHOLE, column, "n")
    return (
        pl.concat([monthly, whole], how="vertical")
        .group_by(NPI, "period")
        .agg(pl.col(column).sort_by([pl.col("n"), pl.col(column)], descending=[True, False]).first())
    )
