"""The statistics of an audit sample, RAT-STATS conventions (pure: numpy and scipy only).

Variable appraisal (the overpayment total; RAT-STATS "Unrestricted Variable Appraisal" and
"Stratified Variable Appraisal"). For each sampled item the difference d = examined - audited.

- unrestricted sample of n items from a frame of N:
    mean d̄ = Σd / n;   s = sqrt(Σ(d - d̄)² / (n - 1))   (sample standard deviation, n - 1)
    point estimate  T̂ = N · d̄
    standard error  SE = N · sqrt((1 - n/N) · s² / n)   (finite population correction (N - n)/N)
    limits at confidence c: T̂ ∓ t · SE, t = Student's t quantile (1 + c)/2 at n - 1 degrees of freedom
- stratified (strata h = 1..H): each stratum as above (its own t at n_h - 1 df); overall
    T̂ = Σ N_h · d̄_h;   SE = sqrt(Σ SE_h²);   limits T̂ ∓ z · SE with the normal quantile z.
    A design with a single stratum is unrestricted (t, not z).
- a stratum sampled in full (n_h = N_h) has SE 0 (its total is known exactly).
- precision (at each confidence level) = half-width t·SE (or z·SE); precision percent = half-width / T̂
  · 100, set to 0 when T̂ is negative (RAT-STATS) or zero (undefined). Limits are never cut at 0.
- "at least $X" (OIG practice) = the lower limit of the two-sided 90% interval. The one-sided 90%
  lower limit T̂ - t_0.90 · SE equals the two-sided 80% lower limit; both are reported, labelled.

Attribute appraisal (the error rate: share of sampled items with a nonzero difference):
- unrestricted: exact limits from the hypergeometric distribution (sampling without replacement
  from N items, K of them in error): the two-sided c interval is every K with
  P(X ≥ k | K) > (1-c)/2 and P(X ≤ k | K) > (1-c)/2, as rates K/N (RAT-STATS "Unrestricted
  Attribute Appraisal" computes exact hypergeometric limits); and the normal interval
  p ∓ z · sqrt((1 - n/N) · p(1 - p)/(n - 1)), kept within [0, 1].
- stratified overall: p = Σ N_h p_h / N with SE = sqrt(Σ (N_h/N)² (1 - n_h/N_h) p_h(1 - p_h)/(n_h - 1)),
  normal interval only.

Sample size (RAT-STATS "Variable Sample Size Determination: Unrestricted Using a Probe Sample";
OIG's claims-review guidance in its Corporate Integrity Agreements asks for a sample whose projection
reaches 90% confidence and ±25% relative precision):
    n0 = (z · s / (r · d̄))²,   n = n0 / (1 + n0/N), rounded up
with z the two-sided normal quantile of the confidence, r the relative precision, d̄ and s the mean
and standard deviation of the overpayment per item in a probe sample (Cochran, Sampling Techniques,
3rd ed. 1977, ch. 4: sample size for a relative error, with the finite population correction).
From an expected error rate p alone the item's overpayment is taken as 0/1 (d̄ = p, s² = p(1 - p)),
i.e. n0 = z²(1 - p)/(r² p); with the mean m and standard deviation s_e of the overpayment among
items in error, d̄ = p·m and s² = p·s_e² + p(1 - p)·m² (a mixture of zeros and errors).

Seeded selection (``select_positions``): numpy ``Generator(PCG64(seed))``; for each stratum in order,
``u = rng.random(N_h)`` (one uniform per frame position of the stratum, in frame order) and the n_h
positions with the smallest u (ties by position) are the sample, listed in frame order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as st

LEVELS: tuple[float, ...] = (0.80, 0.90, 0.95)
AT_LEAST_LEVEL = 0.90
ONE_SIDED_LEVEL = 0.80  # two-sided 80% lower limit = one-sided 90% lower limit


# ---------------------------------------------------------------------------------------------
# quantiles


def z_quantile(confidence: float) -> float:
    """The two-sided normal quantile: z with P(|Z| < z) = confidence (1.645 at 90%)."""
    _check_level(confidence)
    return float(st.norm.ppf((1 + confidence) / 2))


def t_quantile(confidence: float, df: int) -> float:
    """The two-sided Student t quantile at ``df`` degrees of freedom (2.132 at 90%, df 4)."""
    _check_level(confidence)
    if df < 1:
        raise ValueError("Student's t needs at least one degree of freedom")
    return float(st.t.ppf((1 + confidence) / 2, df))


def _check_level(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"a confidence level is between 0 and 1, not {confidence}")


# ---------------------------------------------------------------------------------------------
# variable appraisal


@dataclass(frozen=True)
class Limits:
    """The two-sided interval at one confidence level."""

    confidence: float
    quantile: float | None  # t or z; None when SE is 0 and no quantile is needed (df 0)
    half_width: float  # the precision amount: quantile · SE
    lower: float
    upper: float
    precision_pct: float  # half_width / estimate · 100; 0 when the estimate is not positive


@dataclass(frozen=True)
class VariableAppraisal:
    """The appraisal of one stratum, or of the whole sample (``label`` 'overall')."""

    label: str
    population_size: int  # N (frame size)
    sample_size: int  # n
    mean: float  # mean difference per sampled item
    sd: float  # sample standard deviation (n - 1); 0 when n = 1 = N
    difference_total: float  # Σ d over the sample
    estimate: float  # point estimate of the overpayment total
    standard_error: float
    distribution: str  # 't' or 'z'
    df: int | None
    limits: dict[float, Limits]
    nonzero: int  # sampled items with a nonzero difference

    def at(self, confidence: float) -> Limits:
        return self.limits[round(confidence, 6)]

    @property
    def at_least(self) -> float:
        """OIG's "at least $X": the lower limit of the two-sided 90% interval."""
        return self.at(AT_LEAST_LEVEL).lower

    @property
    def one_sided_lower_90(self) -> float:
        """The one-sided 90% lower limit (= the two-sided 80% lower limit)."""
        if round(ONE_SIDED_LEVEL, 6) in self.limits:
            return self.at(ONE_SIDED_LEVEL).lower
        q = _quantile(self.distribution, ONE_SIDED_LEVEL, self.df, self.standard_error)
        return self.estimate - (q or 0.0) * self.standard_error


