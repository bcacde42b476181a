"""Peer groups and peer statistics (``pipelines/scores/peers.py``).

A provider is compared only with providers of the same peer group and period: by default the same
main discipline (PT with PT, OT with OT); ``peer_keys`` can add the billing provider (the clinic) or
any other column. Robust z = (x - peer median) / (1.4826 * MAD), with documented guards when MAD is 0.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import polars as pl
import pytest

from pipelines.scores import ScoreSettings, compute_scores, provider_scores
from pipelines.scores.peers import _proportion_p_values
from tests.test_scores_data import NO_FINDINGS, Provider, claims, npi, peers, row

OT_HEAVY = "1777777777"


def _ot(i: int, **kwargs) -> Provider:
    return Provider(f"{1_000_000_500 + i}", discipline="OT", other_code="97530", **kwargs)


def test_ot_providers_are_compared_only_with_ot_peers():
    # OT therapists here bill 3 units of 97112 a day; PT therapists about 1. An OT at 3 units is
    # ordinary among OT peers even though it would be extreme among PT peers.
    ot = [_ot(i, units_97112=[3, 3, 3, 2][: 1 + i % 4]) for i in range(6)]
    lines, units = claims([*peers(10), *ot])
    result = compute_scores(lines, units, NO_FINDINGS)
    groups = result.scores.filter(pl.col("period") == "all").group_by("peer_group").agg(pl.len())
    assert dict(groups.iter_rows()) == {"PT": 10, "OT": 6}
    assert not result.scores["outlier"].any()
    ot_row = row(result.scores, ot[0].npi)
    assert ot_row["discipline"] == "OT" and ot_row["peer_group"] == "OT"
    median = result.metrics.filter(
        (pl.col("rendering_npi") == ot[0].npi)
        & (pl.col("period") == "all")
        & (pl.col("metric") == "units_97112_per_patient_day")
    )["peer_median"].item()
    assert median >= 3


def test_an_ot_outlier_is_found_among_ot_peers_only():
    ot = [_ot(i, units_97112=2) for i in range(5)]
    ot[0] = _ot(0, units_97112=[2, 3])
    heavy = Provider(OT_HEAVY, discipline="OT", other_code="97530", units_97112=4)
    lines, units = claims([*peers(10), *ot, heavy])
    scores = provider_scores(lines, units, NO_FINDINGS, ScoreSettings(top_reasons=10))
    ot_rows = scores.filter((pl.col("period") == "all") & (pl.col("peer_group") == "OT"))
    assert ot_rows.height == 6
    assert row(scores, OT_HEAVY)["outlier"]
    # ranked with everyone in the period, but measured against the OT peers' median (2), not PT's
    assert "97112 units per patient-day 4.0 vs peer median 2.0 (" in row(scores, OT_HEAVY)["reasons"]


def test_main_discipline_is_the_most_frequent():
    pt = Provider(npi(0), days=40)
    ot = Provider(npi(0), days=10, discipline="OT", start=date(2024, 6, 1), patients=3)
    lines, units = claims([pt, ot])
    lines = lines.with_columns(pl.format("{}-{}", "claim_id", pl.col("service_date").dt.month()).alias("claim_id"))
    units = units.with_columns(pl.format("{}-{}", "claim_id", pl.col("service_date").dt.month()).alias("claim_id"))
    scores = provider_scores(lines, units, NO_FINDINGS)
    assert row(scores, npi(0))["discipline"] == "PT"
    assert row(scores, npi(0), "2024-06")["discipline"] == "OT"


def test_peer_keys_with_billing_provider_split_the_groups():
    clinic_a = [Provider(npi(i), billing="1111111111", units_97112=[1, 1, 2]) for i in range(6)]
    clinic_b = [Provider(npi(10 + i), billing="2222222222", units_97112=[3, 3, 4]) for i in range(6)]
    lines, units = claims([*clinic_a, *clinic_b])
    by_discipline = provider_scores(lines, units, NO_FINDINGS)
    assert set(by_discipline["peer_group"]) == {"PT"}
    settings = ScoreSettings(peer_keys=["discipline", "billing_provider"])
    by_clinic = provider_scores(lines, units, NO_FINDINGS, settings)
    assert set(by_clinic["peer_group"]) == {"PT | 1111111111", "PT | 2222222222"}
    # within its own clinic, a clinic-B therapist is ordinary
    b = row(by_clinic, npi(10))
    assert b["reasons"] == "" and not b["outlier"]


def test_a_claim_line_column_can_be_a_peer_key():
    providers = [Provider(npi(i), clinic="North" if i < 4 else "South") for i in range(8)]
    lines, units = claims(providers)
    scores = provider_scores(lines, units, NO_FINDINGS, ScoreSettings(peer_keys=("clinic_name",)))
    assert set(scores["peer_group"]) == {"North", "South"}
    assert row(scores, npi(0))["discipline"] == "PT"


def test_an_unknown_peer_key_is_an_error_naming_it():
    lines, units = claims(peers(3))
    with pytest.raises(ValueError, match="no_such_column"):
        provider_scores(lines, units, NO_FINDINGS, ScoreSettings(peer_keys=("discipline", "no_such_column")))


def test_identical_peers_have_mad_zero_and_z_zero():
    lines, units = claims([Provider(npi(i)) for i in range(6)])
    result = compute_scores(lines, units, NO_FINDINGS)
    assert result.metrics["robust_z"].drop_nulls().abs().max() == 0
    assert not result.metrics["significant"].any()
    assert result.scores["risk_score"].max() == 0
    assert result.scores.filter(pl.col("period") == "all")["risk_rank"].sort().to_list() == list(range(1, 7))


def test_mad_zero_falls_back_to_the_mean_absolute_deviation():
    # 9 therapists at exactly 1 unit of 97112 a day (MAD 0), one at 2
    providers = [Provider(npi(i)) for i in range(9)] + [Provider(npi(9), units_97112=2)]
    lines, units = claims(providers)
    metrics = compute_scores(lines, units, NO_FINDINGS).metrics
    z = metrics.filter(
        (pl.col("period") == "all")
        & (pl.col("metric") == "units_97112_per_patient_day")
        & (pl.col("rendering_npi") == npi(9))
    ).row(0, named=True)
    mean_ad = 1 / 10
    assert z["peer_median"] == 1.0
    assert z["robust_z"] == pytest.approx(1 / (1.2533 * mean_ad))
    assert math.isfinite(z["robust_z"]) and z["significant"]


def test_relative_spread_floor_keeps_tiny_differences_ordinary():
    # peers differ by 1-2%: MAD is tiny, but a 3% excess is not 3 standard deviations of anything
    patterns = [[1] * 50 + [2], [1] * 60 + [2], [1] * 55 + [2], [1] * 45 + [2], [1] * 52 + [2]]
    providers = [Provider(npi(i), days=120, units_97112=p) for i, p in enumerate(patterns)]
    providers.append(Provider(npi(9), days=120, units_97112=[1] * 30 + [2]))
    lines, units = claims(providers)
    scores = provider_scores(lines, units, NO_FINDINGS)
    assert not scores["outlier"].any()


def test_robust_z_and_percentile_on_a_hand_computed_group():
    # 97112 units per patient-day: 1, 1, 1.5, 2, 3 (cycling 2-unit days in a 1-unit base)
    providers = [
        Provider(npi(0), units_97112=1),
        Provider(npi(1), units_97112=1),
        Provider(npi(2), units_97112=[1, 2]),
        Provider(npi(3), units_97112=2),
        Provider(npi(4), units_97112=3),
    ]
    lines, units = claims(providers)
    metrics = compute_scores(lines, units, NO_FINDINGS).metrics.filter(
        (pl.col("period") == "all") & (pl.col("metric") == "units_97112_per_patient_day")
    )
    values = np.array([1, 1, 1.5, 2, 3])
    median = np.median(values)
    mad = np.median(np.abs(values - median))
    top = metrics.filter(pl.col("rendering_npi") == npi(4)).row(0, named=True)
    assert top["peer_median"] == median
    assert top["robust_z"] == pytest.approx((3 - median) / (1.4826 * mad))
    assert top["percentile"] == pytest.approx(100 * (5 - 0.5) / 5)
    tied = metrics.filter(pl.col("rendering_npi") == npi(0)).row(0, named=True)
    assert tied["percentile"] == pytest.approx(100 * (1.5 - 0.5) / 5)  # average rank of a tie


def test_minutes_per_unit_is_bad_when_low():
    providers = [Provider(npi(i), minutes_per_unit=15) for i in range(8)] + [
        Provider(npi(8), minutes_per_unit=15),
        Provider(npi(9), minutes_per_unit=8),
    ]
    lines, units = claims(providers)
    result = compute_scores(lines, units, NO_FINDINGS)
    short = result.metrics.filter(
        (pl.col("period") == "all")
        & (pl.col("metric") == "minutes_per_timed_unit")
        & (pl.col("rendering_npi") == npi(9))
    ).row(0, named=True)
    assert short["direction_bad"] == "low" and short["value"] == 8 and short["robust_z"] < -3
    assert short["significant"]
    r = row(result.scores, npi(9))
    assert r["outlier"]
    assert "documented minutes per timed unit 8.0 vs peer median 15.0 (" in r["reasons"]


def test_proportion_test_is_one_sided_chi_square_with_large_counts():
    frame = pl.DataFrame(
        {
            "successes": [30, 10],
            "trials": [100, 100],
            "_group_successes": [130, 130],
            "_group_trials": [1100, 1100],
            "direction_bad": ["high", "high"],
        }
    )
    p = _proportion_p_values(frame, ScoreSettings())
    # provider 30/100 vs rest 100/1000: pooled 130/1100
    pooled = 130 / 1100
    z = (0.3 - 0.1) / math.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 1000))
    assert p[0] == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)))
    # provider 10/100 vs rest 120/1000: lower than the rest, so no excess in the bad direction
    assert p[1] > 0.5


def test_proportion_test_is_exact_with_small_expected_counts():
    frame = pl.DataFrame(
        {
            "successes": [3, 0, 2],
            "trials": [10, 10, 10],
            "_group_successes": [3, 0, 2],
            "_group_trials": [1010, 1010, 10],
            "direction_bad": ["high", "high", "high"],
        }
    )
    p = _proportion_p_values(frame, ScoreSettings())
    pooled = 3 / 1010
    exact = sum(math.comb(10, k) * pooled**k * (1 - pooled) ** (10 - k) for k in range(3, 11))
    assert p[0] == pytest.approx(exact)
    assert p[1] == 1.0  # no successes: nothing in the bad direction
    assert math.isnan(p[2])  # alone in its group: no test


def test_significance_level_is_a_setting():
    providers = [Provider(npi(i), units_97112=[1, 1, 1, 1, 1, 1, 1, 1, 1, 4]) for i in range(10)]
    providers.append(Provider(npi(10), units_97112=[1, 1, 1, 1, 4]))
    lines, units = claims(providers)
    loose = compute_scores(lines, units, NO_FINDINGS, ScoreSettings(alpha=0.2)).metrics
    strict = compute_scores(lines, units, NO_FINDINGS, ScoreSettings(alpha=0.001)).metrics
    pick = (
        (pl.col("rendering_npi") == npi(10))
        & (pl.col("metric") == "share_days_97112_at_limit")
        & (pl.col("period") == "all")
    )
    assert loose.filter(pick)["p_value"].item() == strict.filter(pick)["p_value"].item()
    assert loose.filter(pick)["significant"].item() and not strict.filter(pick)["significant"].item()


def test_settings_reject_nonsense():
    with pytest.raises(ValueError):
        ScoreSettings(alpha=1.5)
    with pytest.raises(ValueError):
        ScoreSettings(min_patient_days=-1)
    with pytest.raises(ValueError):
        ScoreSettings(peer_keys=("discipline", "discipline"))
    assert ScoreSettings(peer_keys=["discipline", "billing_provider"]).peer_keys == ("discipline", "billing_provider")
    assert ScoreSettings().peer_keys == ("discipline",)


def test_proportion_test_in_the_low_direction_takes_the_lower_tail():
    # minutes per unit are bad when low: the p-value is P(X <= a), exact or by the normal approximation
    frame = pl.DataFrame(
        {
            "successes": [1, 10],
            "trials": [40, 100],
            "_group_successes": [301, 130],
            "_group_trials": [1040, 1100],
            "direction_bad": ["low", "low"],
        }
    )
    p = _proportion_p_values(frame, ScoreSettings(min_expected_count=12))
    # with min_expected_count 12 both are exact: the smallest expected counts are 40 * 301/1040 = 11.6
    # and 100 * 130/1100 = 11.8
    pooled = 301 / 1040
    assert p[0] == pytest.approx(sum(math.comb(40, k) * pooled**k * (1 - pooled) ** (40 - k) for k in range(2)))
    pooled = 130 / 1100
    assert p[1] == pytest.approx(sum(math.comb(100, k) * pooled**k * (1 - pooled) ** (100 - k) for k in range(11)))
    z = (0.1 - 0.12) / math.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 1000))
    loose = _proportion_p_values(frame, ScoreSettings(min_expected_count=5))  # 11.8 >= 5: the normal
    assert loose[1] == pytest.approx(0.5 * math.erfc(-z / math.sqrt(2)))  # its lower tail
