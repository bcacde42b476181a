"""``generate_extract``: a synthetic claims-line extract, one file per service month, with planted
findings at known rates and the answer key that names every finding a correct engine should raise.

Answer key (``answer_key.ndjson``, one JSON object per expected finding): ``rule_id``; the grain's
columns of the review-outputs contract (UNITS_OVER_MINUTES, ALLOCATION, DOCUMENTATION: patient_id,
service_date, rendering_npi; DAILY_LIMIT, DUPLICATE: patient_id, service_date; MINUTES_MISSING,
DX_SUPPORT: claim_id, line_number; OVERLAP, IMPOSSIBLE_DAY: rendering_npi, service_date), the others
null; ``plant``, the planting that produced it; and ``missing``, for DOCUMENTATION the elements the
day's documentation lacks (deficit, goals, response, technique), null for the other rules. Plants
sit on disjoint patient-days and therapist-days and are built so that each raises its own rule only
(see ``month.py``); ``planted_providers.ndjson`` names the providers billing far more 97112 than
their peers while staying within the rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.generate import writers
from pipelines.generate.answer_key import KEY_SCHEMA
from pipelines.generate.month import RULE_IDS, build_month
from pipelines.generate.scenarios import RECORD_SCHEMA, SCENARIO_RATE, add_scenarios, scenarios_per_kind
from pipelines.generate.world import Period, World, build_world

# Default plant rates: patient-day rules as a share of patient-days, therapist-day rules (OVERLAP,
# IMPOSSIBLE_DAY) as a share of therapist-days, DOCUMENTATION as a share of the patient-days billing
# 97112.
DEFAULT_RATES: dict[str, float] = {
    "UNITS_OVER_MINUTES": 0.015,
    "ALLOCATION": 0.015,
    "DAILY_LIMIT": 0.015,
    "MINUTES_MISSING": 0.015,
    "DX_SUPPORT": 0.015,
    "DUPLICATE": 0.015,
    "OVERLAP": 0.01,
    "IMPOSSIBLE_DAY": 0.01,
    "DOCUMENTATION": 0.02,
}
THERAPIST_DAY_RULES = ("OVERLAP", "IMPOSSIBLE_DAY")
SHARE_97112_DAYS = 0.17  # measured share of patient-days billing 97112 (DOCUMENTATION's base)
LINES_PER_VISIT = 2.15  # measured average of the visit mix
VISITS_PER_THERAPIST_DAY = 9.0
HIGH_SHARE = 3 / 40  # planted high-97112 providers among therapists
ANSWER_KEY = "answer_key.ndjson"
PLANTED_PROVIDERS = "planted_providers.ndjson"
SCENARIOS = "scenarios.ndjson"


@dataclass(frozen=True)
class GenerateSummary:
    """What a generation wrote."""

    out_dir: Path
    files: tuple[Path, ...]
    lines_per_file: dict[str, int]
    planted: dict[str, int]  # answer-key rows per rule_id
    answer_key: Path
    planted_providers: Path
    high_97112_providers: tuple[str, ...] = ()
    quarantine_key: Path | None = None
    extra_files: dict[str, str] = field(default_factory=dict)  # other files written: name -> what

    @property
    def total_lines(self) -> int:
        return sum(self.lines_per_file.values())


def apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """``total`` split over ``weights`` in integers (largest remainders)."""
    weights = np.asarray(weights, dtype=np.float64)
    if total <= 0 or weights.sum() <= 0:
        return np.zeros(len(weights), np.int64)
    share = total * weights / weights.sum()
    out = np.floor(share).astype(np.int64)
    rest = total - out.sum()
    out[np.argsort(-(share - out), kind="stable")[:rest]] += 1
    return out


@dataclass
class MonthFrame:
    year: int
    month: int
    lines: pl.DataFrame
    key: pl.DataFrame
    scenarios: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=RECORD_SCHEMA))


@dataclass
class Generation:
    world: World
    months: Iterator[MonthFrame]


def generate_months(
    lines: int,
    seed: int,
    *,
    start_month: str = "2025-11",
    months: int = 12,
    rates: dict[str, float] | None = None,
    therapists: int | None = None,
    high_providers: int | None = None,
    npi_block: int = 0,
    patient_prefix: str = "P",
    claim_prefix: str = "C",
    today: dt.date | None = None,
    scenario_rate: float = SCENARIO_RATE,
) -> Generation:
    """The population and a lazy iterator of month frames (memory: one month at a time), each with
    the scenarios of ``scenarios.py`` (``scenario_rate`` of its patient-days per kind; 0: none)."""
    if lines < 1:
        raise ValueError("lines must be at least 1")
    rates = {**DEFAULT_RATES, **(rates or {})}
    unknown = set(rates) - set(RULE_IDS)
    if unknown:
        raise ValueError(f"unknown rule id(s) in rates: {sorted(unknown)}")
    period = Period.build(start_month, months)
    today = today or dt.date.today()
    if period.last > today:
        raise ValueError(f"service months must lie in the past: {period.last} is after {today}")
    workdays = np.array([period.workdays_in(i) for i in range(months)], dtype=np.float64)
    if workdays.sum() == 0:
        raise ValueError("the service months have no working days")
    targets = apportion(lines, workdays)
    visits = lines / LINES_PER_VISIT
    n_t = therapists or max(8, round(visits / (VISITS_PER_THERAPIST_DAY * workdays.sum())))
    n_high = high_providers if high_providers is not None else max(1, round(n_t * HIGH_SHARE))
    surplus = 1.15 + 3.0 / np.sqrt(max(visits / months, 1.0))
    entropy = seed % 2**63  # any int, including negative ones, seeds the generators
    world = build_world(
        np.random.default_rng([entropy, 0]),
        period,
        int(visits * surplus),
        n_t,
        n_high,
        npi_block=npi_block,
        patient_prefix=patient_prefix,
        claim_prefix=claim_prefix,
    )
    n_t = len(world.th_npi)
    est_pd = targets / LINES_PER_VISIT
    # therapist-days that see patients: every working day of the pool, or fewer on a small extract
    est_td = np.minimum(n_t * workdays * 0.97, est_pd / VISITS_PER_THERAPIST_DAY)
    plan: dict[str, np.ndarray] = {}
    for rule, rate in rates.items():
        if rule in THERAPIST_DAY_RULES:
            est = est_td
        else:
            est = est_pd * SHARE_97112_DAYS if rule == "DOCUMENTATION" else est_pd
        total = round(rate * est.sum())
        total = max(total, 1) if rate > 0 else 0
        plan[rule] = apportion(total, est)

    def iterate() -> Iterator[MonthFrame]:
        for i, (year, month) in enumerate(period.months):
            counts = {rule: int(plan[rule][i]) for rule in plan}
            n = scenarios_per_kind(est_pd[i], scenario_rate)
            out = build_month(world, i, np.random.default_rng([entropy, 1, i]), int(targets[i]), counts)
            lines, key, record = add_scenarios(
                out.lines, out.key, world, np.random.default_rng([entropy, 2, i]), year, month, n
            )
            yield MonthFrame(year, month, lines, key, record)

    return Generation(world, iterate())


def sort_key(key: pl.DataFrame) -> pl.DataFrame:
    return key.sort(
        ["rule_id", "service_date", "rendering_npi", "patient_id", "claim_id", "line_number"], nulls_last=False
    )


def write_ndjson(frame: pl.DataFrame, path: Path) -> None:
    """One JSON object per row, keys in column order, nulls as null (stable bytes)."""
    frame.write_ndjson(path)


def high_providers_frame(world: World) -> pl.DataFrame:
    npis = sorted(world.th_npi[world.th_high].tolist())
    return pl.DataFrame(
        {"rendering_npi": npis, "kind": ["high_97112"] * len(npis)},
        schema={"rendering_npi": pl.String, "kind": pl.String},
    )


def generate_extract(
    out_dir: Path,
    lines: int,
    seed: int,
    *,
    start_month: str = "2025-11",
    months: int = 12,
    fmt: str = "csv",
    vendor_headers: bool = False,
    rates: dict[str, float] | None = None,
    therapists: int | None = None,
    scenario_rate: float = SCENARIO_RATE,
) -> GenerateSummary:
    """Write ``claims_YYYY_MM.<fmt>`` for each service month (rows shuffled), ``answer_key.ndjson``
    and ``planted_providers.ndjson`` into ``out_dir``; same arguments, same bytes.

    ``lines`` is the total over all months (split by working days; exact unless a month's
    population cannot supply its share). ``rates`` overrides plant rates per rule_id (share of
    patient-days, of therapist-days for OVERLAP and IMPOSSIBLE_DAY, of 97112 patient-days for
    DOCUMENTATION); ``therapists`` fixes the pool size (default: scaled so a therapist sees about
    nine patients a day); ``scenario_rate`` the scenarios of each kind (``scenarios.py``) as a share
    of patient-days (0: none). ``scenarios.ndjson`` names the scenario claims.
    """
    ext = writers.extension(fmt)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    gen = generate_months(
        lines,
        seed,
        start_month=start_month,
        months=months,
        rates=rates,
        therapists=therapists,
        scenario_rate=scenario_rate,
    )
    files: list[Path] = []
    per_file: dict[str, int] = {}
    keys: list[pl.DataFrame] = []
    records: list[pl.DataFrame] = []
    for mf in gen.months:
        frame = writers.to_vendor(mf.lines) if vendor_headers else mf.lines
        step = writers.XLSX_MAX_ROWS if ext == "xlsx" else max(frame.height, 1)  # a worksheet's row limit
        parts = [frame.slice(o, step) for o in range(0, max(frame.height, 1), step)]
        for p, part in enumerate(parts):
            name = f"claims_{mf.year}_{mf.month:02d}{'' if p == 0 else f'_part{p + 1}'}.{ext}"
            writers.write(part, out_dir / name, ext)
            files.append(out_dir / name)
            per_file[name] = part.height
        keys.append(mf.key)
        records.append(mf.scenarios)
    key = sort_key(pl.concat(keys, how="vertical") if keys else pl.DataFrame(schema=KEY_SCHEMA))
    write_ndjson(pl.concat(records) if records else pl.DataFrame(schema=RECORD_SCHEMA), out_dir / SCENARIOS)
    write_ndjson(key, out_dir / ANSWER_KEY)
    providers = high_providers_frame(gen.world)
    write_ndjson(providers, out_dir / PLANTED_PROVIDERS)
    counts = dict(key.group_by("rule_id").len().iter_rows())
    return GenerateSummary(
        out_dir=out_dir,
        files=tuple(files),
        lines_per_file=per_file,
        planted={rule: int(counts.get(rule, 0)) for rule in RULE_IDS},
        answer_key=out_dir / ANSWER_KEY,
        planted_providers=out_dir / PLANTED_PROVIDERS,
        high_97112_providers=tuple(providers["rendering_npi"].to_list()),
        extra_files={SCENARIOS: "the scenario claims (kind, claim, patient, date, therapist)"},
    )


__all__ = ["DEFAULT_RATES", "GenerateSummary", "generate_extract", "generate_months"]
