"""The audit statistics against small cases computed by hand (RAT-STATS conventions): an unrestricted
sample of 5 from 20, a stratified sample with a stratum sampled in full, a negative estimate, the
error rate's exact interval, the sample size, the allocation and the seeded selection."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipelines.audit import stats

# Student's t (two-sided) at 4 degrees of freedom and the normal z, from printed tables
T4 = {0.80: 1.533, 0.90: 2.132, 0.95: 2.776}
Z = {0.80: 1.282, 0.90: 1.645, 0.95: 1.960}


def test_unrestricted_five_of_twenty_by_hand():
    d = [0.0, 10.0, 20.0, 0.0, 45.0]
    N, n = 20, 5
    mean = (0 + 10 + 20 + 0 + 45) / 5  # 15
    s2 = ((0 - 15) ** 2 + (10 - 15) ** 2 + (20 - 15) ** 2 + (0 - 15) ** 2 + (45 - 15) ** 2) / (n - 1)  # 1400 / 4 = 350
    se = N * math.sqrt((1 - n / N) * s2 / n)  # 20 * sqrt(0.75 * 70) = 144.914
    estimate = N * mean  # 300

    a = stats.unrestricted(d, N)
    assert a.mean == pytest.approx(15.0) and a.sd == pytest.approx(math.sqrt(350))
    assert (
        a.estimate == pytest.approx(300.0)
        and a.standard_error == pytest.approx(se)
        and se == pytest.approx(144.9138, abs=1e-4)
    )
    assert a.distribution == "t" and a.df == 4 and a.nonzero == 3
    for level, t in T4.items():
        lim = a.at(level)
        assert lim.quantile == pytest.approx(t, abs=5e-4)
        assert lim.half_width == pytest.approx(lim.quantile * se)
        assert lim.lower == pytest.approx(estimate - lim.quantile * se)
        assert lim.upper == pytest.approx(estimate + lim.quantile * se)
        assert lim.precision_pct == pytest.approx(lim.quantile * se / estimate * 100)
    # 90%: 300 -/+ 2.132 * 144.91: the lower limit is negative and stays so (never cut at 0)
    assert a.at(0.90).lower == pytest.approx(300 - 2.1318 * 144.9138, abs=0.05) and a.at(0.90).lower < 0
    assert a.at_least == a.at(0.90).lower
    # the one-sided 90% lower limit uses t at 0.90 one-sided = the two-sided 80% quantile
    assert a.one_sided_lower_90 == pytest.approx(300 - 1.533 * se, abs=0.1)
    assert a.one_sided_lower_90 == a.at(0.80).lower


def test_stratified_with_a_stratum_sampled_in_full():
    full = [10.0, 0.0, 5.0, 25.0]  # N=4, all 4 reviewed: the stratum's total is known, SE 0
    part = [0.0, 10.0, 20.0, 0.0, 45.0]  # N=50, 5 reviewed
    res = stats.stratified([stats.StratumInput("certainty", 4, full), stats.StratumInput("rest", 50, part)])
    s1, s2, o = res.strata[0], res.strata[1], res.overall
    assert res.design == "stratified"
    assert s1.estimate == pytest.approx(40.0) and s1.standard_error == 0.0
    assert s1.at(0.90).lower == s1.at(0.90).upper == pytest.approx(40.0) and s1.at(0.90).precision_pct == 0.0
    se2 = 50 * math.sqrt((1 - 5 / 50) * 350 / 5)  # 50 * sqrt(63) = 396.863
    assert s2.estimate == pytest.approx(750.0) and s2.standard_error == pytest.approx(se2)
    assert s2.at(0.90).quantile == pytest.approx(T4[0.90], abs=5e-4)  # each stratum: t at n_h - 1
    assert o.estimate == pytest.approx(790.0)
    assert o.standard_error == pytest.approx(math.sqrt(0.0**2 + se2**2))
    assert o.distribution == "z" and o.df is None  # overall stratified: normal z
    for level, z in Z.items():
        assert o.at(level).quantile == pytest.approx(z, abs=5e-4)
        assert o.at(level).lower == pytest.approx(790 - o.at(level).quantile * se2)
    assert o.at(0.90).lower == pytest.approx(790 - 1.6449 * 396.863, abs=0.05)
    assert o.sample_size == 9 and o.population_size == 54


def test_one_stratum_is_an_unrestricted_design():
    res = stats.stratified([stats.StratumInput("all", 20, [0.0, 10.0, 20.0, 0.0, 45.0])])
    assert res.design == "unrestricted" and res.overall.distribution == "t" and res.overall.df == 4
    assert res.overall.label == "overall" and res.overall.estimate == pytest.approx(300.0)


def test_negative_estimate_precision_zero_limits_not_cut():
    d = [-10.0, -5.0, 0.0, -20.0, -15.0]  # underpayments
    a = stats.unrestricted(d, 20)
    s2 = (0 + 25 + 100 + 100 + 25) / 4  # mean -10: 62.5
    se = 20 * math.sqrt(0.75 * s2 / 5)
    assert a.estimate == pytest.approx(-200.0) and a.standard_error == pytest.approx(se)
    for level in stats.LEVELS:
        lim = a.at(level)
        assert lim.precision_pct == 0.0
        assert lim.lower == pytest.approx(-200 - lim.quantile * se) and lim.upper == pytest.approx(
            -200 + lim.quantile * se
        )
    assert a.at(0.90).upper < 0  # not cut at 0


def test_a_single_item_of_many_has_no_standard_error():
    with pytest.raises(ValueError, match="at least 2"):
        stats.unrestricted([5.0], 10)
    one = stats.unrestricted([5.0], 1)  # the whole frame of one
    assert one.standard_error == 0 and one.at(0.90).lower == 5.0


def _hyper_pmf(x, N, K, n):
    return math.comb(K, x) * math.comb(N - K, n - x) / math.comb(N, n)


def test_error_rate_exact_hypergeometric_interval_by_hand():
    k, n, N = 2, 5, 20
    a = stats.attribute_unrestricted(k, n, N, 0.90)
    assert a.rate == pytest.approx(0.4)
    inside = []
    for K in range(N + 1):
        upper_tail = sum(_hyper_pmf(x, N, K, n) for x in range(k, n + 1) if x <= K and n - x <= N - K)
        lower_tail = sum(_hyper_pmf(x, N, K, n) for x in range(0, k + 1) if x <= K and n - x <= N - K)
        if upper_tail > 0.05 and lower_tail > 0.05:
            inside.append(K)
    assert a.exact_lower == pytest.approx(min(inside) / N) and a.exact_upper == pytest.approx(max(inside) / N)
    se = math.sqrt((1 - n / N) * 0.4 * 0.6 / (n - 1))
    assert a.normal_lower == pytest.approx(max(0.0, 0.4 - 1.6449 * se), abs=1e-4)
    assert a.normal_upper == pytest.approx(0.4 + 1.6449 * se, abs=1e-4)
    none = stats.attribute_unrestricted(0, 5, 20)
    assert none.rate == 0 and none.exact_lower == 0 and none.exact_upper > 0


def test_sample_size_oig_ninety_percent_twenty_five_percent_precision():
    # probe: mean overpayment 50, sd 80, frame 1000
    n0 = (1.6449 * 80 / (0.25 * 50)) ** 2  # 110.82
    n = n0 / (1 + n0 / 1000)  # 99.77
    res = stats.sample_size(1000, mean=50, sd=80)
    assert res.n0 == pytest.approx(n0, rel=1e-4) and res.n == math.ceil(n) == 100
    # from an expected error rate alone: n0 = z^2 (1 - p) / (r^2 p)
    res = stats.sample_size(5000, error_rate=0.2)
    n0 = 1.6449**2 * 0.8 / (0.25**2 * 0.2)
    assert res.n0 == pytest.approx(n0, rel=1e-4) and res.n == math.ceil(n0 / (1 + n0 / 5000))
    # from a probe sample's differences (sd with n - 1)
    probe = [0, 10, 20, 0, 45]
    res = stats.sample_size(20, probe=probe)
    assert res.mean == 15 and res.sd == pytest.approx(math.sqrt(350))
    with pytest.raises(ValueError, match="not positive"):
        stats.sample_size(100, mean=0, sd=1)


def test_proportional_allocation():
    assert stats.allocate_proportional([100, 50, 10], 30) == [19, 9, 2]  # 18.75, 9.375, 1.875 by largest remainders
    assert stats.allocate_proportional([100, 50, 3], 150) == [98, 49, 3]  # a small stratum is capped, the rest shared
    assert stats.allocate_proportional([1000, 5, 0], 10) == [10, 2, 0]  # at least 2 per non-empty stratum
    assert stats.allocate_proportional([4, 6], 100) == [4, 6]  # more than the frame: everything


def test_selection_is_the_documented_procedure():
    seed, N, n = 20260401, 50, 7
    picked = stats.select_positions(stats.generator(seed), N, n)
    u = np.random.Generator(np.random.PCG64(seed)).random(N)
    assert picked.tolist() == sorted(np.argsort(u, kind="stable")[:n].tolist())
    assert stats.select_positions(stats.generator(seed), N, n).tolist() == picked.tolist()
    assert stats.select_positions(stats.generator(seed + 1), N, n).tolist() != picked.tolist()
    assert stats.select_positions(stats.generator(1), 5, 5).tolist() == [0, 1, 2, 3, 4]
