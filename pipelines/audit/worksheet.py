"""The auditor's worksheet (Excel, written with xlsxwriter, every text cell passed through the shared
formula neutralizer ``dashboards.files.safe_export.neutralize``), and reading a completed one back.

Sheets:
- ``sample``: one row per sampled beneficiary-day: sample item number, stratum, the key
  (patient_id|service_date), its lines summarized (codes, minutes, billed and expected units), its
  findings, the examined amount, and EMPTY columns ``audited_amount``, ``determination`` and
  ``auditor_notes`` for the auditor.
- ``lines``: every claim line of the sampled days (minutes, billed and expected units, amounts).
- ``findings``: the review's findings on those days (line, patient-day and therapist-day grain).
- ``parameters``: the draw parameters (seed, provider, period, sizes, fingerprints, procedure...).
- ``strata``: per stratum its bounds, frame size N_h and sample size n_h.
- ``read_me``: how to fill it in.

Patient identifiers are written (auditors need them to pull the records): the file is PHI.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import fastexcel
import numpy as np
import polars as pl
import xlsxwriter

from dashboards.files.safe_export import FORMULA_PREFIXES, neutralize
from pipelines.audit import frame as frames
from pipelines.audit.appraise import AppraisalError, StratumFrame
from pipelines.audit.draw import PROCEDURE, Draw

ENTRY_COLUMNS = ("audited_amount", "determination", "auditor_notes")
SAMPLE_COLUMNS = [
    "sample_item",
    "stratum",
    "stratum_bounds",
    "beneficiary_day",
    "patient_id",
    "service_date",
    "lines",
    "cpt_codes",
    "minutes",
    "units_billed",
    "expected_units",
    "findings",
    "rules",
    "amount_at_risk",
    "therapist_day_findings",
    "examined_amount",
    "amount_basis",
    *ENTRY_COLUMNS,
]
MONEY_COLUMNS = {
    "examined_amount",
    "amount_at_risk",
    "audited_amount",
    "paid_amount",
    "allowed_amount",
    "charge_amount",
    "frame_amount",
    "sample_amount",
}
READ_ME = [
    "Audit worksheet of a random sample of beneficiary-days (one patient, one date, all of the therapist's lines).",
    "For every row of sheet 'sample' enter audited_amount: the part of the examined amount the medical record supports",
    "(0 when nothing is supported; the examined amount when all of it is). The overpayment of the item is",
    "examined_amount - audited_amount. Optionally enter a determination (e.g. supported, partly supported, not",
    "supported, no record) and notes. Do not add, remove or renumber rows; keep the sheets 'parameters' and 'strata'.",
    "Sheets 'lines' and 'findings' show each sampled day's claim lines and the review's findings on it.",
    "Appraise with: unitreview appraise --worksheet THIS_FILE [--warehouse FILE], or upload it on the provider page.",
    "This file holds patient identifiers: keep it as protected health information.",
]


# ---------------------------------------------------------------------------------------------
# writing


def day_key(patient_id: str, service_date) -> str:
    return f"{patient_id}|{service_date}"


def sample_sheet(draw: Draw, lines: pl.DataFrame, findings: pl.DataFrame) -> pl.DataFrame:
    """The ``sample`` sheet's frame (entry columns empty)."""
    items = draw.items
    if lines.height:
        codes = (
            lines.group_by("sample_item", "cpt_code")
            .agg(pl.col("units_billed").sum().alias("u"))
            .sort("sample_item", "cpt_code")
            .group_by("sample_item", maintain_order=True)
            .agg(pl.format("{} x{}", "cpt_code", "u").str.join("; ").alias("cpt_codes"))
        )
        sums = lines.group_by("sample_item").agg(
            pl.col("minutes").sum().alias("minutes"),
            pl.col("units_billed").sum().alias("units_billed"),
            pl.col("expected_units").sum().alias("expected_units"),
        )
    else:
        codes = pl.DataFrame(schema={"sample_item": pl.Int64, "cpt_codes": pl.String})
        sums = pl.DataFrame(
            schema={
                "sample_item": pl.Int64,
                "minutes": pl.Int64,
                "units_billed": pl.Int64,
                "expected_units": pl.Float64,
            }
        )
    own = findings.filter(pl.col("grain") != frames.GRAIN_THERAPIST_DAY)
    fsum = own.group_by("sample_item").agg(
        pl.len().cast(pl.Int64).alias("findings"),
        pl.col("rule_id").unique().sort().str.join(", ").alias("rules"),
        pl.col("amount_at_risk").sum().round(2).alias("amount_at_risk"),
    )
    tday = (
        findings.filter(pl.col("grain") == frames.GRAIN_THERAPIST_DAY)
        .group_by("sample_item")
        .agg(pl.len().cast(pl.Int64).alias("therapist_day_findings"))
    )
    out = (
        items.join(codes, on="sample_item", how="left")
        .join(sums, on="sample_item", how="left")
        .join(fsum, on="sample_item", how="left")
        .join(tday, on="sample_item", how="left")
        .with_columns(
            pl.col("stratum_label").alias("stratum_bounds"),
            pl.concat_str([pl.col("patient_id"), pl.col("service_date").cast(pl.String)], separator="|").alias(
                "beneficiary_day"
            ),
            pl.col("findings").fill_null(0),
            pl.col("therapist_day_findings").fill_null(0),
            pl.col("amount_at_risk").fill_null(0.0),
            pl.lit(None, pl.Float64).alias("audited_amount"),
            pl.lit(None, pl.String).alias("determination"),
            pl.lit(None, pl.String).alias("auditor_notes"),
        )
        .sort("sample_item")
    )
    return out.select(SAMPLE_COLUMNS)