def _quantile(distribution: str, confidence: float, df: int | None, se: float) -> float | None:
    if distribution == "z":
        return z_quantile(confidence)
    if df is None or df < 1:
        if se != 0:
            raise ValueError("a standard error without degrees of freedom")
        return None
    return t_quantile(confidence, df)


def _limits(
    estimate: float, se: float, distribution: str, df: int | None, levels: Sequence[float]
) -> dict[float, Limits]:
    out = {}
    for level in levels:
        q = _quantile(distribution, level, df, se)
        half = (q or 0.0) * se
        precision = half / estimate * 100 if estimate > 0 else 0.0
        out[round(level, 6)] = Limits(level, q, half, estimate - half, estimate + half, precision)
    return out


def unrestricted(
    differences: Sequence[float], population_size: int, levels: Sequence[float] = LEVELS, label: str = "overall"
) -> VariableAppraisal:
    """Variable appraisal of a simple random sample (without replacement) of ``len(differences)``
    items from ``population_size``: N·d̄, SE = N·sqrt((1 - n/N)·s²/n), limits ∓ t(n-1)·SE."""
    d = np.asarray(differences, dtype=float)
    n, N = int(d.size), int(population_size)
    if n < 1:
        raise ValueError(f"{label}: no sampled item")
    if n > N:
        raise ValueError(f"{label}: {n} sampled items from a frame of {N}")
    if not np.all(np.isfinite(d)):
        raise ValueError(f"{label}: a difference is not a finite number")
    mean = float(d.mean())
    if n == N:
        sd = float(d.std(ddof=1)) if n > 1 else 0.0
        se = 0.0
    elif n == 1:
        raise ValueError(f"{label}: 1 sampled item of {N}: a standard error needs at least 2")
    else:
        sd = float(d.std(ddof=1))
        se = N * math.sqrt((1 - n / N) * sd**2 / n)
    estimate = N * mean
    df = n - 1
    return VariableAppraisal(
        label=label,
        population_size=N,
        sample_size=n,
        mean=mean,
        sd=sd,
        difference_total=float(d.sum()),
        estimate=estimate,
        standard_error=se,
        distribution="t",
        df=df,
        limits=_limits(estimate, se, "t", df, levels),
        nonzero=int(np.count_nonzero(d)),
    )


