"""Provider scores: who is reviewed first, who is an outlier, and why.

Domain doc, "Peer comparison": CMS compared each therapist with peers and "tested percentages with a
chi-square test at 0.05". The risk formula and the outlier rule: ``pipelines/scores/score.py``.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.scores import ScoreSettings, compute_scores, provider_metrics, provider_scores
from tests.test_scores_data import NO_FINDINGS, Provider, claims, findings, npi, peers, row

HEAVY = "1999999993"  # bills about 3.9 units of 97112 every patient-day
TINY = "1888888888"  # 5 patient-days, extreme numbers


@pytest.fixture(scope="module")
def upcoder():
    """10 PT therapists billing about one unit of 97112 a patient-day, one billing about 3.9."""
    heavy = Provider(HEAVY, units_97112=[4, 4, 4, 4, 4, 4, 4, 4, 4, 3], units_other=1)
    lines, units = claims([*peers(10), heavy])
    return compute_scores(lines, units, NO_FINDINGS)


def test_the_97112_upcoder_ranks_first_and_is_an_outlier(upcoder):
    top = row(upcoder.scores, HEAVY)
    assert top["risk_rank"] == 1
    assert top["outlier"] is True
    assert top["units_97112_per_patient_day"] == pytest.approx(3.9)
    assert top["reasons"].startswith("97112 units per patient-day 3.9 vs peer median 1.2")
    assert "percentile" in top["reasons"]


def test_ordinary_peers_are_not_outliers_and_have_no_reasons(upcoder):
    others = upcoder.scores.filter(pl.col("rendering_npi") != HEAVY)
    assert not others["outlier"].any()
    assert set(others["reasons"]) == {""}


def test_the_upcoder_excess_is_significant_in_the_long_form(upcoder):
    m = upcoder.metrics.filter((pl.col("rendering_npi") == HEAVY) & (pl.col("period") == "all"))
    per_day = m.filter(pl.col("metric") == "units_97112_per_patient_day").row(0, named=True)
    assert per_day["significant"] and per_day["robust_z"] >= 3 and per_day["direction_bad"] == "high"
    assert per_day["p_value"] is None  # not a proportion: no test, the robust z decides
    at_limit = m.filter(pl.col("metric") == "share_days_97112_at_limit").row(0, named=True)
    assert at_limit["value"] == pytest.approx(0.9)
    assert at_limit["p_value"] < 0.001 and at_limit["significant"]


def test_low_volume_provider_is_scored_but_never_an_outlier():
    tiny = Provider(TINY, days=5, units_97112=8, units_other=6, minutes_per_unit=5)
    lines, units = claims([*peers(10), tiny])
    scores = provider_scores(lines, units, NO_FINDINGS)
    r = row(scores, TINY)
    assert r["volume_ok"] is False and r["outlier"] is False
    assert r["reasons"].startswith("low volume: 5 patient-days (< 30)")
    assert "97112 units per patient-day 8.0" in r["reasons"]
    assert r["risk_score"] > 0  # scored, with its evidence scaled by 5/30


def test_low_volume_alone_is_the_whole_reason_when_nothing_else_stands_out():
    lines, units = claims([*peers(10), Provider(TINY, days=5)])
    r = row(provider_scores(lines, units, NO_FINDINGS), TINY)
    assert r["reasons"] == "low volume: 5 patient-days (< 30)"


def test_volume_threshold_is_a_setting():
    tiny = Provider(TINY, days=5, units_97112=8, units_other=6)
    lines, units = claims([*peers(10), tiny])
    r = row(provider_scores(lines, units, NO_FINDINGS, ScoreSettings(min_patient_days=5)), TINY)
    assert r["volume_ok"] and r["outlier"]
    assert "low volume" not in r["reasons"]


def test_ranks_run_1_to_n_without_gaps_in_every_period():
    # 30 days a provider, 1 patient-day a date from Jan 20: two monthly periods plus 'all'
    providers = [
        Provider(npi(i), days=30 + 3 * i, per_date=1, start=date(2024, 1, 20), units_97112=1 + i % 3) for i in range(7)
    ]
    lines, units = claims(providers)
    scores = provider_scores(lines, units, NO_FINDINGS)
    assert sorted(set(scores["period"])) == ["2024-01", "2024-02", "2024-03", "all"]
    per_period = scores.group_by("period").agg(pl.col("risk_rank").sort(), pl.len())
    for ranks, n in per_period.select("risk_rank", "len").iter_rows():
        assert ranks == list(range(1, n + 1))
    assert scores.select(pl.struct("period", "rendering_npi").is_unique().all()).item()


def test_periods_are_calendar_months_and_the_whole_window():
    providers = [Provider(npi(i), days=40, per_date=1, start=date(2024, 1, 25)) for i in range(3)]
    lines, units = claims(providers)
    scores = provider_scores(lines, units, NO_FINDINGS)
    bounds = scores.select("period", "period_start", "period_end").unique().sort("period")
    assert bounds.rows() == [
        ("2024-01", date(2024, 1, 1), date(2024, 1, 31)),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
        ("2024-03", date(2024, 3, 1), date(2024, 3, 31)),
        ("all", date(2024, 1, 25), date(2024, 3, 4)),
    ]
    jan = row(scores, npi(0), "2024-01")
    assert jan["patient_days"] == 7  # Jan 25..31
    assert row(scores, npi(0))["patient_days"] == 40


def _risk_findings(amounts: dict[str, float]) -> pl.DataFrame:
    return findings(
        [
            {
                "rule_id": "UNITS_OVER_MINUTES",
                "rendering_npi": who,
                "patient_id": f"{who}-P0",
                "service_date": date(2024, 1, 1),
                "units_over": 1,
                "amount_at_risk": amount,
            }
            for who, amount in amounts.items()
        ]
    )


def test_more_amount_at_risk_never_worsens_a_rank():
    providers = [Provider(npi(i), units_97112=[1, 1 + i % 2, 1]) for i in range(8)]
    providers.append(Provider(HEAVY, units_97112=3))
    lines, units = claims(providers)
    base = {p.npi: 25.0 * (k + 1) for k, p in enumerate(providers)}
    before = provider_scores(lines, units, _risk_findings(base))
    for who in [npi(0), npi(5), HEAVY]:
        for extra in (1.0, 100.0, 10_000.0):
            after = provider_scores(lines, units, _risk_findings({**base, who: base[who] + extra}))
            assert row(after, who)["risk_rank"] <= row(before, who)["risk_rank"]
            assert row(after, who)["risk_score"] > row(before, who)["risk_score"]


def test_ties_break_on_amount_at_risk_then_npi():
    # identical billing: equal evidence; one has more dollars at risk, two are tied on everything
    providers = [Provider(npi(i)) for i in range(3)]
    lines, units = claims(providers)
    scores = provider_scores(lines, units, _risk_findings({npi(0): 10.0, npi(1): 10.0, npi(2): 50.0}))
    ranked = scores.filter(pl.col("period") == "all").sort("risk_rank")["rendering_npi"].to_list()
    assert ranked == [npi(2), npi(0), npi(1)]


def test_dollars_at_risk_raise_the_score_by_the_documented_weight():
    lines, units = claims([Provider(npi(i)) for i in range(3)])
    scores = provider_scores(lines, units, _risk_findings({npi(0): 999.0}))
    assert row(scores, npi(0))["risk_score"] == pytest.approx(2.0 * 3.0)  # 2 * log10(1 + 999)
    assert row(scores, npi(1))["risk_score"] == 0.0


def test_outputs_are_sorted_and_typed(upcoder):
    scores = upcoder.scores
    assert scores.select(pl.col("period").is_sorted()).item()
    assert scores.schema["risk_rank"] == pl.Int64 and scores.schema["outlier"] == pl.Boolean
    assert scores.schema["period_start"] == pl.Date and scores.schema["reasons"] == pl.String
    first = scores.columns[:4]
    assert first == ["period", "period_start", "period_end", "rendering_npi"]
    assert scores.columns[-5:] == ["risk_score", "risk_rank", "outlier", "volume_ok", "reasons"]
    assert upcoder.metrics.columns[:4] == ["period", "rendering_npi", "peer_group", "metric"]


def test_provider_metrics_matches_compute_scores(upcoder):
    lines, units = claims([*peers(10), Provider(HEAVY, units_97112=[4, 4, 4, 4, 4, 4, 4, 4, 4, 3], units_other=1)])
    assert provider_metrics(lines, units, NO_FINDINGS).equals(upcoder.metrics)


def test_no_lines_give_empty_tables_with_the_same_columns(upcoder):
    lines, units = claims([])
    result = compute_scores(lines, units, None)
    assert result.scores.height == 0 and result.scores.schema == upcoder.scores.schema
    assert result.metrics.height == 0 and result.metrics.schema == upcoder.metrics.schema


@settings(max_examples=25, deadline=None)
@given(
    heavy_days=st.lists(st.integers(1, 6), min_size=1, max_size=6),
    amounts=st.lists(st.floats(0, 5_000), min_size=6, max_size=6),
    who=st.integers(0, 5),
    extra=st.floats(0.01, 1e6),
)
def test_rank_is_monotone_in_amount_at_risk_for_any_billing(heavy_days, amounts, who, extra):
    providers = [
        Provider(npi(i), days=20 + 5 * i, units_97112=heavy_days if i == 0 else [1, 1 + i % 2]) for i in range(6)
    ]
    lines, units = claims(providers)
    base = {npi(i): amounts[i] for i in range(6)}
    before = provider_scores(lines, units, _risk_findings(base))
    after = provider_scores(lines, units, _risk_findings({**base, npi(who): base[npi(who)] + extra}))
    for period in set(before["period"]):
        assert row(after, npi(who), period)["risk_rank"] <= row(before, npi(who), period)["risk_rank"]
        ranks = after.filter(pl.col("period") == period)["risk_rank"].sort().to_list()
        assert ranks == list(range(1, len(ranks) + 1))


def test_equal_dollars_rank_by_npi_whatever_the_last_bits_of_their_sums():
    """Summing the same amounts in another order changes the last bits of a float (0.1 + 0.2 is not
    0.3): two providers with equal dollars at risk must rank by NPI in every review."""
    from pipelines.scores.score import _rank

    noisy = 0.1 + 0.2  # 0.30000000000000004
    wide = pl.DataFrame(
        {
            "period": ["all", "all"],
            "rendering_npi": ["1000000002", "1000000001"],
            "patient_days": [100, 100],
            "amount_at_risk": [noisy, 0.3],
            "_evidence": [0.0, 0.0],
            "_strong": [False, False],
            "_metric_reasons": [None, None],
        },
        schema_overrides={"_metric_reasons": pl.String},
    )
    ranked = _rank(wide, ScoreSettings())
    assert ranked.sort("risk_rank")["rendering_npi"].to_list() == ["1000000001", "1000000002"]