def parameters_sheet(draw: Draw) -> pl.DataFrame:
    r = draw.request
    rows: list[tuple[str, str, str]] = [
        ("sample_id", draw.sample_id, "identifies the draw in audit_samples"),
        ("seed", str(r.seed), "numpy Generator(PCG64(seed))"),
        ("rendering_npi", r.npi, "the provider (rendering NPI)"),
        ("provider_name", draw.provider_name or "", ""),
        ("period_start", r.start.isoformat() if r.start else "", "first service date (empty: open)"),
        ("period_end", r.end.isoformat() if r.end else "", "last service date, inclusive (empty: open)"),
        ("sampling_unit", "beneficiary-day", "patient_id + service_date, with every line of the therapist that day"),
        ("amount_rule", frames.AMOUNT_RULE, "the examined amount"),
        (
            "frame_lines_by_basis",
            ", ".join(f"{k} {v}" for k, v in draw.frame_lines_by_basis.items()),
            "lines of the frame",
        ),
        ("frame_size", str(draw.frame_size), "N: beneficiary-days in the frame"),
        ("sample_size", str(draw.sample_size), "n"),
        ("requested_size", "" if r.size is None else str(r.size), "the total asked for"),
        (
            "strata",
            "" if not r.bounds else ",".join(f"{b:g}" for b in r.bounds),
            "bounds of examined amounts; empty: unrestricted",
        ),
        (
            "stratum_sizes",
            "" if r.stratum_sizes is None else ",".join("all" if s is None else str(s) for s in r.stratum_sizes),
            "given per stratum",
        ),
        ("allocation", r.allocation(), "unrestricted | proportional | given"),
        ("procedure", PROCEDURE, "how the items were chosen (see pipelines/audit/README.md)"),
        ("config_fingerprint", draw.config_fingerprint, "hash of the draw parameters"),
        ("frame_fingerprint", draw.frame_fingerprint, "hash of the sorted frame"),
        ("review_config_hash", draw.review_config_hash or "", "configuration of the review that produced the findings"),
        ("source_database", draw.source_database or "", "the warehouse or snapshot the frame was read from"),
        ("drawn_at", draw.drawn_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"), ""),
        ("numpy_version", np.__version__, ""),
        ("notes", " / ".join(draw.notes), ""),
    ]
    return pl.DataFrame(rows, schema=["parameter", "value", "note"], orient="row")


def strata_sheet(draw: Draw) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "stratum": d.stratum.number,
                "bounds": d.stratum.label,
                "lower": d.stratum.lower,
                "upper": d.stratum.upper,
                "frame_size": d.frame_size,
                "sample_size": d.sample_size,
                "sampled_in_full": d.full,
                "frame_amount": d.frame_amount,
                "sample_amount": d.sample_amount,
            }
            for d in draw.strata
        ],
        schema={
            "stratum": pl.Int64,
            "bounds": pl.String,
            "lower": pl.Float64,
            "upper": pl.Float64,
            "frame_size": pl.Int64,
            "sample_size": pl.Int64,
            "sampled_in_full": pl.Boolean,
            "frame_amount": pl.Float64,
            "sample_amount": pl.Float64,
        },
    )


def lines_sheet(lines: pl.DataFrame) -> pl.DataFrame:
    return lines.with_columns(
        pl.concat_str([pl.col("patient_id"), pl.col("service_date").cast(pl.String)], separator="|").alias(
            "beneficiary_day"
        )
    ).select(
        "sample_item",
        "beneficiary_day",
        "patient_id",
        "service_date",
        "claim_id",
        "line_number",
        "cpt_code",
        "modifiers",
        "minutes",
        "total_timed_minutes",
        "units_billed",
        "is_timed",
        "method",
        "expected_units",
        "expected_units_min",
        "expected_units_max",
        "expected_basis",
        "diagnosis_codes",
        "payer_type",
        "payer_name",
        "paid_amount",
        "allowed_amount",
        "charge_amount",
        "examined_amount",
        "amount_basis",
    )


