"""Small hand-written extracts for ingestion tests: one valid row, and the means to break it."""

from __future__ import annotations

import csv
from pathlib import Path

VALID_ROW: dict[str, str] = {
    "claim_id": "CLM-1",
    "line_number": "1",
    "patient_id": "PAT-0001",
    "rendering_npi": "1234567893",
    "service_date": "2026-10-01",
    "cpt_code": "97112",
    "units_billed": "2",
    "payer_type": "medicare",
    "minutes": "30",
    "total_timed_minutes": "30",
    "billing_npi": "1245319599",
    "modifiers": "GP",
    "diagnosis_codes": "I63.9;R26.81",
    "payer_name": "Medicare Part B",
    "charge_amount": "120.00",
    "allowed_amount": "70.50",
    "paid_amount": "56.40",
    "visit_start": "2026-10-01T09:00",
    "visit_end": "2026-10-01T09:45",
    "provider_specialty": "PT",
    "provider_name": "Avery Lopez, PT",
    "clinic_name": "Riverside Physical Therapy",
}


def row(**changes: str | None) -> dict[str, str | None]:
    """The valid row with some cells changed (None = empty cell)."""
    return {**VALID_ROW, **changes}


def rows(n: int, **changes: str | None) -> list[dict[str, str | None]]:
    """n valid rows with distinct line keys."""
    return [row(claim_id=f"CLM-{i}", **changes) for i in range(1, n + 1)]


def write_csv(path: Path, records: list[dict[str, str | None]], header: list[str] | None = None) -> Path:
    header = header or list(records[0])
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        for record in records:
            writer.writerow({k: ("" if v is None else v) for k, v in record.items()})
    return path
