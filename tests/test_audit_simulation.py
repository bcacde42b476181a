"""Coverage: the two-sided 90% interval of the appraisal covers the true overpayment total in about
90% of repeated samples from a generated provider (400 draws each, through the real draw and
appraisal code: frame, strata, PCG64 selection, variable appraisal)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from pipelines.audit import draw as draws
from pipelines.audit.appraise import StratumFrame, appraise

REPETITIONS = 400


def generated_provider(seed: int = 12, days: int = 1500) -> pl.DataFrame:
    """A provider's frame of beneficiary-days with a known overpayment per day: about a quarter of
    the days are overbilled by 15-100% of their paid amount (skewed amounts, many zeros)."""
    rng = np.random.default_rng(seed)
    start = dt.date(2025, 11, 1)
    examined = np.round(rng.lognormal(mean=4.6, sigma=0.45, size=days), 2)
    wrong = rng.random(days) < 0.25
    share = rng.uniform(0.15, 1.0, size=days)
    overpaid = np.where(wrong, np.round(examined * share, 2), 0.0)
    return (
        pl.DataFrame(
            {
                "patient_id": [f"SIM-{i:05d}" for i in range(days)],
                "service_date": [start + dt.timedelta(days=int(d)) for d in rng.integers(0, 360, size=days)],
                "lines": np.full(days, 3),
                "examined_amount": examined,
                "amount_basis": ["paid"] * days,
                "overpaid": overpaid,
            }
        )
        .unique(["patient_id", "service_date"])
        .sort("service_date", "patient_id")
    )


def coverage(frame: pl.DataFrame, make_request) -> tuple[float, float]:
    truth = float(frame["overpaid"].sum())
    covered, estimates = 0, []
    truth_by_key = dict(
        zip(zip(frame["patient_id"], frame["service_date"], strict=True), frame["overpaid"], strict=True)
    )
    for rep in range(REPETITIONS):
        request = make_request(rep)
        strata, items, _ = draws.draw_from_frame(request, frame)
        audited = items.with_columns(
            (
                pl.col("examined_amount")
                - pl.Series([truth_by_key[k] for k in zip(items["patient_id"], items["service_date"], strict=True)])
            ).alias("audited_amount")
        )
        result = appraise(
            audited, [StratumFrame(s.stratum.number, s.stratum.label, s.frame_size, s.sample_size) for s in strata]
        )
        lim = result.overall.at(0.90)
        covered += lim.lower <= truth <= lim.upper
        estimates.append(result.overall.estimate)
    return covered / REPETITIONS, float(np.mean(estimates)) / truth


def test_unrestricted_90_percent_interval_covers_about_90_percent():
    frame = generated_provider()
    rate, bias = coverage(frame, lambda rep: draws.DrawRequest(npi="SIM", seed=1000 + rep, size=120))
    assert 0.85 <= rate <= 0.95, rate
    assert abs(bias - 1) < 0.03  # the point estimate is unbiased


def test_stratified_90_percent_interval_covers_about_90_percent():
    frame = generated_provider()
    rate, bias = coverage(
        frame, lambda rep: draws.DrawRequest(npi="SIM", seed=5000 + rep, size=120, bounds=[0, 80, 150])
    )
    assert 0.85 <= rate <= 0.95, rate
    assert abs(bias - 1) < 0.03