@dataclass(frozen=True)
class StratumInput:
    label: str
    population_size: int
    differences: Sequence[float]


@dataclass(frozen=True)
class StratifiedAppraisal:
    strata: list[VariableAppraisal]
    overall: VariableAppraisal
    design: str  # 'unrestricted' (one stratum) or 'stratified'


def stratified(strata: Sequence[StratumInput], levels: Sequence[float] = LEVELS) -> StratifiedAppraisal:
    """Each stratum appraised as an unrestricted sample (t at n_h - 1 df); overall Σ N_h·d̄_h with
    SE = sqrt(Σ SE_h²) and normal limits. One stratum: the design is unrestricted."""
    if not strata:
        raise ValueError("no stratum to appraise")
    parts = [unrestricted(s.differences, s.population_size, levels, label=s.label) for s in strata]
    if len(parts) == 1:
        only = parts[0]
        overall = VariableAppraisal(**{**only.__dict__, "label": "overall"})
        return StratifiedAppraisal(parts, overall, "unrestricted")
    estimate = float(sum(p.estimate for p in parts))
    se = math.sqrt(sum(p.standard_error**2 for p in parts))
    n = sum(p.sample_size for p in parts)
    overall = VariableAppraisal(
        label="overall",
        population_size=sum(p.population_size for p in parts),
        sample_size=n,
        mean=float(sum(p.difference_total for p in parts) / n),
        sd=float(np.std(np.concatenate([np.asarray(s.differences, float) for s in strata]), ddof=1)) if n > 1 else 0.0,
        difference_total=float(sum(p.difference_total for p in parts)),
        estimate=estimate,
        standard_error=se,
        distribution="z",
        df=None,
        limits=_limits(estimate, se, "z", None, levels),
        nonzero=sum(p.nonzero for p in parts),
    )
    return StratifiedAppraisal(parts, overall, "stratified")


# ---------------------------------------------------------------------------------------------
# attribute appraisal


@dataclass(frozen=True)
class AttributeAppraisal:
    label: str
    population_size: int
    sample_size: int
    errors: int
    rate: float  # errors / n (unrestricted) or Σ N_h p_h / N (stratified overall)
    confidence: float
    exact_lower: float | None  # hypergeometric, unrestricted only
    exact_upper: float | None
    normal_lower: float
    normal_upper: float
    method: str


