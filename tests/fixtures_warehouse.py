"""A small, realistic warehouse for the dashboard and report tests (synthetic data only).

``build_fixture_warehouse(path)`` writes the review-output tables with the shapes the pipeline
produces (tests/test_fixture_matches_review.py compares them with a real review's): five providers in two clinics over three months,
twelve patients whose ids (``PHI-PAT-0001`` ...) the tests scan for, findings of several rules
(patient-day, line and therapist-day grain), provider scores per month and for ``all``, and the
long provider metrics. Some text cells carry spreadsheet-formula bait (``=HYPERLINK``, ``-1+2``,
``@SUM``) for the export tests, and some finding details name patients, as free text may.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from pipelines.warehouse.schema import ensure_schema

ROOT = Path(__file__).resolve().parent.parent

CLINICS = {"1111111111": "Riverside Physical Therapy", "2222222222": "Hillcrest Rehab"}

# npi, name, discipline, clinic (billing npi), how heavily they bill 97112
PROVIDERS = [
    ("1000000001", "Avery Stone", "PT", "1111111111", "heavy"),
    ("1000000002", "Blake Chen", "PT", "1111111111", "normal"),
    ("1000000003", "Casey Diaz", "OT", "2222222222", "medium"),
    ("1000000004", "Devon Ito", "PT", "2222222222", "normal"),
    ("1000000005", "Emery Fox", "SLP", "2222222222", "light"),
    ("1000000006", "Finley Gray", "OT", "1111111111", "normal"),
]
SPECIALTY = {"PT": "Physical Therapist", "OT": "Occupational Therapist", "SLP": "Speech-Language Pathologist"}
PATIENTS = [f"PHI-PAT-{i:04d}" for i in range(1, 13)]
PAYERS = {  # patient -> (payer_type, payer_name)
    p: [("medicare", "Medicare Part B"), ("commercial", "Acme Health"), ("medicaid", "State Medicaid")][i % 3]
    for i, p in enumerate(PATIENTS)
}
MONTHS = [(2026, 1), (2026, 2), (2026, 3)]
ALLOWED_PER_UNIT = {"97112": 34.0, "97110": 30.0, "97140": 28.0, "97530": 36.0, "97165": 95.0}
TIMED = {"97112", "97110", "97140", "97530"}
RULES = [
    "UNITS_OVER_MINUTES",
    "ALLOCATION",
    "DAILY_LIMIT",
    "MINUTES_MISSING",
    "DX_SUPPORT",
    "DUPLICATE",
    "OVERLAP",
    "DOCUMENTATION",
    "IMPOSSIBLE_DAY",
]

# the words scoring gives each metric (pipelines/scores/peers.py); the app reads the daily limit from them
METRIC_LABELS = {
    "units_97112_per_patient_day": "97112 units per patient-day",
    "timed_units_per_patient_day": "timed units per patient-day",
    "minutes_per_timed_unit": "documented minutes per timed unit",
    "share_days_97112_at_limit": "patient-days with 97112 at the daily limit (4 units)",
    "rate_units_over_minutes": "UNITS_OVER_MINUTES findings per patient-day",
}

# Formula bait that the exports must neutralize.
BAIT_NOTE = '=HYPERLINK("http://example.invalid/x","open me")'
BAIT_MODIFIER = "-1+2"
BAIT_PAYER = "@SUM(A1:A9)"


@dataclass
class FixtureInfo:
    path: Path
    patient_ids: list[str] = field(default_factory=lambda: list(PATIENTS))
    npis: list[str] = field(default_factory=lambda: [p[0] for p in PROVIDERS])
    flagged_npi: str = "1000000001"
    flagged_name: str = "Avery Stone"
    bait: tuple[str, ...] = (BAIT_NOTE, BAIT_MODIFIER, BAIT_PAYER)


def cms_units(minutes: int) -> int:
    """Units the CMS 8-minute rule supports for a total of timed minutes."""
    return minutes // 15 + (1 if minutes % 15 >= 8 else 0)


def _visits(rng: random.Random) -> list[dict]:
    lines: list[dict] = []
    claim_no = 0
    panels = {npi: rng.sample(PATIENTS, 5) for npi, *_ in PROVIDERS}
    panels["1000000001"][0] = "PHI-PAT-0001"
    panels["1000000003"][:2] = ["PHI-PAT-0007", "PHI-PAT-0008"]
    for npi, name, disc, clinic, style in PROVIDERS:
        for year, month in MONTHS:
            days = sorted(rng.sample(range(2, 27), 7))
            for k, day in enumerate(days):
                date = dt.date(year, month, day)
                patient = panels[npi][k % 5]
                payer_type, payer_name = PAYERS[patient]
                claim_no += 1
                claim_id = f"CLM-{claim_no:05d}"
                start = dt.datetime(year, month, day, 8 + (k % 6), 0)
                services: list[tuple[str, int, int | None]] = []  # code, units, minutes
                if disc in ("PT", "OT"):
                    if style == "heavy":
                        u = rng.choice([4, 5, 5, 6])
                        services.append(("97112", u, rng.choice([38, 45, 52])))
                    elif style == "medium":
                        services.append(("97112", rng.choice([2, 3, 4]), rng.choice([30, 38, 45])))
                    else:
                        m = rng.choice([15, 23, 30, 38])
                        services.append(("97112", max(1, cms_units(m)), m))
                    m2 = rng.choice([15, 23, 30])
                    services.append(("97110", cms_units(m2), m2))
                    if rng.random() < 0.4:
                        services.append(("97140", 1, 15))
                else:  # SLP: mostly evaluation and a little therapeutic activity
                    services.append(("97165", 1, None))
                    if rng.random() < 0.5:
                        services.append(("97530", 1, 15))
                total = sum(m for c, _, m in services if c in TIMED and m is not None)
                for ln, (code, units, minutes) in enumerate(services, start=1):
                    allowed = ALLOWED_PER_UNIT[code] * units
                    lines.append(
                        {
                            "claim_id": claim_id,
                            "line_number": ln,
                            "patient_id": patient,
                            "rendering_npi": npi,
                            "service_date": date,
                            "cpt_code": code,
                            "units_billed": units,
                            "payer_type": payer_type,
                            "minutes": minutes,
                            "total_timed_minutes": total,
                            "billing_npi": clinic,
                            "modifiers": "GP" if disc == "PT" else ("GO" if disc == "OT" else "GN"),
                            "diagnosis_codes": "M54.50" if (code == "97112" and k == 3) else "G81.91;R26.89",
                            "payer_name": payer_name,
                            "charge_amount": round(allowed * 1.6, 2),
                            "allowed_amount": round(allowed, 2),
                            "paid_amount": round(allowed * 0.8, 2),
                            "visit_start": start,
                            "visit_end": start + dt.timedelta(minutes=max(total, 30) + 10),
                            "provider_specialty": SPECIALTY[disc],
                            "provider_name": name,
                            "clinic_name": CLINICS[clinic],
                            "deficit_documented": not (style == "heavy" and k == 2),
                            "goals_documented": True,
                            "response_documented": True,
                            "note_text": f"Balance training, tandem gait; pt tolerated well ({code}).",
                            "justification_documented": None,
                            "source_file": f"extract_{year}_{month:02d}.csv",
                            "source_row": len(lines) + 1,
                            "ingested_at": dt.datetime(2026, 4, 2, 6, 0, tzinfo=dt.UTC),
                        }
                    )
    # Formula bait on Avery Stone's first claim, and one line without minutes
    first = next(i for i, r in enumerate(lines) if r["rendering_npi"] == "1000000001")
    lines[first]["note_text"] = BAIT_NOTE
    lines[first]["modifiers"] = BAIT_MODIFIER
    lines[first]["payer_name"] = BAIT_PAYER
    missing = next(i for i, r in enumerate(lines) if r["rendering_npi"] == "1000000003" and r["cpt_code"] == "97110")
    lines[missing]["minutes"] = None
    return lines


# Casey Diaz's OVERLAP day (her first date): the visit of PHI-PAT-0007 runs 09:00-10:00, one of
# PHI-PAT-0008 09:30-10:30 overlaps it (as the finding's detail says), and one of PHI-PAT-0009 has no
# times (the therapist-day page lists it apart).
OVERLAP_NPI = "1000000003"
OVERLAP_VISITS = {  # patient -> (claim id, start, end) on the OVERLAP day; None: no times
    "PHI-PAT-0007": (None, dt.time(9, 0), dt.time(10, 0)),
    "PHI-PAT-0008": ("CLM-09001", dt.time(9, 30), dt.time(10, 30)),
    "PHI-PAT-0009": ("CLM-09002", None, None),
}


def _therapist_day_visits(lines: list[dict]) -> list[dict]:
    """Casey Diaz's OVERLAP day made to hold what the finding says: two overlapping visits of
    different patients, and a third visit without times."""
    day = min(r["service_date"] for r in lines if r["rendering_npi"] == OVERLAP_NPI)
    first = next(r for r in lines if r["rendering_npi"] == OVERLAP_NPI and r["service_date"] == day)
    for r in lines:
        if r["claim_id"] == first["claim_id"]:
            _, start, end = OVERLAP_VISITS[r["patient_id"]]
            r["visit_start"], r["visit_end"] = dt.datetime.combine(day, start), dt.datetime.combine(day, end)
    added = []
    for patient, (claim_id, start, end) in OVERLAP_VISITS.items():
        if claim_id is None:
            continue
        payer_type, payer_name = PAYERS[patient]
        added.append(
            {
                **first,
                "claim_id": claim_id,
                "line_number": 1,
                "patient_id": patient,
                "cpt_code": "97110",
                "units_billed": 2,
                "minutes": 30,
                "total_timed_minutes": 30,
                "payer_type": payer_type,
                "payer_name": payer_name,
                "diagnosis_codes": "G81.91;R26.89",
                "modifiers": "GO",
                "charge_amount": round(ALLOWED_PER_UNIT["97110"] * 2 * 1.6, 2),
                "allowed_amount": ALLOWED_PER_UNIT["97110"] * 2,
                "paid_amount": round(ALLOWED_PER_UNIT["97110"] * 2 * 0.8, 2),
                "visit_start": dt.datetime.combine(day, start) if start else None,
                "visit_end": dt.datetime.combine(day, end) if end else None,
                "note_text": "Therapeutic exercise, upper extremity (97110).",
                "source_row": len(lines) + len(added) + 1,
            }
        )
    return lines + added


def _line_units(lines: pl.DataFrame) -> pl.DataFrame:
    rows = []
    disc = {npi: d for npi, _, d, *_ in PROVIDERS}
    for r in lines.iter_rows(named=True):
        timed = r["cpt_code"] in TIMED
        method = "cms" if r["payer_type"] in ("medicare", "medicaid") else "ama"
        total = r["total_timed_minutes"] or 0
        expected = (
            cms_units(r["minutes"]) if (timed and r["minutes"] is not None) else (None if timed else r["units_billed"])
        )
        rows.append(
            {
                "claim_id": r["claim_id"],
                "line_number": r["line_number"],
                "patient_id": r["patient_id"],
                "service_date": r["service_date"],
                "rendering_npi": r["rendering_npi"],
                "billing_provider": r["billing_npi"],
                "discipline": disc[r["rendering_npi"]],
                "cpt_code": r["cpt_code"],
                "is_timed": timed,
                "method": method,
                "minutes_used": r["minutes"],
                "group_timed_minutes": total if timed else None,
                "group_supported_units": cms_units(total) if timed else None,
                "expected_units": expected,
                "expected_units_min": expected,
                "expected_units_max": expected,
                "units_billed": r["units_billed"],
                "expected_basis": (
                    f"{method.upper()}: {r['minutes']} minutes of {r['cpt_code']} in a visit of {total} timed minutes"
                    if timed
                    else "untimed: one unit per service"
                ),
            }
        )
    return pl.DataFrame(rows)


def _findings(lines: pl.DataFrame) -> pl.DataFrame:
    disc = {npi: d for npi, _, d, *_ in PROVIDERS}
    out: list[dict] = []

    def add(**kw):
        base = {
            "rule_id": None,
            "severity": "medium",
            "rendering_npi": None,
            "patient_id": None,
            "service_date": None,
            "claim_id": None,
            "line_number": None,
            "units_over": 0,
            "amount_at_risk": 0.0,
            "detail": "",
            "billing_provider": None,
            "discipline": None,
        }
        base.update(kw)
        out.append(base)

    timed = lines.filter(pl.col("cpt_code").is_in(list(TIMED)))
    days = (
        timed.group_by("patient_id", "service_date", "rendering_npi", "billing_npi")
        .agg(
            pl.col("units_billed").sum().alias("billed"),
            pl.col("minutes").sum().alias("minutes"),
            pl.col("payer_type").first(),
        )
        .sort("rendering_npi", "service_date", "patient_id")
    )
    for r in days.iter_rows(named=True):
        supported = cms_units(r["minutes"])
        if r["billed"] > supported:
            over = r["billed"] - supported
            method = "CMS" if r["payer_type"] in ("medicare", "medicaid") else "AMA"
            add(
                rule_id="UNITS_OVER_MINUTES",
                severity="high",
                rendering_npi=r["rendering_npi"],
                patient_id=r["patient_id"],
                service_date=r["service_date"],
                units_over=over,
                amount_at_risk=round(over * ALLOWED_PER_UNIT["97112"], 2),
                detail=(
                    f"{r['minutes']} timed minutes support {supported} units under the {method} 8-minute rule "
                    f"({r['minutes']} = {r['minutes'] // 15} x 15 + {r['minutes'] % 15}; a remainder of 8 or more "
                    f"adds a unit); {r['billed']} units billed: {over} over"
                ),
                billing_provider=r["billing_npi"],
                discipline=disc[r["rendering_npi"]],
            )
    per_day_112 = (
        lines.filter(pl.col("cpt_code") == "97112")
        .group_by("patient_id", "service_date")
        .agg(pl.col("units_billed").sum().alias("u"), pl.col("billing_npi").first(), pl.col("rendering_npi").first())
        .sort("service_date", "patient_id")
    )
    for r in per_day_112.iter_rows(named=True):
        if r["u"] > 4:
            over = r["u"] - 4
            add(
                rule_id="DAILY_LIMIT",
                severity="high",
                patient_id=r["patient_id"],
                service_date=r["service_date"],
                units_over=over,
                amount_at_risk=round(over * ALLOWED_PER_UNIT["97112"], 2),
                detail=f"{r['u']} units of 97112 billed for the patient on {r['service_date']}; the daily limit is 4: {over} over",
                billing_provider=r["billing_npi"],
                discipline=disc[r["rendering_npi"]],
            )
    for r in lines.filter((pl.col("cpt_code") == "97112") & (pl.col("diagnosis_codes") == "M54.50")).iter_rows(
        named=True
    ):
        add(
            rule_id="DX_SUPPORT",
            severity="medium",
            rendering_npi=r["rendering_npi"],
            patient_id=r["patient_id"],
            service_date=r["service_date"],
            claim_id=r["claim_id"],
            line_number=r["line_number"],
            amount_at_risk=r["allowed_amount"],
            detail="97112 billed with diagnosis M54.50 only; none of the claim's diagnoses supports neuromuscular re-education",
            billing_provider=r["billing_npi"],
            discipline=disc[r["rendering_npi"]],
        )
    for r in lines.filter(pl.col("minutes").is_null() & pl.col("cpt_code").is_in(list(TIMED))).iter_rows(named=True):
        add(
            rule_id="MINUTES_MISSING",
            severity="medium",
            rendering_npi=r["rendering_npi"],
            patient_id=r["patient_id"],
            service_date=r["service_date"],
            claim_id=r["claim_id"],
            line_number=r["line_number"],
            amount_at_risk=r["allowed_amount"],
            detail=f"{r['cpt_code']} billed for {r['units_billed']} unit(s) with no documented minutes on the line",
            billing_provider=r["billing_npi"],
            discipline=disc[r["rendering_npi"]],
        )
    for r in lines.filter(~pl.col("deficit_documented") & (pl.col("cpt_code") == "97112")).iter_rows(named=True):
        add(
            rule_id="DOCUMENTATION",
            severity="low",
            rendering_npi=r["rendering_npi"],
            patient_id=r["patient_id"],
            service_date=r["service_date"],
            amount_at_risk=r["allowed_amount"],
            detail="97112 billed; the documentation lacks a functional deficit",
            billing_provider=r["billing_npi"],
            discipline=disc[r["rendering_npi"]],
        )
    # Therapist-day findings whose free text names patients (the manager view must scrub it)
    casey = lines.filter(pl.col("rendering_npi") == "1000000003").sort("service_date")
    d = casey["service_date"][0]
    add(
        rule_id="OVERLAP",
        severity="high",
        rendering_npi="1000000003",
        service_date=d,
        amount_at_risk=68.0,
        units_over=2,
        detail=f"one-on-one visits overlap: PHI-PAT-0007 09:00-10:00 and PHI-PAT-0008 09:30-10:30 on {d}",
        billing_provider="2222222222",
        discipline="OT",
    )
    avery = lines.filter(pl.col("rendering_npi") == "1000000001").sort("service_date")
    d = avery["service_date"][-1]
    add(
        rule_id="IMPOSSIBLE_DAY",
        severity="high",
        rendering_npi="1000000001",
        service_date=d,
        amount_at_risk=0.0,
        detail="784 timed one-on-one minutes (13.1 hours) documented in the day; the ceiling is 720 minutes (12 hours)",
        billing_provider="1111111111",
        discipline="PT",
    )
    return pl.DataFrame(
        out,
        schema_overrides={
            "line_number": pl.Int64,
            "units_over": pl.Int64,
            "amount_at_risk": pl.Float64,
            "service_date": pl.Date,
        },
    )


def _robust_z(values: list[float]) -> list[float]:
    med = statistics.median(values)
    mad = statistics.median([abs(v - med) for v in values]) * 1.4826
    if mad == 0:
        sd = statistics.pstdev(values) or 1.0
        return [(v - med) / sd for v in values]
    return [(v - med) / mad for v in values]


def _scores(lines: pl.DataFrame, findings: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    disc = {npi: d for npi, _, d, *_ in PROVIDERS}
    names = {npi: n for npi, n, *_ in PROVIDERS}
    f_npi = findings.join(
        lines.select("claim_id", "line_number", pl.col("rendering_npi").alias("_l_npi")),
        on=["claim_id", "line_number"],
        how="left",
    ).with_columns(pl.coalesce("rendering_npi", "_l_npi").alias("rendering_npi"))
    # patient-day findings without a therapist go to the therapist who billed 97112 that day
    f_npi = f_npi.join(
        lines.filter(pl.col("cpt_code") == "97112")
        .group_by("patient_id", "service_date")
        .agg(pl.col("rendering_npi").first().alias("_d_npi")),
        on=["patient_id", "service_date"],
        how="left",
    ).with_columns(pl.coalesce("rendering_npi", "_d_npi").alias("rendering_npi"))
    f_npi = f_npi.join(
        lines.select("claim_id", "line_number", pl.col("service_date").alias("_l_date")),
        on=["claim_id", "line_number"],
        how="left",
    ).with_columns(pl.coalesce("service_date", "_l_date").alias("service_date"))
    periods = [("all", dt.date(2026, 1, 1), dt.date(2026, 3, 31))] + [
        (f"{y}-{m:02d}", dt.date(y, m, 1), (dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)))
        for y, m in MONTHS
    ]
    score_rows, metric_rows = [], []
    metric_names = [
        ("units_97112_per_patient_day", "high"),
        ("timed_units_per_patient_day", "high"),
        ("minutes_per_timed_unit", "low"),
        ("share_days_97112_at_limit", "high"),
        ("rate_units_over_minutes", "high"),
    ]
    for period, start, end in periods:
        pl_lines = lines.filter(pl.col("service_date").is_between(start, end))
        pf = f_npi.filter(pl.col("service_date").is_between(start, end))
        rows = []
        for npi, *_ in PROVIDERS:
            ln = pl_lines.filter(pl.col("rendering_npi") == npi)
            fi = pf.filter(pl.col("rendering_npi") == npi)
            pdays = ln.select("patient_id", "service_date").unique().height
            timed = ln.filter(pl.col("cpt_code").is_in(list(TIMED)))
            tu = int(timed["units_billed"].sum() or 0)
            u112 = ln.filter(pl.col("cpt_code") == "97112")
            u112_days = u112.group_by("patient_id", "service_date").agg(pl.col("units_billed").sum())
            tmin = int(timed["minutes"].fill_null(0).sum() or 0)
            hours = timed.group_by("service_date").agg(pl.col("minutes").fill_null(0).sum() / 60)
            r = {
                "period": period,
                "period_start": start,
                "period_end": end,
                "rendering_npi": npi,
                "provider_name": names[npi],
                "discipline": disc[npi],
                "peer_group": disc[npi],
                "patient_days": pdays,
                "patients": ln["patient_id"].n_unique(),
                "timed_units": tu,
                "timed_units_per_patient_day": tu / pdays if pdays else None,
                "units_97112_per_patient_day": (int(u112["units_billed"].sum() or 0) / pdays) if pdays else None,
                "share_97112_of_timed_units": (int(u112["units_billed"].sum() or 0) / tu) if tu else None,
                "minutes_per_timed_unit": tmin / tu if tu else None,
                "share_days_97112_at_limit": (
                    u112_days.filter(pl.col("units_billed") >= 4).height / pdays if pdays else None
                ),
                "units_97112": int(u112["units_billed"].sum() or 0),
                "working_days": ln["service_date"].n_unique(),
                "rate_untimed_units": (
                    100.0 * fi.filter(pl.col("rule_id") == "UNTIMED_UNITS").height / pdays if pdays else None
                ),
            }
            for rule in RULES:
                n = fi.filter(pl.col("rule_id") == rule).height
                r[f"rate_{rule.lower()}"] = 100.0 * n / pdays if pdays else None
            r.update(
                findings=fi.height,
                units_over=int(fi["units_over"].fill_null(0).sum() or 0),
                amount_at_risk=float(fi["amount_at_risk"].fill_null(0).sum() or 0.0),
                timed_hours_per_day_mean=float(hours[hours.columns[1]].mean() or 0) if hours.height else None,
                timed_hours_per_day_max=float(hours[hours.columns[1]].max() or 0) if hours.height else None,
                share_days_over_8h=0.0,
            )
            rows.append(r)
        # peers, z, risk
        for metric, direction in metric_names:
            for group in sorted({r["peer_group"] for r in rows}):
                members = [r for r in rows if r["peer_group"] == group and r[metric] is not None]
                if not members:
                    continue
                vals = [float(r[metric]) for r in members]
                med = statistics.median(vals)
                zs = _robust_z(vals) if len(vals) > 1 else [0.0]
                for r, v, z in zip(members, vals, zs, strict=True):
                    pct = 100.0 * sum(1 for x in vals if x <= v) / len(vals)
                    z_bad = z if direction == "high" else -z
                    p = 0.5 * math.erfc(z_bad / math.sqrt(2))
                    metric_rows.append(
                        {
                            "period": period,
                            "rendering_npi": r["rendering_npi"],
                            "peer_group": group,
                            "metric": metric,
                            "label": METRIC_LABELS[metric],
                            "value": v,
                            "peer_median": med,
                            "robust_z": z,
                            "percentile": pct,
                            "p_value": p,
                            "significant": bool(p < 0.05 and len(vals) > 1),
                            "direction_bad": direction,
                        }
                    )
                    r.setdefault("_z", {})[metric] = (z, med)
        all_112 = statistics.median([r["units_97112_per_patient_day"] or 0 for r in rows])
        for r in rows:
            z112 = r.get("_z", {}).get("units_97112_per_patient_day", (0.0, all_112))[0]
            r["risk_score"] = round(max(z112, 0) + r["amount_at_risk"] / 500.0 + r["findings"] / 10.0, 3)
            r["volume_ok"] = r["patient_days"] >= 5
        rows.sort(key=lambda r: (-r["risk_score"], r["rendering_npi"]))
        for rank, r in enumerate(rows, start=1):
            r["risk_rank"] = rank
            r["outlier"] = bool(rank == 1 or r["risk_score"] >= 4.0)
            reasons = []
            z, med = r.get("_z", {}).get("units_97112_per_patient_day", (0.0, 0.0))
            if r["units_97112_per_patient_day"] is not None and z > 1.5:
                reasons.append(
                    f"97112 units per patient-day {r['units_97112_per_patient_day']:.2f} vs peer median {med:.2f} "
                    f"(robust z {z:.1f})"
                )
            if r["findings"]:
                reasons.append(
                    f"{r['findings']} findings, {r['units_over']} units over, ${r['amount_at_risk']:,.2f} at risk"
                )
            r["reasons"] = "; ".join(reasons) if reasons else "no metric stands out"
            r.pop("_z", None)
        score_rows.extend(rows)
    scores = pl.DataFrame(score_rows, infer_schema_length=None)
    metrics = pl.DataFrame(metric_rows, infer_schema_length=None)
    return scores, metrics


def build_fixture_warehouse(path: Path, seed: int = 97112) -> FixtureInfo:
    """Create a DuckDB file at ``path`` holding the review-output tables, filled with synthetic data."""
    path = Path(path)
    rng = random.Random(seed)
    lines = pl.DataFrame(_therapist_day_visits(_visits(rng)), infer_schema_length=None).with_columns(
        pl.col("visit_start", "visit_end").cast(pl.Datetime("us")),
        pl.col("ingested_at").cast(pl.Datetime("us", "UTC")),
        pl.col("justification_documented").cast(pl.Boolean),
        pl.col("minutes", "total_timed_minutes", "line_number", "units_billed", "source_row").cast(pl.Int64),
    )
    line_units = _line_units(lines)
    findings = _findings(lines)
    scores, metrics = _scores(lines, findings)
    ingest_log = pl.DataFrame(
        {
            "source_file": ["extract_2026_01.csv", "extract_2026_02.csv", "extract_2026_03.csv", "bad.xlsx"],
            "sha256": ["a" * 64, "b" * 64, "c" * 64, "d" * 64],
            "rows_read": [lines.height // 3, lines.height // 3, lines.height - 2 * (lines.height // 3) + 3, 0],
            "rows_loaded": [lines.height // 3, lines.height // 3, lines.height - 2 * (lines.height // 3), 0],
            "rows_quarantined": [0, 0, 3, 0],
            "status": ["loaded", "loaded", "loaded", "rejected"],
            "reason": [None, None, None, "no sheet with the required columns"],
        }
    ).with_columns(pl.lit(dt.datetime(2026, 4, 2, 6, 0, tzinfo=dt.UTC)).alias("ingested_at"))
    quarantine = pl.DataFrame(
        {
            "source_file": ["extract_2026_03.csv"] * 3,
            "source_row": [17, 40, 41],
            "reasons": [["service_date: not a date"], ["units_billed: negative"], ["patient_id: missing"]],
            "raw_values": ['{"patient_id": "PHI-PAT-0002"}', '{"patient_id": "PHI-PAT-0003"}', "{}"],
        }
    ).with_columns(pl.lit(dt.datetime(2026, 4, 2, 6, 0, tzinfo=dt.UTC)).alias("quarantined_at"))

    if path.exists():
        path.unlink()
    con = duckdb.connect(str(path))
    try:
        ensure_schema(con)  # the review's own tables, columns and types; columns not filled here stay null
        for name, frame in [
            ("claim_lines", lines),
            ("ingest_log", ingest_log),
            ("quarantine", quarantine),
            ("line_units", line_units),
            ("findings", findings),
        ]:
            con.register("incoming", frame)
            con.execute(f"insert into {name} by name select * from incoming")
            con.unregister("incoming")
        for name, frame in [("provider_scores", scores), ("provider_metrics", metrics)]:  # made from frames
            con.register("incoming", frame)
            con.execute(f"create table {name} as select * from incoming")
            con.unregister("incoming")
        con.execute("checkpoint")
    finally:
        con.close()
    return FixtureInfo(path=path)


def publish(warehouse: Path, snapshot: Path) -> dict:
    """Publish ``warehouse``'s snapshot at ``snapshot`` as a review does."""
    from pipelines.warehouse.snapshot import publish_snapshot

    con = duckdb.connect(str(warehouse))
    try:
        return publish_snapshot(con, snapshot)
    finally:
        con.close()


if __name__ == "__main__":  # a quick look: python tests/fixtures_warehouse.py /tmp/fixture.duckdb
    import sys

    info = build_fixture_warehouse(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/fixture.duckdb"))
    c = duckdb.connect(str(info.path), read_only=True)
    for t in ["claim_lines", "line_units", "findings", "provider_scores", "provider_metrics"]:
        print(t, c.sql(f"select count(*) from {t}").fetchall())
    print(c.sql("select rule_id, count(*), sum(units_over), sum(amount_at_risk) from findings group by 1 order by 1"))
    print(
        c.sql(
            "select period, risk_rank, rendering_npi, provider_name, round(risk_score,2), outlier, reasons "
            "from provider_scores where period = 'all' order by risk_rank"
        )
    )
