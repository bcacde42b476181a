"""Writing extracts the way exports arrive: CSV (quoted by the writer), gzip, Parquet, Excel.

Every writer is deterministic (same frame -> same bytes): gzip headers carry no time or name, the
workbook a fixed creation time. Text is written as text: a cell starting with '=', '+', '-' or '@'
stays a string in the workbook (never a formula), and CSV quoting keeps commas, quotes and
semicolons inside their field.
"""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import polars as pl
import xlsxwriter

FORMATS = ("csv", "csv.gz", "parquet", "xlsx")
XLSX_MAX_ROWS = 1_048_575  # data rows under the header
_FIXED_TIME = dt.datetime(2026, 1, 1)

# A vendor's header spelling (the shipped "common_vendor" profile reads it); other columns keep
# their canonical names.
VENDOR_HEADERS = {
    "claim_id": "Claim Number",
    "line_number": "Line No",
    "patient_id": "Member ID",
    "rendering_npi": "Rendering Provider NPI",
    "service_date": "Date of Service",
    "cpt_code": "CPT",
    "units_billed": "Units",
    "payer_type": "Payer Type",
    "billing_npi": "Billing Provider NPI",
    "diagnosis_codes": "Dx Codes",
    "minutes": "Minutes",
}


def to_vendor(frame: pl.DataFrame) -> pl.DataFrame:
    """Vendor headers; Date of Service as US MM/DD/YYYY text; visit times as 'YYYY-MM-DD HH:MM'."""
    return frame.with_columns(
        pl.col("service_date").dt.strftime("%m/%d/%Y"),
        pl.col("visit_start").dt.strftime("%Y-%m-%d %H:%M"),
        pl.col("visit_end").dt.strftime("%Y-%m-%d %H:%M"),
    ).rename({k: v for k, v in VENDOR_HEADERS.items() if k in frame.columns})


def extension(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return fmt


def write_csv(frame: pl.DataFrame, path: Path) -> None:
    frame.write_csv(path, date_format="%Y-%m-%d", datetime_format="%Y-%m-%dT%H:%M:%S", float_precision=2)


def write_csv_gz(frame: pl.DataFrame, path: Path) -> None:
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
        frame.write_csv(gz, date_format="%Y-%m-%d", datetime_format="%Y-%m-%dT%H:%M:%S", float_precision=2)


def write_parquet(frame: pl.DataFrame, path: Path) -> None:
    frame.write_parquet(path, compression="zstd", statistics=True)


def write_xlsx(frame: pl.DataFrame, path: Path) -> None:
    """One sheet; strings always as strings, numbers, booleans, dates and date-times typed."""
    if frame.height > XLSX_MAX_ROWS:
        raise ValueError(f"{frame.height} rows do not fit one worksheet ({XLSX_MAX_ROWS})")
    workbook = xlsxwriter.Workbook(
        str(path),
        {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False},
    )
    workbook.set_properties({"created": _FIXED_TIME})
    sheet = workbook.add_worksheet("claims")
    date_fmt = workbook.add_format({"num_format": "yyyy-mm-dd"})
    time_fmt = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    money_fmt = workbook.add_format({"num_format": "0.00"})
    writers = []
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            writers.append((sheet.write_string, None))
        elif dtype == pl.Boolean:
            writers.append((sheet.write_boolean, None))
        elif dtype == pl.Date:
            writers.append((sheet.write_datetime, date_fmt))
        elif isinstance(dtype, pl.Datetime):
            writers.append((sheet.write_datetime, time_fmt))
        elif dtype.is_float():
            writers.append((sheet.write_number, money_fmt))
        elif dtype.is_numeric():
            writers.append((sheet.write_number, None))
        else:
            raise TypeError(f"column {name}: no Excel writer for {dtype}")
    sheet.write_row(0, 0, frame.columns)
    for r, row in enumerate(frame.iter_rows(), start=1):
        for c, value in enumerate(row):
            if value is not None:
                write, fmt = writers[c]
                write(r, c, value, fmt)
    workbook.close()


def write(frame: pl.DataFrame, path: Path, fmt: str) -> None:
    {"csv": write_csv, "csv.gz": write_csv_gz, "parquet": write_parquet, "xlsx": write_xlsx}[extension(fmt)](
        frame, path
    )
