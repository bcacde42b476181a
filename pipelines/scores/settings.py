"""The knobs of provider scoring, as one frozen dataclass of simple types.

``ScoreSettings()`` is the scoring the contract describes; the configuration loader can build one from
the user's TOML. Every field has a documented default (in brackets below).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScoreSettings:
    """Settings of the peer comparison and the risk rank (defaults in brackets).

    - ``peer_keys`` [("discipline",)]: the columns whose values form a provider's peer group. A
      provider is compared only with providers sharing every key's value in the same period.
      ``"discipline"`` is the provider's main discipline (PT/OT/SLP); any other column of the line
      units or of the claim lines (e.g. ``"billing_provider"``, ``"clinic_name"``) is the provider's
      most frequent value of that column in the period. Domain doc, "Peer comparison": CMS compared
      each therapist with state and national peers.
    - ``min_patient_days`` [30]: providers with fewer distinct patient-days in a period are scored
      and ranked, but never ``outlier`` (their reasons say "low volume"), and their statistical
      evidence is scaled down by ``patient_days / min_patient_days``.
    - ``alpha`` [0.05]: one-sided significance level of the proportion tests (the CBR's chi-square
      test "at 0.05").
    - ``daily_limit_97112`` [4]: units of 97112 a patient-day "at the limit" (CMS's MUE for 97112:
      4 units a date of service).
    - ``oig_day_minutes`` [480]: OIG's 8-hour day; ``share_days_over_8h`` counts a therapist's
      working days with more timed minutes than this.
    - ``top_reasons`` [3]: how many metrics the ``reasons`` text names at most.
    - ``outlier_z`` [3.0]: robust z-score (in the bad direction) a metric needs to make a provider an
      outlier; it is also the significance bar of the metrics that have no proportion test.
    - ``z_cap`` [10.0]: the most one metric's robust z adds to the risk score.
    - ``amount_weight`` [2.0]: risk points per tenfold of dollars at risk
      (``amount_weight * log10(1 + amount_at_risk)``).
    - ``min_expected_count`` [5.0]: the proportion test is Pearson's chi-square when every expected
      count of the 2x2 table reaches this, else an exact binomial test (see ``peers``).
    - ``min_relative_spread`` [0.1]: the robust z's scale is at least this fraction of the peer
      median, so that in a very uniform peer group a difference of a few percent never reaches
      ``outlier_z`` (see ``peers``).
    - ``min_rate_spread`` [0.005]: for the proportion metrics (finding rates, shares of days) the
      robust z's scale is at least this (half a percentage point), so that a provider whose peers
      mostly have none needs a material excess, not two flagged days in 5,000, to reach
      ``outlier_z``.
    """

    peer_keys: tuple[str, ...] = ("discipline",)
    min_patient_days: int = 30
    alpha: float = 0.05
    daily_limit_97112: int = 4
    oig_day_minutes: int = 480
    top_reasons: int = 3
    outlier_z: float = 3.0
    z_cap: float = 10.0
    amount_weight: float = 2.0
    min_expected_count: float = 5.0
    min_relative_spread: float = 0.1
    min_rate_spread: float = 0.005

    def __post_init__(self) -> None:
        keys = (self.peer_keys,) if isinstance(self.peer_keys, str) else tuple(self.peer_keys)
        keys = tuple(str(k).strip() for k in keys)
        if any(not k for k in keys):
            raise ValueError("peer_keys: a key must be a non-empty column name")
        if len(set(keys)) != len(keys):
            raise ValueError("peer_keys: a key is named twice")
        object.__setattr__(self, "peer_keys", keys)
        if self.min_patient_days < 0:
            raise ValueError("min_patient_days must be >= 0")
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must be between 0 and 1")
        if self.daily_limit_97112 < 1:
            raise ValueError("daily_limit_97112 must be >= 1 unit")
        if self.oig_day_minutes < 1:
            raise ValueError("oig_day_minutes must be >= 1 minute")
        if self.top_reasons < 0:
            raise ValueError("top_reasons must be >= 0")
        if self.outlier_z <= 0 or self.z_cap <= 0:
            raise ValueError("outlier_z and z_cap must be > 0")
        if self.amount_weight < 0:
            raise ValueError("amount_weight must be >= 0")
        if self.min_expected_count < 0:
            raise ValueError("min_expected_count must be >= 0")
        if self.min_relative_spread < 0 or self.min_rate_spread < 0:
            raise ValueError("min_relative_spread and min_rate_spread must be >= 0")
