"""Peer statistics of each provider metric: peer median, robust z, percentile, proportion test.

A peer group is the providers of one period sharing the values of ``ScoreSettings.peer_keys``
(default: the main discipline, so OT providers are compared only with OT providers). Within a peer
group and period, for each metric (providers whose metric is null, e.g. minutes per unit without any
documented minutes, take no part):

- ``peer_median``: the median of the peers' values (the provider included);
- ``robust_z = (value - peer_median) / scale`` with ``scale = 1.4826 * MAD`` (MAD: median absolute
  deviation from the median; 1.4826 makes it estimate a normal standard deviation). When MAD is 0
  (more than half the peers share one value, typical of finding rates where most providers have
  none) the spread falls back to ``1.2533 * mean absolute deviation`` (sqrt(pi/2): the same
  normal-consistency for the mean deviation). The scale is then floored at ``min_relative_spread``
  (10%) of ``|peer_median|``: in a very uniform peer group a difference of a few percent is not
  three standard deviations of anything that matters. For the proportion metrics the scale is also at
  least ``min_rate_spread`` (0.005: half a percentage point, or 0.005 findings per patient-day):
  their peer median is often 0, where a relative floor is none, and 2 flagged days out of 5,000 are
  not a practical excess however few the peers have. When the scale is still 0 (every peer has the
  same value, 0) ``robust_z`` is 0;
- ``percentile``: mid-rank percentile in the group, ``100 * (rank - 0.5) / n`` (average rank for
  ties), so the single highest of 11 peers is at 95.5 and a value shared by all at 50;
- ``p_value`` (proportion metrics only: patient-days with 97112 at the daily limit, patient-days
  flagged by each rule (working days for OVERLAP and IMPOSSIBLE_DAY), working days over 8 hours):
  the provider's proportion against the pooled REST of the peer group in a 2x2 table, one-sided in
  the bad direction (the provider's proportion higher). Pearson's chi-square (as the signed z of the two-proportion test, without continuity
  correction) when every expected count of the 2x2 table is at least ``min_expected_count``, else an
  exact binomial test of the provider's count against the pooled peer-group proportion (the
  with-replacement form of Fisher's exact test, slightly conservative; Fisher's own hypergeometric
  tail is ~1000 times slower in scipy). Null when the provider is alone in its group or has no
  trials;
- ``significant``: for proportion metrics ``p_value < alpha``; for the other metrics, which have no
  test, ``robust_z`` in the bad direction ``>= outlier_z``. ``timed_hours_per_day_max`` is
  descriptive (one day's extreme is the IMPOSSIBLE_DAY rule's business): it has its peer statistics
  but is never significant, so it adds nothing to the risk score.

For the rate metrics the displayed value is findings per patient-day (a line-grain rule can raise
several findings on one day) while the test counts flagged patient-days (flagged working days for the
therapist-day rules), a true proportion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import special

from pipelines.scores.attribution import THERAPIST_DAY_RULES, flagged_column, rule_column
from pipelines.scores.facts import NPI
from pipelines.scores.settings import ScoreSettings

MAD_CONSISTENCY = 1.4826
MEAN_AD_CONSISTENCY = 1.2533
GROUP = ("period", "peer_group", "metric")


@dataclass(frozen=True)
class Metric:
    """One provider metric: its column, words for the reasons, bad direction, test counts."""

    name: str
    label: str
    direction: str = "high"
    successes: str | None = None
    trials: str | None = None
    percent: bool = False
    scored: bool = True


def metric_specs(rules: list[str], settings: ScoreSettings) -> list[Metric]:
    """Every metric compared with peers, in the order of the provider_scores columns."""
    return [
        Metric("timed_units_per_patient_day", "timed units per patient-day"),
        Metric("units_97112_per_patient_day", "97112 units per patient-day"),
        Metric("share_97112_of_timed_units", "97112 share of timed units", percent=True),
        Metric("minutes_per_timed_unit", "documented minutes per timed unit", direction="low"),
        Metric(
            "share_days_97112_at_limit",
            f"patient-days with 97112 at the daily limit ({settings.daily_limit_97112} units)",
            successes="days_97112_at_limit",
            trials="patient_days",
            percent=True,
        ),
        *(
            Metric(
                rule_column(r),
                f"{r} findings per patient-day",
                successes=flagged_column(r),
                trials="working_days" if r in THERAPIST_DAY_RULES else "patient_days",
            )
            for r in rules
        ),
        Metric("timed_hours_per_day_mean", "timed hours per working day"),
        Metric("timed_hours_per_day_max", "timed hours on the longest day", scored=False),
        Metric(
            "share_days_over_8h",
            f"working days over {settings.oig_day_minutes / 60:g} timed hours",
            successes="days_over_8h",
            trials="working_days",
            percent=True,
        ),
    ]


def long_metrics(wide: pl.DataFrame, metrics: list[Metric]) -> pl.DataFrame:
    """One row per provider-period-metric with the value and, for proportions, the test counts."""
    null_count = pl.lit(None, dtype=pl.Int64)
    parts = [
        wide.select(
            "period",
            NPI,
            "peer_group",
            pl.lit(m.name).alias("metric"),
            pl.lit(m.label).alias("label"),
            pl.col(m.name).cast(pl.Float64).alias("value"),
            (pl.col(m.successes).cast(pl.Int64) if m.successes else null_count).alias("successes"),
            (pl.col(m.trials).cast(pl.Int64) if m.trials else null_count).alias("trials"),
            pl.lit(m.direction).alias("direction_bad"),
            pl.lit(m.percent).alias("percent"),
            pl.lit(m.scored).alias("scored"),
        )
        for m in metrics
    ]
    return pl.concat(parts, how="vertical")


def peer_statistics(long: pl.DataFrame, settings: ScoreSettings) -> pl.DataFrame:
    """``long`` with peer_median, robust_z, percentile, p_value, significant, z_bad."""
    group = list(GROUP)
    value = pl.col("value")
    dev = (value - pl.col("peer_median")).abs()
    spread = (
        pl.when(pl.col("_mad") > 0)
        .then(MAD_CONSISTENCY * pl.col("_mad"))
        .otherwise(MEAN_AD_CONSISTENCY * pl.col("_mean_ad"))
    )
    rate_floor = pl.when(pl.col("trials").is_not_null()).then(settings.min_rate_spread).otherwise(0.0)
    scale = pl.max_horizontal(spread, settings.min_relative_spread * pl.col("peer_median").abs(), rate_floor)
    out = (
        long.with_columns(
            value.median().over(group).alias("peer_median"),
            value.count().over(group).alias("_n"),
            value.rank("average").over(group).alias("_rank"),
            pl.col("successes").sum().over(group).alias("_group_successes"),
            pl.col("trials").sum().over(group).alias("_group_trials"),
        )
        .with_columns(dev.median().over(group).alias("_mad"), dev.mean().over(group).alias("_mean_ad"))
        .with_columns(scale.alias("_scale"))
        .with_columns(
            pl.when(value.is_null())
            .then(None)
            .when(pl.col("_scale").is_null() | (pl.col("_scale") <= 0))
            .then(0.0)
            .otherwise((value - pl.col("peer_median")) / pl.col("_scale"))
            .alias("robust_z"),
            (100.0 * (pl.col("_rank") - 0.5) / pl.col("_n")).alias("percentile"),
        )
    )
    p_values = pl.Series("p_value", _proportion_p_values(out, settings), dtype=pl.Float64).fill_nan(None)
    out = out.with_columns(p_values)
    z_bad = pl.when(pl.col("direction_bad") == "low").then(-pl.col("robust_z")).otherwise(pl.col("robust_z"))
    tested = pl.col("trials").is_not_null()
    return (
        out.with_columns(z_bad.alias("z_bad"))
        .with_columns(
            pl.when(~pl.col("scored"))
            .then(False)
            .when(tested)
            .then(pl.col("p_value") < settings.alpha)
            .otherwise(pl.col("z_bad") >= settings.outlier_z)
            .fill_null(False)
            .alias("significant")
        )
        .drop("_n", "_rank", "_group_successes", "_group_trials", "_mad", "_mean_ad", "_scale", "scored")
    )


def _proportion_p_values(frame: pl.DataFrame, settings: ScoreSettings) -> np.ndarray:
    """One-sided p-value of each provider's proportion against the rest of its peer group (NaN ->
    null where there is no test). Vectorized over all rows at once."""
    a = frame["successes"].to_numpy().astype(float)
    n1 = frame["trials"].to_numpy().astype(float)
    b = frame["_group_successes"].to_numpy().astype(float) - a
    n2 = frame["_group_trials"].to_numpy().astype(float) - n1
    low = (frame["direction_bad"] == "low").to_numpy()
    valid = np.isfinite(a) & np.isfinite(n1) & (n1 > 0) & (n2 > 0) & np.isfinite(n2)
    # rows without a test get a harmless 0-of-1 vs 0-of-1 table; their p-value is masked below
    a, b = (np.where(valid, x, 0.0) for x in (a, b))
    n1, n2 = (np.where(valid, x, 1.0) for x in (n1, n2))
    big_n = n1 + n2
    k = a + b
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = np.where(big_n > 0, k / big_n, 0.0)
        expected = np.minimum.reduce([n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled)])
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        z = np.where(se > 0, (a / n1 - b / n2) / se, 0.0)
    # scipy.special.ndtr (what scipy.stats.norm calls): scipy.stats would add its import time to every review
    chi_square = np.where(low, special.ndtr(z), special.ndtr(-z))
    chi_square = np.where(se > 0, chi_square, 1.0)
    # The exact test: the provider's count against Binomial(trials, pooled peer proportion), the
    # with-replacement form of Fisher's exact test (a little conservative: the binomial tail is
    # heavier than the hypergeometric one). scipy's binomial tail is a true ufunc; its
    # hypergeometric tail costs ~100 microseconds an element.
    # P(X <= a) and P(X >= a): scipy.special's binomial cdf (bdtr) and survival function (bdtrc),
    # equal to scipy.stats.binom's to ~1e-11 (a test compares them); a >= 0 here
    trials = n1.astype(np.int64)
    exact = np.where(low, special.bdtr(a, trials, pooled), special.bdtrc(a - 1, trials, pooled))
    p = np.where(expected >= settings.min_expected_count, chi_square, exact)
    return np.where(valid, np.clip(p, 0.0, 1.0), np.nan)