def attribute_unrestricted(
    errors: int, sample_size: int, population_size: int, confidence: float = 0.90, label: str = "overall"
) -> AttributeAppraisal:
    """Error rate of an unrestricted sample with its exact (hypergeometric) and normal intervals."""
    k, n, N = int(errors), int(sample_size), int(population_size)
    if not 0 <= k <= n <= N or n < 1:
        raise ValueError(f"{label}: {k} errors in {n} sampled of {N} is impossible")
    alpha = (1 - confidence) / 2
    p = k / n
    if n == N:
        lo = hi = p
    else:
        # P(X >= k | K) grows with K and P(X <= k | K) falls with K: bisect for the two ends
        lo = _first_true(0, N, lambda K: st.hypergeom.sf(k - 1, N, K, n) > alpha) / N
        hi = _last_true(0, N, lambda K: st.hypergeom.cdf(k, N, K, n) > alpha) / N
        lo, hi = min(lo, p), max(hi, p)
    se = math.sqrt((1 - n / N) * p * (1 - p) / (n - 1)) if n > 1 else 0.0
    z = z_quantile(confidence)
    return AttributeAppraisal(
        label=label,
        population_size=N,
        sample_size=n,
        errors=k,
        rate=p,
        confidence=confidence,
        exact_lower=float(lo),
        exact_upper=float(hi),
        normal_lower=max(0.0, p - z * se),
        normal_upper=min(1.0, p + z * se),
        method="exact hypergeometric; normal with finite population correction",
    )


