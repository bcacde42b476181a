"""Exports are formula-safe: the one neutralizer, the CSV writer and the Excel writer."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile

import polars as pl
import pytest

from dashboards.files.safe_export import FORMULA_PREFIXES, neutralize, neutralize_frame, to_csv_bytes, to_xlsx_bytes

BAIT = ["=1+1", "+SUM(A1)", "-1+2", "@SUM(A1:A9)", '=HYPERLINK("http://x.invalid","y")', "\t=1", "\r=1"]


@pytest.mark.parametrize("text", BAIT)
def test_neutralize_prefixes_formula_text(text):
    assert neutralize(text) == "'" + text


@pytest.mark.parametrize("value", ["plain", "97112", "", " =spaced", "a=b", "'already", None, -5, -1.5, 0, True])
def test_neutralize_leaves_other_values(value):
    assert neutralize(value) == value


def test_neutralize_frame_only_touches_text():
    frame = pl.DataFrame(
        {
            "text": ["=1+1", "ok", None, "-1+2"],
            "amount": [-12.5, 3.0, None, -1.0],
            "units": [-1, 2, 3, 4],
            "tags": [["@x", "y"], [], None, ["z"]],
        }
    )
    out = neutralize_frame(frame)
    assert out["text"].to_list() == ["'=1+1", "ok", None, "'-1+2"]
    assert out["amount"].to_list() == [-12.5, 3.0, None, -1.0]
    assert out["units"].dtype == pl.Int64 and out["units"].to_list() == [-1, 2, 3, 4]
    assert out["tags"].to_list()[0] == "'@x; y"


def _csv_text_cells_safe(body: bytes, numeric: set[str]) -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    for row in rows:
        for key, value in row.items():
            if key in numeric and value:
                float(value)  # numbers stay numbers (a negative number is not a formula)
                continue
            assert not value.startswith(FORMULA_PREFIXES), (key, value)
    return rows


def test_csv_neutralizes_every_text_cell():
    frame = pl.DataFrame(
        {
            "claim_id": ["-1+2", "C1"],
            "note": ["=cmd|' /C calc'!A0", "fine"],
            "amount": [-3.5, 2.0],
            "day": [dt.date(2026, 1, 2), dt.date(2026, 1, 3)],
        }
    )
    rows = _csv_text_cells_safe(to_csv_bytes(frame), {"amount"})
    assert rows[0]["claim_id"] == "'-1+2" and rows[0]["note"].startswith("'=") and rows[0]["amount"] == "-3.5"
    assert rows[0]["day"] == "2026-01-02"


def xlsx_cells(body: bytes) -> dict[str, list[tuple[str, str, bool]]]:
    """Per sheet: (cell ref, value as text, is_formula) read straight from the workbook XML."""
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        shared = []
        if "xl/sharedStrings.xml" in z.namelist():
            xml = z.read("xl/sharedStrings.xml").decode("utf-8")
            shared = [re.sub(r"<[^>]+>", "", si) for si in re.findall(r"<si>(.*?)</si>", xml, re.S)]
        import html as _html

        shared = [_html.unescape(s) for s in shared]
        out = {}
        for name in sorted(n for n in z.namelist() if re.match(r"xl/worksheets/sheet\d+\.xml", n)):
            xml = z.read(name).decode("utf-8")
            cells = []
            for attrs, inner in re.findall(r"<c ([^>]*?)(?:/>|>(.*?)</c>)", xml, re.S):
                ref = re.search(r'r="([A-Z]+\d+)"', attrs).group(1)
                is_formula = "<f>" in (inner or "") or "<f " in (inner or "")
                v = re.search(r"<v>(.*?)</v>", inner or "", re.S)
                value = v.group(1) if v else ""
                if 't="s"' in attrs and value:
                    value = shared[int(value)]
                cells.append((ref, value, is_formula))
            out[name] = cells
        return out


def test_xlsx_writes_text_as_safe_strings_and_numbers_as_numbers():
    frame = pl.DataFrame(
        {
            "detail": ["=1+1", "@SUM(A1)", "ok", None],
            "amount": [-5.0, 1.0, 2.0, None],
            "flag": [True, False, None, True],
        }
    )
    body = to_xlsx_bytes({"findings": frame, "lines": pl.DataFrame({"modifiers": ["-1+2"]})})
    sheets = xlsx_cells(body)
    assert len(sheets) == 2
    for cells in sheets.values():
        for ref, value, is_formula in cells:
            assert not is_formula, ref
            assert not value.startswith(FORMULA_PREFIXES) or re.fullmatch(r"-?\d+(\.\d+)?", value), (ref, value)
    first = {ref: value for ref, value, _ in sheets["xl/worksheets/sheet1.xml"]}
    assert first["A2"] == "'=1+1" and first["A3"] == "'@SUM(A1)" and first["B2"] == "-5"
    read = pl.read_excel(io.BytesIO(body), sheet_name="lines")
    assert read["modifiers"].to_list() == ["'-1+2"]
