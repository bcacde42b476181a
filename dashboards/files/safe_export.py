"""Formula-safe exports: the one neutralizer every CSV and Excel writer uses.

A spreadsheet treats a cell that begins with ``=``, ``+``, ``-`` or ``@`` (and, in some programs, a
tab or carriage return) as a formula. Any *text* cell starting so gets a leading single quote.
Numbers stay numbers: a negative amount stored as a number is not a formula.
"""

from __future__ import annotations

import datetime as dt
import io
import math

import polars as pl
import xlsxwriter

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value):
    """``value`` with a leading ``'`` when it is text that a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _as_text_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Lists and structs as text, so that every text cell passes the neutralizer."""
    exprs = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.List):
            exprs.append(pl.col(name).cast(pl.List(pl.String)).list.join("; "))
        elif isinstance(dtype, (pl.Struct, pl.Array, pl.Object)):
            exprs.append(pl.col(name).map_elements(str, return_dtype=pl.String))
    return frame.with_columns(exprs) if exprs else frame


def neutralize_frame(frame: pl.DataFrame) -> pl.DataFrame:
    frame = _as_text_frame(frame)
    text = [c for c, t in frame.schema.items() if t in (pl.String, pl.Categorical) or isinstance(t, pl.Enum)]
    return frame.with_columns(pl.col(c).cast(pl.String).map_elements(neutralize, return_dtype=pl.String) for c in text)


UTF8_BOM = b"\xef\xbb\xbf"


def to_csv_bytes(frame: pl.DataFrame) -> bytes:
    """UTF-8 CSV of ``frame`` with every text cell neutralized, starting with a byte order mark:
    without it Excel reads the file in the machine's legacy code page ("ZoÃ«" for "Zoë")."""
    return UTF8_BOM + neutralize_frame(frame).write_csv().encode("utf-8")


def to_xlsx_bytes(sheets: dict[str, pl.DataFrame]) -> bytes:
    """An Excel workbook, one sheet per frame. Text goes in with ``write_string`` (never as a formula,
    and neutralized), numbers with ``write_number``, dates as ISO text."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer,
        {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False},
    )
    bold = book.add_format({"bold": True})
    for sheet_name, frame in sheets.items():
        sheet = book.add_worksheet(_sheet_name(sheet_name))
        frame = _as_text_frame(frame)
        for c, name in enumerate(frame.columns):
            sheet.write_string(0, c, neutralize(name), bold)
        for r, row in enumerate(frame.iter_rows(), start=1):
            for c, value in enumerate(row):
                _write_cell(sheet, r, c, value)
        if frame.width:
            sheet.freeze_panes(1, 0)
            sheet.autofilter(0, 0, max(frame.height, 1), frame.width - 1)
            for c, name in enumerate(frame.columns):
                sheet.set_column(c, c, min(max(len(name) + 2, 12), 60))
    book.close()
    return buffer.getvalue()


def _write_cell(sheet, r: int, c: int, value) -> None:
    if value is None:
        sheet.write_blank(r, c, None)
    elif isinstance(value, bool):
        sheet.write_boolean(r, c, value)
    elif isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            sheet.write_string(r, c, str(value))
        else:
            sheet.write_number(r, c, value)
    elif isinstance(value, (dt.date, dt.datetime, dt.time)):
        sheet.write_string(r, c, value.isoformat())
    else:
        sheet.write_string(r, c, neutralize(str(value)))


def _sheet_name(name: str) -> str:
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in name).strip("'")
    return (cleaned or "sheet")[:31]
