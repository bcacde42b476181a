"""The TOML configuration, typed, with every default in one place.

A user's file (``unitreview review --config FILE.toml``) overrides any of these; an unknown key or a
value of the wrong type is an error naming the key (``ConfigError``), never silently ignored.
``unitreview.example.toml`` at the repository root documents every key.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipelines.ingest.columns import CANONICAL

BUILTIN_PROFILES = Path(__file__).parent / "reference" / "header_profiles.toml"


class ConfigError(ValueError):
    """The configuration file cannot be used; the message says which key and why."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WarehouseConfig(_Section):
    threads: int | None = Field(None, ge=1, description="DuckDB threads; default: all cores")
    memory_limit: str | None = Field(
        "2GB",
        description="DuckDB memory limit, e.g. '4GB' (default 2GB: DuckDB's own default, 80% of RAM, lets"
        " its buffer pool grow to gigabytes of cached blocks on a large review; beyond the limit it spills"
        " to disk). An empty value keeps DuckDB's default.",
    )


class IngestConfig(_Section):
    profiles: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Mapping profiles: profile name -> {vendor header: canonical column}",
    )
    use_builtin_profiles: bool = Field(
        True, description="Also apply the shipped profiles in pipelines/reference/header_profiles.toml"
    )


class RulesConfig(_Section):
    daily_limits: dict[str, int] = Field(
        default_factory=dict,
        description="Per-code daily unit limits for any code and payer, over the MUE table and daily_limits.csv",
    )
    group_without_billing_npi: Literal["claim", "rendering_npi"] = Field(
        "claim",
        description="The 8-minute-rule group's billing unit for a line without billing_npi: its claim"
        " (default) or its rendering NPI",
    )
    overlap_tolerance_minutes: int = Field(
        5, ge=0, description="OVERLAP of at most this many minutes of one-on-one timed time is low severity"
    )
    mue_payer_types: list[str] = Field(
        default_factory=lambda: ["medicare", "medicare_advantage"],
        description="payer_type values whose lines DAILY_LIMIT checks against CMS's MUE table"
        " (the others: daily_limits.csv)",
    )
    impossible_day_minutes: int | None = Field(
        None, ge=1, description="IMPOSSIBLE_DAY ceiling; default limits.csv: 720 (12 hours)"
    )
    oig_reference_minutes: int | None = Field(
        None, ge=1, description="OIG's 8-hour reference (a metric); default limits.csv: 480"
    )
    payer_type_methods: dict[str, Literal["cms", "ama"]] = Field(
        default_factory=dict, description="payer_type -> method, overriding the seed mapping"
    )
    payer_name_methods: dict[str, Literal["cms", "ama"]] = Field(
        default_factory=dict, description="payer_name -> method, overriding the payer_type's"
    )
    reference_files: dict[str, Path] = Field(
        default_factory=dict, description="Seed table name -> a user's file with the same columns"
    )
    mue_table: Path | None = Field(
        None, description="A newer CMS practitioner MUE file, replacing the shipped 2024-07-01 table"
    )


class ScoresConfig(_Section):
    peer_keys: list[str] = Field(
        default_factory=lambda: ["discipline"],
        description="Columns defining a peer group (add billing_provider to compare within a clinic)",
    )
    min_patient_days: int = Field(30, ge=1, description="Volume below which a provider is never an outlier")
    alpha: float = Field(0.05, gt=0, lt=1, description="Significance level of the proportion tests")
    outlier_z: float = Field(3.0, gt=0, description="Robust z-score a significant metric must reach")


class ScheduleConfig(_Section):
    cron: str = Field("0 6 * * 1", description="When the scheduled review runs (cron; default Mondays 06:00)")
    timezone: str = Field("UTC", description="Time zone of the cron schedule")
    sensor_interval_seconds: int = Field(60, ge=5, description="How often the landing-folder sensor looks")


class Config(_Section):
    warehouse: WarehouseConfig = WarehouseConfig()
    ingest: IngestConfig = IngestConfig()
    rules: RulesConfig = RulesConfig()
    scores: ScoresConfig = ScoresConfig()
    schedule: ScheduleConfig = ScheduleConfig()

    def header_profiles(self) -> dict[str, dict[str, str]]:
        """Every mapping profile in force: the shipped ones (unless turned off), then the user's."""
        profiles: dict[str, dict[str, str]] = {}
        if self.ingest.use_builtin_profiles:
            profiles.update(tomllib.loads(BUILTIN_PROFILES.read_text())["profiles"])
        profiles.update(self.ingest.profiles)
        return profiles

    def rule_settings(self):
        """The rules engine's settings from the [rules] section."""
        from pipelines.rules.settings import RuleSettings

        rules = self.rules
        return RuleSettings(
            daily_limit_overrides=dict(rules.daily_limits),
            mue_payer_types=tuple(rules.mue_payer_types),
            group_without_billing_npi=rules.group_without_billing_npi,
            overlap_tolerance_minutes=rules.overlap_tolerance_minutes,
            impossible_day_ceiling_minutes=rules.impossible_day_minutes,
            oig_reference_minutes=rules.oig_reference_minutes,
            payer_type_methods=dict(rules.payer_type_methods),
            payer_name_methods=dict(rules.payer_name_methods),
        )

    def score_settings(self):
        """The peer comparison's settings from the [scores] section."""
        from pipelines.scores import ScoreSettings

        scores = self.scores
        return ScoreSettings(
            peer_keys=tuple(scores.peer_keys),
            min_patient_days=scores.min_patient_days,
            alpha=scores.alpha,
            outlier_z=scores.outlier_z,
        )

    def reference(self):
        """The seed tables, with the user's replacements and MUE table when configured."""
        from pipelines.rules.reference import Reference

        overrides = {name: Path(path) for name, path in self.rules.reference_files.items()}
        if self.rules.mue_table is not None:
            overrides["mue"] = Path(self.rules.mue_table)
        return Reference.load(overrides)

    def rules_fingerprint(self) -> str:
        """What line_units and findings depend on besides the lines: the [rules] section, the seed
        files and the user's reference files. A change means every month is recomputed; a change
        elsewhere (warehouse, ingest, scores, schedule) does not touch them."""
        from pipelines import __version__

        rules = json.dumps(self.rules.model_dump(mode="json"), sort_keys=True)
        digest = hashlib.sha256(f"{__version__}|{rules}".encode())
        files = sorted((BUILTIN_PROFILES.parent).glob("*")) + [
            Path(p) for p in [*self.rules.reference_files.values(), self.rules.mue_table] if p
        ]
        for path in files:
            if path.is_file():
                digest.update(path.name.encode() + path.read_bytes())
        return digest.hexdigest()[:16]

    def fingerprint(self) -> str:
        """A short hash of the configuration in force, recorded with each review."""
        body = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()[:16]


def load_config(path: Path | None) -> Config:
    """Read and validate a TOML configuration; ``None`` gives the defaults."""
    if path is None:
        return Config()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from None
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"configuration file {path}: {problems}") from None
    for name, mapping in config.ingest.profiles.items():
        unknown = sorted(set(mapping.values()) - set(CANONICAL))
        if unknown:
            raise ConfigError(f"configuration file {path}: ingest.profiles.{name} maps to unknown columns {unknown}")
    return config
