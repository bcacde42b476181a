"""One extract file, from bytes to (loaded lines, quarantined rows, ingest-log entry).

Every row read is accounted for: rows_read = rows_loaded + rows_quarantined (input contract v1,
"What bad input gets"). A file that cannot be read as a table is rejected whole, with its reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines.ingest.headers import HeaderMatch, match_headers, normalize
from pipelines.ingest.readers import RawExtract, UnreadableFile, extract_format, read_extract
from pipelines.ingest.validate import validate_typed

# Given this file's (claim_id, line_number) keys, return those already loaded from earlier files.
ExistingKeys = Callable[[pl.DataFrame], pl.DataFrame]

QUARANTINE_SCHEMA = {
    "source_file": pl.String,
    "source_row": pl.Int64,
    "reasons": pl.List(pl.String),
    "raw_values": pl.String,
    "raw_line": pl.String,
    "quarantined_at": pl.Datetime("us", "UTC"),
}

DUPLICATE_KEY_IN_FILE = "claim_id+line_number: repeated in this file (first occurrence loaded)"
DUPLICATE_KEY_LOADED = "claim_id+line_number: already loaded from an earlier extract"


@dataclass(frozen=True)
class FileResult:
    source_file: str
    sha256: str
    file_format: str | None
    file_bytes: int
    status: str  # loaded | rejected
    reason: str | None
    lines: pl.DataFrame  # claim_lines rows (canonical types + extras + lineage)
    quarantine: pl.DataFrame
    rows_read: int
    profile_columns: str | None = None

    @property
    def rows_loaded(self) -> int:
        return self.lines.height

    @property
    def rows_quarantined(self) -> int:
        return self.quarantine.height

    def log_row(self) -> dict:
        return {
            "source_file": self.source_file,
            "sha256": self.sha256,
            "file_format": self.file_format,
            "file_bytes": self.file_bytes,
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "status": self.status,
            "reason": self.reason,
            "profile_columns": self.profile_columns,
        }


UNREADABLE = "unreadable"  # the ingest log's sha256 for a file whose bytes could not be read


def rejected_file(source_file: str, file_format: str | None, reason: str) -> FileResult:
    """A file that could not even be opened: logged as rejected with its reason, nothing read."""
    return FileResult(
        source_file,
        UNREADABLE,
        file_format,
        0,
        "rejected",
        reason,
        lines=pl.DataFrame(),
        quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
        rows_read=0,
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class PreparedFile:
    """One extract read, validated and typed: everything of its ingestion that does not depend on
    the warehouse (``finish_file`` adds the check against lines already loaded)."""

    path: Path
    source_file: str
    sha256: str
    file_format: str | None
    file_bytes: int
    raw: RawExtract
    match: HeaderMatch
    lines: pl.DataFrame  # valid rows, typed (source_row + canonical columns), in source_row order
    invalid: pl.DataFrame  # source_row, reasons
    repeated: pl.Series | None  # per line: its key came earlier in this file (None: no key repeats)


def ingest_file(
    path: Path,
    source_file: str,
    profiles: dict[str, dict[str, str]],
    existing_keys: ExistingKeys | None = None,
    *,
    sha256: str | None = None,
    now: dt.datetime | None = None,
) -> FileResult:
    """Read, match, validate and split one extract. Never raises for bad content."""
    now = now or dt.datetime.now(dt.UTC)
    prepared = prepare_file(path, source_file, profiles, sha256=sha256)
    if isinstance(prepared, FileResult):
        return prepared
    return finish_file(prepared, existing_keys, now=now)


def prepare_file(
    path: Path,
    source_file: str,
    profiles: dict[str, dict[str, str]],
    *,
    sha256: str | None = None,
) -> PreparedFile | FileResult:
    """Read, match and validate one extract, without the warehouse: a rejected file's FileResult,
    or the PreparedFile that ``finish_file`` completes. Never raises for bad content."""
    digest = sha256 or sha256_of(path)
    fmt = extract_format(path)
    size = path.stat().st_size

    def rejected(reason: str) -> FileResult:
        return FileResult(
            source_file,
            digest,
            fmt,
            size,
            "rejected",
            reason,
            lines=pl.DataFrame(),
            quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
            rows_read=0,
        )

    try:
        raw = read_extract(path)
    except UnreadableFile as exc:
        return rejected(str(exc))
    headers = [c for c in raw.rows.columns if c != "source_row"]
    match = match_headers(headers, profiles)
    if match.problem:
        return rejected(match.problem)

    lines, invalid = validate_typed(raw.rows, match.renames)
    # (claim_id, line_number) identifies a line: a repeat within the file is quarantined, the first
    # occurrence kept
    repeated = ~lines.select(pl.struct("claim_id", "line_number").is_first_distinct()).to_series()
    return PreparedFile(
        path,
        source_file,
        digest,
        fmt,
        size,
        raw,
        match,
        lines,
        invalid,
        repeated=repeated if repeated.any() else None,
    )


def finish_file(
    prepared: PreparedFile, existing_keys: ExistingKeys | None = None, *, now: dt.datetime | None = None
) -> FileResult:
    """Complete a prepared file: the lines whose key was loaded from an earlier file (or repeats
    one of this file) go to the quarantine; the lines, quarantine and log entry to write."""
    now = now or dt.datetime.now(dt.UTC)
    raw, match, source_file = prepared.raw, prepared.match, prepared.source_file
    valid, duplicates = _split_repeated_keys(prepared.lines, prepared.repeated, existing_keys)
    invalid = pl.concat([prepared.invalid, duplicates])

    if match.extras:
        valid = valid.join(
            raw.rows.select("source_row", *[pl.col(h).alias(n) for h, n in match.extras.items()]),
            on="source_row",
            how="left",
            maintain_order="left",
        )
    lines = valid.with_columns(
        pl.lit(source_file).alias("source_file"),
        pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("ingested_at"),
    )
    # the raw values of the quarantined rows only, as delivered (original headers)
    raw_values = raw.rows.join(invalid.select("source_row"), on="source_row", how="semi").select(
        "source_row", pl.struct(pl.exclude("source_row")).struct.json_encode().alias("raw_values")
    )
    quarantine = (
        pl.concat(
            [
                invalid.join(raw_values, on="source_row", how="left").with_columns(
                    pl.lit(None, pl.String).alias("raw_line")
                ),
                raw.unsplit.select(
                    "source_row",
                    pl.concat_list(pl.col("reason")).alias("reasons"),
                    pl.lit(None, pl.String).alias("raw_values"),
                    "raw_line",
                ),
            ],
            how="diagonal",
        )
        .select(
            pl.lit(source_file).alias("source_file"),
            "source_row",
            "reasons",
            "raw_values",
            "raw_line",
            pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("quarantined_at"),
        )
        .sort("source_row")
    )

    profiled = [f"{h}->{c}" for h, c in match.renames.items() if normalize(h) != normalize(c)]
    if not lines.get_column("source_row").is_sorted():  # rows keep file order: sorted already
        lines = lines.sort("source_row")
    result = FileResult(
        source_file,
        prepared.sha256,
        prepared.file_format,
        prepared.file_bytes,
        "loaded",
        None,
        lines=lines,
        quarantine=quarantine,
        rows_read=raw.rows.height + raw.unsplit.height,
        profile_columns="; ".join(profiled) or None,
    )
    if result.rows_read != result.rows_loaded + result.rows_quarantined:  # the contract's invariant
        raise AssertionError(f"{source_file}: rows read do not reconcile with loaded + quarantined")
    return result


def _split_repeated_keys(
    lines: pl.DataFrame, repeated: pl.Series | None, existing_keys: ExistingKeys | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(claim_id, line_number) identifies a line: a repeat within the file (``repeated``) or of an
    earlier file's line is quarantined, the first occurrence kept."""
    keyed = lines.with_columns(
        pl.lit(False).alias("_repeat") if repeated is None else repeated.alias("_repeat"),
        pl.lit(False).alias("_loaded"),
    )
    if existing_keys is not None and keyed.height:
        keys = lines if repeated is None else lines.filter(~repeated)
        known = existing_keys(keys.select("claim_id", "line_number"))
        if known.height:
            known = known.select("claim_id", "line_number", _known=True)
            keyed = (
                keyed.join(known, on=["claim_id", "line_number"], how="left", maintain_order="left")
                .with_columns(pl.col("_known").fill_null(False).alias("_loaded"))
                .drop("_known")
            )
    bad = pl.col("_repeat") | pl.col("_loaded")
    duplicates = keyed.filter(bad).select(
        "source_row",
        pl.when(pl.col("_loaded"))
        .then(pl.lit([DUPLICATE_KEY_LOADED]))
        .otherwise(pl.lit([DUPLICATE_KEY_IN_FILE]))
        .alias("reasons"),
    )
    if not duplicates.height:
        return lines, duplicates
    return keyed.filter(~bad).drop("_repeat", "_loaded"), duplicates