def _first_true(lo: int, hi: int, test) -> int:
    """The smallest K in [lo, hi] with ``test(K)`` (monotone: false then true); hi when none."""
    while lo < hi:
        mid = (lo + hi) // 2
        if test(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _last_true(lo: int, hi: int, test) -> int:
    """The largest K in [lo, hi] with ``test(K)`` (monotone: true then false); lo when none."""
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if test(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def attribute_stratified(parts: Sequence[AttributeAppraisal], confidence: float = 0.90) -> AttributeAppraisal:
    """Overall error rate of a stratified sample: Σ N_h p_h / N, normal interval."""
    if len(parts) == 1:
        return AttributeAppraisal(**{**parts[0].__dict__, "label": "overall"})
    N = sum(p.population_size for p in parts)
    rate = sum(p.population_size * p.rate for p in parts) / N
    var = 0.0
    for p in parts:
        if p.sample_size > 1 and p.sample_size < p.population_size:
            var += (
                (p.population_size / N) ** 2
                * (1 - p.sample_size / p.population_size)
                * p.rate
                * (1 - p.rate)
                / (p.sample_size - 1)
            )
    z = z_quantile(confidence)
    half = z * math.sqrt(var)
    return AttributeAppraisal(
        label="overall",
        population_size=N,
        sample_size=sum(p.sample_size for p in parts),
        errors=sum(p.errors for p in parts),
        rate=rate,
        confidence=confidence,
        exact_lower=None,
        exact_upper=None,
        normal_lower=max(0.0, rate - half),
        normal_upper=min(1.0, rate + half),
        method="stratified: normal with finite population correction",
    )


# ---------------------------------------------------------------------------------------------
# sample size


@dataclass(frozen=True)
class SampleSize:
    n: int  # the sample size to draw (after the finite population correction, rounded up)
    n0: float  # before the finite population correction
    population_size: int
    confidence: float
    precision: float  # relative precision r (0.25 = ±25% of the point estimate)
    z: float
    mean: float  # expected mean overpayment per item (d̄)
    sd: float  # expected standard deviation per item (s)
    basis: str  # 'probe sample' | 'error rate' | 'error rate and error amounts' | 'mean and sd'
    formula: str = field(default="n0 = (z*s/(r*mean))^2; n = ceil(n0 / (1 + n0/N))")


def sample_size(
    population_size: int,
    *,
    mean: float | None = None,
    sd: float | None = None,
    error_rate: float | None = None,
    error_mean: float | None = None,
    error_sd: float | None = None,
    probe: Sequence[float] | None = None,
    confidence: float = 0.90,
    precision: float = 0.25,
) -> SampleSize:
    """The n for a target relative precision at a confidence level (see the module docstring).

    Give one of: ``probe`` (the differences of a probe sample), ``mean`` and ``sd`` (per item), or
    ``error_rate`` (optionally with ``error_mean`` and ``error_sd`` among the items in error)."""
    N = int(population_size)
    if N < 1:
        raise ValueError("the frame is empty")
    if not precision > 0:
        raise ValueError("the relative precision must be positive (0.25 for ±25%)")
    if probe is not None:
        d = np.asarray(probe, dtype=float)
        if d.size < 2:
            raise ValueError("a probe sample needs at least 2 items")
        mean, sd, basis = float(d.mean()), float(d.std(ddof=1)), "probe sample"
    elif error_rate is not None:
        p = float(error_rate)
        if not 0 < p <= 1:
            raise ValueError("the expected error rate must be in (0, 1]")
        if error_mean is None:
            mean, sd, basis = p, math.sqrt(p * (1 - p)), "error rate"
        else:
            m, s_e = float(error_mean), float(error_sd or 0.0)
            mean = p * m
            sd = math.sqrt(p * s_e**2 + p * (1 - p) * m**2)
            basis = "error rate and error amounts"
    elif mean is not None and sd is not None:
        mean, sd, basis = float(mean), float(sd), "mean and sd"
    else:
        raise ValueError("give a probe sample, a mean and sd, or an expected error rate")
    if mean <= 0:
        raise ValueError("the expected mean overpayment is not positive: a precision relative to it is undefined")
    if sd < 0:
        raise ValueError("a standard deviation cannot be negative")
    z = z_quantile(confidence)
    n0 = (z * sd / (precision * mean)) ** 2
    n = n0 / (1 + n0 / N)
    size = min(N, max(1, math.ceil(n - 1e-9)))
    return SampleSize(
        n=size, n0=n0, population_size=N, confidence=confidence, precision=precision, z=z, mean=mean, sd=sd, basis=basis
    )


# ---------------------------------------------------------------------------------------------
# allocation and selection


def allocate_proportional(frame_sizes: Sequence[int], total: int, minimum: int = 2) -> list[int]:
    """Sizes per stratum proportional to the frame sizes (largest remainders, ties to the lower
    stratum), none above its frame size, every non-empty stratum at least ``min(minimum, N_h)``.
    The minimum may raise the total above ``total``; a total above Σ N_h takes every item."""
    sizes = [int(x) for x in frame_sizes]
    if any(x < 0 for x in sizes):
        raise ValueError("a frame size cannot be negative")
    if total < 1:
        raise ValueError("the sample size must be at least 1")
    n = [0] * len(sizes)
    remaining = min(int(total), sum(sizes))
    open_ = [h for h, N in enumerate(sizes) if N > 0]
    while remaining > 0 and open_:
        base = sum(sizes[h] for h in open_)
        quotas = {h: remaining * sizes[h] / base for h in open_}
        give = {h: math.floor(q) for h, q in quotas.items()}
        left = remaining - sum(give.values())
        for h in sorted(open_, key=lambda h: (-(quotas[h] - give[h]), h))[:left]:
            give[h] += 1
        for h in open_:
            room = sizes[h] - n[h]
            take = min(give[h], room)
            n[h] += take
            remaining -= take
        open_ = [h for h in open_ if n[h] < sizes[h]]  # a capped stratum leaves; the rest share again
    for h, N in enumerate(sizes):
        if N > 0 and n[h] < min(minimum, N):
            n[h] = min(minimum, N)
    return n


def select_positions(rng: np.random.Generator, frame_size: int, sample_size: int) -> np.ndarray:
    """``sample_size`` distinct positions of 0..frame_size-1: one uniform per position
    (``rng.random(frame_size)``), the smallest ones win (ties by position); returned ascending."""
    if not 0 <= sample_size <= frame_size:
        raise ValueError(f"cannot draw {sample_size} of {frame_size}")
    u = rng.random(frame_size)
    chosen = np.argsort(u, kind="stable")[:sample_size]
    return np.sort(chosen)


def generator(seed: int) -> np.random.Generator:
    """The draw's generator: numpy ``Generator(PCG64(seed))``."""
    if int(seed) < 0:
        raise ValueError("the seed must be a non-negative integer")
    return np.random.Generator(np.random.PCG64(int(seed)))