def write_worksheet(draw: Draw, lines: pl.DataFrame, findings: pl.DataFrame, target: Path | None = None) -> bytes:
    """The worksheet as bytes (also written to ``target`` when given)."""
    sheets = {
        "sample": sample_sheet(draw, lines, findings),
        "lines": lines_sheet(lines),
        "findings": findings.select(
            "sample_item",
            "grain",
            "rule_id",
            "severity",
            "claim_id",
            "line_number",
            "units_over",
            "amount_at_risk",
            "detail",
        ),
        "parameters": parameters_sheet(draw),
        "strata": strata_sheet(draw),
        "read_me": pl.DataFrame({"how to fill in this worksheet": READ_ME}),
    }
    data = write_book(sheets)
    if target is not None:
        Path(target).write_bytes(data)
    return data


def write_book(sheets: Mapping[str, pl.DataFrame]) -> bytes:
    """Sheets of frames as an Excel workbook: text with ``write_string`` (neutralized, never a formula),
    numbers with ``write_number``, dates as ISO text; entry columns shaded."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer,
        {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False},
    )
    bold = book.add_format({"bold": True})
    entry_head = book.add_format({"bold": True, "bg_color": "#FFF2CC", "border": 1})
    entry = book.add_format({"bg_color": "#FFF2CC", "border": 1})
    entry_money = book.add_format({"bg_color": "#FFF2CC", "border": 1, "num_format": "#,##0.00"})
    money = book.add_format({"num_format": "#,##0.00"})
    for name, frame in sheets.items():
        sheet = book.add_worksheet(name[:31])
        for c, column in enumerate(frame.columns):
            sheet.write_string(0, c, neutralize(column), entry_head if column in ENTRY_COLUMNS else bold)
            width = 60 if name == "read_me" else min(max(len(column) + 2, 12), 40)
            sheet.set_column(c, c, width)
        for r, row in enumerate(frame.iter_rows(), start=1):
            for c, value in enumerate(row):
                column = frame.columns[c]
                if column in ENTRY_COLUMNS:
                    fmt = entry_money if column == "audited_amount" else entry
                else:
                    fmt = money if column in MONEY_COLUMNS else None
                _cell(sheet, r, c, value, fmt)
        if frame.width and name != "read_me":
            sheet.freeze_panes(1, 0)
            sheet.autofilter(0, 0, max(frame.height, 1), frame.width - 1)
    book.close()
    return buffer.getvalue()


def _cell(sheet, r: int, c: int, value, fmt) -> None:
    if value is None:
        sheet.write_blank(r, c, None, fmt)
    elif isinstance(value, bool):
        sheet.write_boolean(r, c, value, fmt)
    elif isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            sheet.write_string(r, c, str(value), fmt)
        else:
            sheet.write_number(r, c, value, fmt)
    elif isinstance(value, (dt.date, dt.datetime, dt.time)):
        sheet.write_string(r, c, value.isoformat(), fmt)
    elif value == "":
        sheet.write_blank(r, c, None, fmt)
    else:
        sheet.write_string(r, c, neutralize(str(value)), fmt)


# ---------------------------------------------------------------------------------------------
# reading


@dataclass
class Worksheet:
    parameters: dict[str, str]
    strata: list[StratumFrame]
    items: (
        pl.DataFrame
    )  # sample_item, stratum, beneficiary_day, patient_id, service_date, examined_amount, audited_amount, determination
    sha256: str
    source: str | None = None

    @property
    def sample_id(self) -> str | None:
        return self.parameters.get("sample_id") or None


def unneutralize(value):
    """The text as it was before ``neutralize`` (drops the guarding quote)."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


