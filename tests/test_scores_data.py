"""Small constructed claims for the provider-score tests (no tests here, only builders)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

LINE_SCHEMA = {
    "claim_id": pl.String,
    "line_number": pl.Int64,
    "patient_id": pl.String,
    "rendering_npi": pl.String,
    "service_date": pl.Date,
    "cpt_code": pl.String,
    "units_billed": pl.Int64,
    "payer_type": pl.String,
    "minutes": pl.Int64,
    "total_timed_minutes": pl.Int64,
    "billing_npi": pl.String,
    "provider_name": pl.String,
    "clinic_name": pl.String,
}
UNIT_SCHEMA = {
    "claim_id": pl.String,
    "line_number": pl.Int64,
    "patient_id": pl.String,
    "service_date": pl.Date,
    "rendering_npi": pl.String,
    "billing_provider": pl.String,
    "discipline": pl.String,
    "cpt_code": pl.String,
    "is_timed": pl.Boolean,
    "method": pl.String,
    "minutes_used": pl.Int64,
    "expected_units": pl.Int64,
    "units_billed": pl.Int64,
}
FINDING_SCHEMA = {
    "rule_id": pl.String,
    "severity": pl.String,
    "rendering_npi": pl.String,
    "patient_id": pl.String,
    "service_date": pl.Date,
    "claim_id": pl.String,
    "line_number": pl.Int64,
    "units_over": pl.Int64,
    "amount_at_risk": pl.Float64,
    "detail": pl.String,
}


@dataclass
class Provider:
    """One therapist's billing: ``days`` patient-days, each with a 97112 line and a second timed line.

    ``units_97112`` and ``units_other`` are cycled over the patient-days (an int is every day);
    documented minutes are ``minutes_per_unit`` per billed unit (None: no minutes documented).
    """

    npi: str
    days: int = 40
    units_97112: int | list[int] = 1
    units_other: int | list[int] = 2
    minutes_per_unit: int | None = 15
    discipline: str = "PT"
    other_code: str = "97110"
    billing: str = "1000000001"
    clinic: str = "Main St"
    name: str | None = None
    start: date = date(2024, 1, 1)
    per_date: int = 4
    patients: int = 12


def _cycle(value: int | list[int]):
    return itertools.cycle([value] if isinstance(value, int) else value)


def claims(providers: list[Provider]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(claim_lines, line_units) for the providers: one claim per patient-day."""
    lines: list[dict] = []
    for p in providers:
        u97112, other = _cycle(p.units_97112), _cycle(p.units_other)
        for d in range(p.days):
            day = p.start + timedelta(days=d // p.per_date)
            patient = f"{p.npi}-P{d % p.patients}"
            claim = f"{p.npi}-C{d}"
            codes = [("97112", next(u97112)), (p.other_code, next(other))]
            mins = [None if p.minutes_per_unit is None else u * p.minutes_per_unit for _, u in codes]
            for i, ((code, units), m) in enumerate(zip(codes, mins, strict=True), start=1):
                lines.append(
                    {
                        "claim_id": claim,
                        "line_number": i,
                        "patient_id": patient,
                        "rendering_npi": p.npi,
                        "service_date": day,
                        "cpt_code": code,
                        "units_billed": units,
                        "payer_type": "medicare",
                        "minutes": m,
                        "total_timed_minutes": None,
                        "billing_npi": p.billing,
                        "provider_name": p.name or f"Therapist {p.npi[-3:]}",
                        "clinic_name": p.clinic,
                        "_discipline": p.discipline,
                    }
                )
    frame = pl.DataFrame(lines, schema={**LINE_SCHEMA, "_discipline": pl.String})
    return frame.drop("_discipline"), units_of(frame)


def units_of(lines: pl.DataFrame) -> pl.DataFrame:
    """line_units as the rules would give them (every code here is timed)."""
    return lines.select(
        "claim_id",
        "line_number",
        "patient_id",
        "service_date",
        "rendering_npi",
        pl.col("billing_npi").alias("billing_provider"),
        pl.col("_discipline").alias("discipline"),
        "cpt_code",
        pl.lit(True).alias("is_timed"),
        pl.lit("cms").alias("method"),
        pl.col("minutes").alias("minutes_used"),
        pl.col("units_billed").alias("expected_units"),
        "units_billed",
    ).cast(UNIT_SCHEMA)


def findings(rows: list[dict]) -> pl.DataFrame:
    """A findings frame; each row gives what it knows, the rest is null."""
    defaults = dict.fromkeys(FINDING_SCHEMA)
    return pl.DataFrame([{**defaults, **r} for r in rows], schema=FINDING_SCHEMA)


NO_FINDINGS = pl.DataFrame(schema=FINDING_SCHEMA)


def npi(i: int) -> str:
    return f"{1_000_000_100 + i}"


def peers(n: int = 10, **kwargs) -> list[Provider]:
    """``n`` ordinary PT therapists billing about one unit of 97112 a patient-day (a little variation
    from one therapist to the next, so the peer spread is not zero)."""
    patterns = [[1], [1, 1, 1, 2], [1, 1, 1, 1, 2], [1, 1, 2], [1, 1, 1, 1, 1, 2], [1, 1, 1, 1, 1, 1, 2]]
    return [Provider(npi(i), units_97112=patterns[i % len(patterns)], **kwargs) for i in range(n)]


def row(frame: pl.DataFrame, rendering_npi: str, period: str = "all") -> dict:
    hit = frame.filter((pl.col("rendering_npi") == rendering_npi) & (pl.col("period") == period))
    assert hit.height == 1, hit
    return hit.row(0, named=True)
