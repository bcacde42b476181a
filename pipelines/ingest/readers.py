"""Readers: every extract format into one shape, all columns as text, each row numbered.

A reader returns the file's rows as text (``source_row`` = 1-based data row, header excluded) and the
rows it could not split into fields (CSV only: too many or too few fields), which go to the quarantine
with their raw line. A file that cannot be read as a table at all raises ``UnreadableFile`` with a
reason a person can act on.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import fastexcel
import polars as pl

EXTRACT_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".xlsx")


class UnreadableFile(Exception):
    """The file cannot be read as a table; the message is the ingest log's reason."""


@dataclass(frozen=True)
class RawExtract:
    rows: pl.DataFrame  # every column String, plus source_row (Int64)
    unsplit: pl.DataFrame  # source_row, raw_line, reason: rows whose fields could not be split


UNSPLIT_SCHEMA = {"source_row": pl.Int64, "raw_line": pl.String, "reason": pl.String}


def extract_format(path: Path) -> str | None:
    """'csv', 'parquet' or 'xlsx' for an extract's file name, else None."""
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(".xlsx"):
        return "xlsx"
    return None


def find_extracts(path: Path) -> list[Path]:
    """The extracts under a file or folder (recursively), in a stable order; hidden files skipped."""
    if path.is_file():
        return [path]
    found = [
        p
        for p in path.rglob("*")
        if p.is_file()
        and extract_format(p)
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    ]
    return sorted(found)


def read_extract(path: Path) -> RawExtract:
    """Read one extract as text; raise UnreadableFile when it is not a table."""
    fmt = extract_format(path)
    if fmt == "csv":
        return _read_csv(path)
    if fmt is None:
        raise UnreadableFile("not a CSV, CSV.gz, Parquet or Excel (.xlsx) file")
    try:
        if fmt == "parquet":
            frame = pl.read_parquet(path)
        else:
            frame = pl.read_excel(path, infer_schema_length=0, raise_if_empty=False)
    except (pl.exceptions.PolarsError, fastexcel.FastExcelError, OSError, ValueError) as exc:
        raise UnreadableFile(f"cannot be read as {fmt}: {_first_line(exc)}") from None
    rows = _as_text(frame).with_row_index("source_row", offset=1).with_columns(
        pl.col("source_row").cast(pl.Int64)
    )
    return RawExtract(rows=rows, unsplit=pl.DataFrame(schema=UNSPLIT_SCHEMA))


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(pl.all().cast(pl.String))


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _check_not_utf16(path: Path) -> None:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as stream:
            head = stream.read(2)
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableFile(f"cannot be read as CSV: damaged gzip ({_first_line(exc)})") from None
    if head in (b"\xff\xfe", b"\xfe\xff"):
        raise UnreadableFile("wrong encoding: UTF-16 (export the extract as UTF-8)")


def _read_csv(path: Path) -> RawExtract:
    """CSV through DuckDB's reader: delimiter sniffing, gzip, and rows that cannot be split into the
    header's fields kept aside (store_rejects) instead of failing the whole file."""
    _check_not_utf16(path)
    con = duckdb.connect()
    try:
        try:
            rows = con.sql(
                "select * from read_csv($path, all_varchar = true, header = true,"
                " store_rejects = true, rejects_scan = 'scan', rejects_table = 'rejects',"
                " null_padding = false, strict_mode = true)",
                params={"path": str(path)},
            ).pl()
        except duckdb.Error as exc:
            raise UnreadableFile(f"cannot be read as CSV: {_first_line(exc)}") from None
        bad_encoding = con.execute(
            "select min(line) from rejects where error_type::varchar = 'INVALID ENCODING'"
        ).fetchall()[0][0]
        if bad_encoding is not None:
            # contract: a file in the wrong encoding is rejected whole, not loaded as mangled text
            raise UnreadableFile(f"wrong encoding: not UTF-8 (first invalid byte on line {bad_encoding})")
        rejects = con.sql(
            "select line::bigint as line, any_value(csv_line) as raw_line,"
            " string_agg(distinct error_type::varchar, '; ') as reason"
            " from rejects group by line order by line"
        ).pl()
    finally:
        con.close()
    rejects = rejects.with_columns(
        # a file line is a data row number once the header line is taken off
        (pl.col("line") - 1).alias("source_row"),
        ("fields do not match the header: " + pl.col("reason").str.to_lowercase()).alias("reason"),
    ).select("source_row", "raw_line", "reason")
    # Loaded rows keep file order; their data row numbers are the ones the rejected rows leave free.
    total = rows.height + rejects.height
    free = (
        pl.DataFrame({"source_row": pl.int_range(1, total + 1, eager=True, dtype=pl.Int64)})
        .join(rejects.select("source_row"), on="source_row", how="anti", maintain_order="left")
        .get_column("source_row")
    )
    rows = rows.with_columns(source_row=free)
    return RawExtract(rows=rows, unsplit=rejects)