def _amount(value) -> float | str | None:
    """A cell as an amount: None when blank, a float, or the text itself when it is not a number
    ("$1,234.50" and "(12.00)" for -12 are numbers)."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return None if isinstance(value, float) and math.isnan(value) else float(value)
    text = str(value).strip()
    if not text:
        return None
    t = text.lstrip("'").replace("$", "").replace(",", "").replace(" ", "")
    negative = t.startswith("(") and t.endswith(")")
    if negative:
        t = t[1:-1]
    try:
        number = float(t)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    return -number if negative else number


def _read_sheet(data: bytes, sheet: str, overrides: Mapping[str, pl.DataType] | None = None) -> pl.DataFrame:
    """One sheet with inferred types; a column with no value at all is read as text (so that the
    reader does not warn), ``overrides`` win."""
    raw = pl.read_excel(io.BytesIO(data), sheet_name=sheet, infer_schema_length=0)
    types = {c: pl.String for c in raw.columns if raw[c].fill_null("").eq("").all()}
    types.update({c: t for c, t in (overrides or {}).items() if c in raw.columns})
    return pl.read_excel(io.BytesIO(data), sheet_name=sheet, infer_schema_length=None, schema_overrides=types)


def read_worksheet(source: bytes | Path | str, name: str | None = None) -> Worksheet:
    """Read a (completed) worksheet: parameters, strata and the sample with the audited amounts.
    Raises ``AppraisalError`` when a sheet or column is missing or an audited amount is not a number."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        data = path.read_bytes()
        name = name or path.name
    else:
        data = bytes(source)
    digest = hashlib.sha256(data).hexdigest()
    try:
        sample = _read_sheet(
            data,
            "sample",
            {
                "audited_amount": pl.String,
                "determination": pl.String,
                "auditor_notes": pl.String,
                "patient_id": pl.String,
                "beneficiary_day": pl.String,
            },
        )
        params = _read_sheet(data, "parameters", {"parameter": pl.String, "value": pl.String, "note": pl.String})
        strata = _read_sheet(data, "strata", {"lower": pl.Float64, "upper": pl.Float64})
    except Exception as exc:
        raise AppraisalError(
            f"not a unitreview audit worksheet (sheets sample, parameters, strata): {type(exc).__name__}"
        ) from None
    for column in ("sample_item", "stratum", "examined_amount", "audited_amount"):
        if column not in sample.columns:
            raise AppraisalError(f"sheet 'sample' has no column {column}")
    for column in ("stratum", "frame_size", "sample_size"):
        if column not in strata.columns:
            raise AppraisalError(f"sheet 'strata' has no column {column}")
    sample = sample.filter(pl.col("sample_item").is_not_null())
    audited = [_amount(v) for v in sample["audited_amount"].to_list()]
    bad = [int(i) for i, a in zip(sample["sample_item"].to_list(), audited, strict=True) if isinstance(a, str)]
    if bad:
        raise AppraisalError(f"the audited amount of sample item(s) {', '.join(map(str, bad))} is not a number")
    text = lambda c: [unneutralize(v) for v in sample[c].to_list()] if c in sample.columns else [None] * sample.height
    items = pl.DataFrame(
        {
            "sample_item": sample["sample_item"].cast(pl.Int64),
            "stratum": sample["stratum"].cast(pl.Int64),
            "beneficiary_day": pl.Series(text("beneficiary_day"), dtype=pl.String),
            "patient_id": pl.Series(text("patient_id"), dtype=pl.String),
            "service_date": pl.Series(
                [str(v) if v is not None else None for v in text("service_date")], dtype=pl.String
            ),
            "examined_amount": sample["examined_amount"].cast(pl.Float64),
            "audited_amount": pl.Series(audited, dtype=pl.Float64),
            "determination": pl.Series(text("determination"), dtype=pl.String),
        }
    )
    parameters = {
        str(unneutralize(k)): ("" if v is None else str(unneutralize(v)))
        for k, v in zip(params["parameter"].to_list(), params["value"].to_list(), strict=True)
        if k
    }
    label = "bounds" if "bounds" in strata.columns else "stratum"
    frames_ = [
        StratumFrame(int(s), str(unneutralize(lbl)) if lbl is not None else str(s), int(N), int(n))
        for s, lbl, N, n in zip(
            strata["stratum"].to_list(),
            strata[label].to_list(),
            strata["frame_size"].to_list(),
            strata["sample_size"].to_list(),
            strict=True,
        )
        if s is not None
    ]
    return Worksheet(parameters, frames_, items, digest, name)


def fill_worksheet(
    source: bytes | Path, audited: Mapping[int, float | None], determinations: Mapping[int, str] | None = None
) -> bytes:
    """A copy of the worksheet with ``audited_amount`` (and ``determination``) filled per sample item,
    as an auditor would (tests, simulations). Every sheet is kept."""
    data = Path(source).read_bytes() if isinstance(source, (str, Path)) else bytes(source)
    names = fastexcel.read_excel(data).sheet_names
    text = dict.fromkeys(("audited_amount", "determination", "auditor_notes", "value", "note", "detail"), pl.String)
    sheets = {name: _read_sheet(data, name, text) for name in names}
    sample = sheets["sample"]
    items = sample["sample_item"].cast(pl.Int64).to_list()
    sample = sample.with_columns(
        pl.Series("audited_amount", [audited.get(i) for i in items], dtype=pl.Float64),
        pl.Series("determination", [(determinations or {}).get(i) for i in items], dtype=pl.String),
    )
    sheets["sample"] = sample
    return write_book(sheets)
