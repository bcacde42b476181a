"""One patient-day: its lines and findings, and the patient a link's token names (never an id in a URL)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from dashboards.access.privacy import resolve_token
from dashboards.data import summaries
from dashboards.data.derived import FINDINGS, findings_with_detail
from dashboards.data.lines import line_detail_sql
from dashboards.data.snapshot import Snapshot


def patient_ids_on(snap: Snapshot, service_date: dt.date, npi: str | None = None) -> list[str]:
    """Patients with lines on a date (of one therapist when ``npi`` is given): to resolve a token."""
    snap.require("claim_lines", "patient_id", "service_date", "rendering_npi")
    rows = snap.rows(
        "select distinct patient_id from claim_lines where service_date = ? and (? is null or rendering_npi = ?)",
        [service_date, npi, npi],
    )
    return [r[0] for r in rows]


def patient_of_token(
    snap: Snapshot, key: bytes, npi: str | None, token: str | None, service_date: dt.date
) -> str | None:
    """The patient a patient-day link names by its token (``privacy.patient_token`` under ``key``),
    among the patients seen that day: the therapist's first, then anyone's."""
    for candidates in (patient_ids_on(snap, service_date, npi), patient_ids_on(snap, service_date, None)):
        pid = resolve_token(key, token, candidates)
        if pid is not None:
            return pid
    return None


def all_patient_ids(snap: Snapshot) -> list[str]:
    """Every patient id in the snapshot, for scrubbing free text shown to managers: those of the
    claim lines and of the findings (line_units is not read: its rows are the claim lines' own)."""
    parts = [f"select patient_id from {t}" for t in ("claim_lines", "findings") if snap.has(t, "patient_id")]
    if not parts:
        return []
    rows = snap.rows(f"select distinct patient_id from ({' union all '.join(parts)}) where patient_id is not null")
    return [r[0] for r in rows]


def patient_day_lines(snap: Snapshot, patient_id: str, service_date: dt.date) -> pl.DataFrame:
    snap.require("claim_lines", "claim_id", "line_number", "patient_id", "service_date")
    return snap.frame(
        line_detail_sql(snap, "cl.patient_id = $pid and cl.service_date = $day"),
        {"pid": patient_id, "day": service_date},
    )


def patient_day_findings(snap: Snapshot, patient_id: str, service_date: dt.date) -> pl.DataFrame:
    """Findings of the patient-day, of its lines, and the therapist-day findings of its therapists."""
    frame = summaries.frame(
        snap,
        (FINDINGS,),
        f"""
        select * from {findings_with_detail(snap)}
        where service_date = $day and (patient_id = $pid or (patient_id is null and rendering_npi in
              (select rendering_npi from claim_lines where patient_id = $pid and service_date = $day)))
        order by rule_id, finding_id
        """,
        {"pid": patient_id, "day": service_date},
    )
    return frame.select(
        [
            c
            for c in [
                "rule_id",
                "severity",
                "rendering_npi",
                "patient_id",
                "claim_id",
                "line_number",
                "units_over",
                "amount_at_risk",
                "detail",
                "finding_id",
            ]
            if c in frame.columns
        ]
    )
