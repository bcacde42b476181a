"""Readers: every extract format into one shape, all columns as text, each row numbered.

A reader returns the file's rows as text (``source_row`` = 1-based data row, header excluded) and the
rows it could not split into fields (CSV only: too many or too few fields), which go to the quarantine
with their raw line. A file that cannot be read as a table at all raises ``UnreadableFile`` with a
reason a person can act on.
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import fastexcel
import polars as pl

EXTRACT_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".xlsx")

# The longest CSV line read (DuckDB's default is 2 MB: a long treatment note would reject a whole file).
MAX_LINE_BYTES = 16 * 2**20


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
        if p.is_file() and extract_format(p) and not any(part.startswith(".") for part in p.relative_to(path).parts)
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
    if fmt == "xlsx" and any(_RENAMED.search(c) for c in frame.columns):
        try:
            header = pl.read_excel(path, has_header=False, infer_schema_length=0, read_options={"n_rows": 1}).row(0)
        except Exception:
            header = None
        frame = frame.rename(_restore_repeated_headers(frame.columns, header))
    rows = (
        _as_text(_free_source_row(frame))
        .with_row_index("source_row", offset=1)
        .with_columns(pl.col("source_row").cast(pl.Int64))
    )
    return RawExtract(rows=rows, unsplit=pl.DataFrame(schema=UNSPLIT_SCHEMA))


def _free_source_row(frame: pl.DataFrame) -> pl.DataFrame:
    """A file's own ``source_row`` column is kept (as ``source_row_``), not overwritten by the row
    numbers the readers add under that name."""
    if "source_row" not in frame.columns:
        return frame
    name = "source_row_"
    while name in frame.columns:
        name += "_"
    return frame.rename({"source_row": name})


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(pl.all().cast(pl.String))


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


# How the readers rename a header that repeats another one (DuckDB: claim_id_1, Excel: claim_id_1).
_RENAMED = re.compile(r"_\d+$")


def _restore_repeated_headers(names: list[str], header: tuple | list | None) -> dict[str, str]:
    """Renames that undo the reader's renaming of a repeated header, given the header row as written.

    A reader makes a repeated header unique (``claim_id``, ``claim_id_1``), which would hide that two
    columns claim one contract column. The repeat gets its own header back with trailing underscores
    instead (``claim_id_``): still unique, and header matching (which ignores underscores) sees both
    and rejects the file as ambiguous; a repeated column beyond the contract is kept under that name.
    Returns {} when the header row as written does not line up with the names read.
    """
    if header is None or len(header) != len(names):
        return {}
    written = [str(h).strip() if h is not None else "" for h in header]
    counts: dict[str, int] = {}
    for w in written:
        counts[w.lower()] = counts.get(w.lower(), 0) + 1
    taken = {n.lower() for n in names}
    renames: dict[str, str] = {}
    for name, w in zip(names, written, strict=True):
        if name.strip() == w or not w or counts[w.lower()] < 2:
            continue
        if not name.strip().lower().startswith(w.lower() + "_"):  # not a renaming we know: leave all as read
            return {}
        restored = w + "_"
        while restored.lower() in taken:
            restored += "_"
        taken.add(restored.lower())
        renames[name] = restored
    return renames


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
    _export_string_views(con)
    try:
        try:
            # quote is the standard '"' (RFC 4180), not sniffed: on a small file the sniffer can take
            # a value in single quotes ('PHI-1') for quoting and silently drop the quotes
            relation = con.sql(
                "select * from read_csv($path, all_varchar = true, header = true, quote = '\"',"
                " store_rejects = true, rejects_scan = 'scan', rejects_table = 'rejects',"
                " null_padding = false, strict_mode = true, max_line_size = $max_line)",
                params={"path": str(path), "max_line": MAX_LINE_BYTES},
            )
            # Arrow cuts a column name at a NUL byte, which could make two headers one: name the
            # columns here, from DuckDB's own names
            rows = pl.from_arrow(relation.to_arrow_table().rename_columns(_printable_names(relation.columns)))
        except duckdb.Error as exc:
            if "Maximum line size" in str(exc):
                raise UnreadableFile(
                    f"cannot be read as CSV: a line is longer than {MAX_LINE_BYTES // 2**20} MB"
                ) from None
            if "Error when sniffing file" in str(exc):
                raise UnreadableFile(
                    "cannot be read as CSV: no consistent delimiter, quoting and line ending found"
                    " (are line endings mixed?)"
                ) from None
            raise UnreadableFile(f"cannot be read as CSV: {_first_line(exc)}") from None
        if any(_RENAMED.search(c) for c in rows.columns):
            rows = rows.rename(_restore_repeated_headers(rows.columns, _csv_header(con, path)))
        rows = _free_source_row(rows)
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
    # DuckDB's line counts the header, each record (however many lines its quoted fields span) and
    # each blank line it skipped; the blank lines just before a rejected row come with its raw line.
    blank_lines = pl.col("raw_line").str.extract(r"^([\r\n]*)").str.count_matches(r"\r\n|\r|\n").fill_null(0)
    rejects = rejects.with_columns(
        (pl.col("line") - 1 - blank_lines).alias("source_row"),
        pl.col("raw_line").str.strip_chars_start("\r\n"),
        ("fields do not match the header: " + pl.col("reason").str.to_lowercase()).alias("reason"),
    ).select("source_row", "raw_line", "reason")
    # Data rows are numbered 1..total. Blank lines elsewhere can leave a rejected row's number too
    # high: keep each one after the previous and leave room for the rest, so numbers stay unique.
    total = rows.height + rejects.height
    numbers: list[int] = []
    for i, number in enumerate(rejects["source_row"].to_list()):
        low = numbers[-1] + 1 if numbers else 1
        numbers.append(max(low, min(number, total - (rejects.height - 1 - i))))
    rejects = rejects.with_columns(pl.Series("source_row", numbers, dtype=pl.Int64))
    # Loaded rows keep file order; their data row numbers are the ones the rejected rows leave free.
    free = (
        pl.DataFrame({"source_row": pl.int_range(1, total + 1, eager=True, dtype=pl.Int64)})
        .join(rejects.select("source_row"), on="source_row", how="anti", maintain_order="left")
        .get_column("source_row")
    )
    rows = rows.with_columns(source_row=free)
    return RawExtract(rows=rows, unsplit=rejects)


def _export_string_views(con: duckdb.DuckDBPyConnection) -> None:
    """Text leaves DuckDB as Arrow string views, the layout Polars keeps text in, so Polars takes it
    without converting every value. Only a speed-up: where DuckDB has not these settings, text leaves
    as plain Arrow strings, the same values."""
    try:
        con.execute("set arrow_output_version = '1.4'")
        con.execute("set produce_arrow_string_view = true")
    except duckdb.Error:
        pass


def _printable_names(names: list[str]) -> list[str]:
    """Column names without NUL bytes, still unique (a repeat gets trailing underscores)."""
    out: list[str] = []
    taken: set[str] = set()
    for name in names:
        clean = name.replace("\x00", "")
        while clean in taken:
            clean += "_"
        taken.add(clean)
        out.append(clean)
    return out


def _csv_header(con: duckdb.DuckDBPyConnection, path: Path) -> tuple | None:
    """The CSV's header row as written (the reader renames repeated headers), or None."""
    try:
        found = con.sql(
            "select * from read_csv($path, all_varchar = true, header = false, ignore_errors = true,"
            " quote = '\"', null_padding = false, strict_mode = true, max_line_size = $max_line) limit 1",
            params={"path": str(path), "max_line": MAX_LINE_BYTES},
        ).fetchall()
    except duckdb.Error:
        return None
    return found[0] if found else None
