"""The knobs of the rules engine, as one frozen dataclass of simple types.

The configuration loader builds ``RuleSettings`` from the user's TOML; every field has a documented
default, so ``RuleSettings()`` is the review the contract describes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipelines.rules.reference import METHODS, Reference

SEVERITIES = ("high", "medium", "low")

# Default severity per rule id: units billed without support (or billed twice, or on impossible time)
# are high; a limit passed or a diagnosis/documentation gap is medium; a misallocation whose day total
# is right is low (the units move between codes, they are not all lost).
DEFAULT_SEVERITY: dict[str, str] = {
    "UNITS_OVER_MINUTES": "high",
    "ALLOCATION": "low",
    "DAILY_LIMIT": "medium",
    "MINUTES_MISSING": "medium",
    "DX_SUPPORT": "medium",
    "DUPLICATE": "high",
    "OVERLAP": "high",
    "DOCUMENTATION": "medium",
    "IMPOSSIBLE_DAY": "high",
    "UNTIMED_UNITS": "medium",
}


@dataclass(frozen=True)
class RuleSettings:
    """Settings of the rules (defaults in brackets).

    - ``daily_limit_overrides`` [{}]: cpt_code -> units a day, for any code and payer; wins over the
      MUE table and ``daily_limits.csv``.
    - ``group_without_billing_npi`` ['claim']: the 8-minute-rule group's billing unit for a line
      without ``billing_npi``: its claim, or 'rendering_npi' (``groups.py``).
    - ``overlap_tolerance_minutes`` [5]: an OVERLAP of at most this many minutes of one-on-one timed
      time is low severity (clock skew between two notes, a hand-over).
    - ``mue_payer_types`` [("medicare", "medicare_advantage")]: payer types whose lines DAILY_LIMIT
      checks against CMS's MUE table (MUEs are Medicare's edits); other payers' lines are checked
      against ``daily_limits.csv`` (97112: 4, unitreview's default, equal to CMS's MUE).
    - ``impossible_day_ceiling_minutes`` [None = ``limits.csv``, 720]: a therapist's documented timed
      one-on-one minutes in a day above this are an IMPOSSIBLE_DAY.
    - ``oig_reference_minutes`` [None = ``limits.csv``, 480]: OIG's 8 hours, reported in the detail.
    - ``payer_type_methods`` [{}]: payer_type -> 'cms' | 'ama', over ``payer_methods.csv``.
    - ``payer_name_methods`` [{}]: payer_name (case-insensitive) -> 'cms' | 'ama'; wins over
      ``payer_name_methods.csv`` and over the payer_type mapping.
    - ``dx_support_codes`` [("97112",)]: codes whose claim must carry a supportive diagnosis.
    - ``severity_overrides`` [{}]: rule_id -> 'high' | 'medium' | 'low', over ``DEFAULT_SEVERITY``.
    - ``daily_limit_justified_severity`` ['low']: DAILY_LIMIT severity when a line the finding counts
      has ``justification_documented`` true and the limit is not absolute (MAI 3, or a limit without
      an MAI); the finding is still raised. MAI 1 and 2 keep their severity.
    """

    daily_limit_overrides: dict[str, int] = field(default_factory=dict)
    impossible_day_ceiling_minutes: int | None = None
    oig_reference_minutes: int | None = None
    payer_type_methods: dict[str, str] = field(default_factory=dict)
    payer_name_methods: dict[str, str] = field(default_factory=dict)
    dx_support_codes: tuple[str, ...] = ("97112",)
    severity_overrides: dict[str, str] = field(default_factory=dict)
    daily_limit_justified_severity: str = "low"
    mue_payer_types: tuple[str, ...] = ("medicare", "medicare_advantage")
    group_without_billing_npi: str = "claim"
    overlap_tolerance_minutes: int = 5

    def __post_init__(self) -> None:
        if self.group_without_billing_npi not in ("claim", "rendering_npi"):
            raise ValueError("group_without_billing_npi must be 'claim' or 'rendering_npi'")
        object.__setattr__(self, "mue_payer_types", tuple(p.strip().lower() for p in self.mue_payer_types))
        object.__setattr__(self, "dx_support_codes", tuple(c.strip().upper() for c in self.dx_support_codes))
        for name in ("payer_type_methods", "payer_name_methods"):
            mapping = {str(k).strip().lower(): str(v).strip().lower() for k, v in getattr(self, name).items()}
            bad = sorted(v for v in mapping.values() if v not in METHODS)
            if bad:
                raise ValueError(f"{name}: method must be 'cms' or 'ama', got {bad[0]!r}")
            object.__setattr__(self, name, mapping)
        limits = {str(k).strip().upper(): int(v) for k, v in self.daily_limit_overrides.items()}
        if any(v < 0 for v in limits.values()):
            raise ValueError("daily limits must be >= 0 units")
        object.__setattr__(self, "daily_limit_overrides", limits)
        severities = {**self.severity_overrides, "_justified": self.daily_limit_justified_severity}
        bad = sorted(s for s in severities.values() if s not in SEVERITIES)
        if bad:
            raise ValueError(f"severity must be high, medium or low, got {bad[0]!r}")
        unknown = sorted(set(self.severity_overrides) - set(DEFAULT_SEVERITY))
        if unknown:
            raise ValueError(f"severity_overrides: unknown rule id(s) {', '.join(unknown)}")
        if self.overlap_tolerance_minutes < 0:
            raise ValueError("overlap_tolerance_minutes must be >= 0")
        for name in ("impossible_day_ceiling_minutes", "oig_reference_minutes"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0 minutes")

    def severity(self, rule_id: str) -> str:
        """The severity a rule's findings carry."""
        return self.severity_overrides.get(rule_id, DEFAULT_SEVERITY[rule_id])

    def ceiling_minutes(self, ref: Reference) -> int:
        """The impossible-day ceiling: this setting, else ``limits.csv`` (720)."""
        if self.impossible_day_ceiling_minutes is not None:
            return int(self.impossible_day_ceiling_minutes)
        return int(ref.limit("impossible_day_ceiling_minutes"))

    def oig_minutes(self, ref: Reference) -> int:
        """The OIG reference day: this setting, else ``limits.csv`` (480)."""
        if self.oig_reference_minutes is not None:
            return int(self.oig_reference_minutes)
        return int(ref.limit("oig_reference_day_minutes"))
