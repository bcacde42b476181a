"""Who sees patient identifiers, and the one function every displayed or exported frame passes.

Two roles: an *auditor* sees patient ids; a *manager* never does. Either way a patient is named in
URLs only by an opaque token (a keyed hash, ``patient_token``), so links are safe to share. For a
manager ``protect`` drops the ``patient_id`` column and free-text columns that can name a patient
(``note_text``, quarantine raw values), withholds quoted note text inside the remaining text (a
DOCUMENTATION detail quotes the note's matched span between “ and ”: a manager sees “…”), and replaces
any known patient id inside the remaining text (finding details, reasons) by its token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

import polars as pl

ROLES = ("manager", "auditor")
PATIENT_COLUMNS = ("patient_id",)
DROPPED_FOR_MANAGERS = ("note_text", "raw_values", "raw_line")
TOKEN_PREFIX = "pt-"
# Quoted note text (PHI) in a finding's detail, shown to auditors only: the DOCUMENTATION rule puts
# each span it quotes between these marks (pipelines.rules.findings.documentation.SPAN_QUOTES).
NOTE_QUOTE = "\u201c[^\u201d]*\u201d"
NOTE_WITHHELD = "\u201c\u2026\u201d"


@dataclass(frozen=True)
class Viewer:
    role: str
    key: bytes
    name: str | None = None

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; expected one of {ROLES}")

    @property
    def sees_patients(self) -> bool:
        return self.role == "auditor"


def patient_token(key: bytes, patient_id: str) -> str:
    """A stable, opaque reference to a patient: HMAC-SHA256 under the app's key, 16 hex digits."""
    digest = hmac.new(key, patient_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return TOKEN_PREFIX + digest[:16]


def token_map(key: bytes, patient_ids) -> dict[str, str]:
    return {p: patient_token(key, p) for p in patient_ids if p is not None}


def scrub_text(text: str | None, tokens: dict[str, str]) -> str | None:
    """Replace every known patient id in a piece of text by its token (longest ids first)."""
    if text is None or not tokens:
        return text
    for pid in sorted(tokens, key=len, reverse=True):
        if pid in text:
            text = re.sub(rf"(?<![0-9A-Za-z]){re.escape(pid)}(?![0-9A-Za-z])", tokens[pid], text)
    return text


def protect(frame: pl.DataFrame, viewer: Viewer, known_patient_ids=()) -> pl.DataFrame:
    """The frame as this viewer may see it.

    Adds ``patient_ref`` (the token) next to ``patient_id``. For a manager, removes ``patient_id``
    and the free-text columns of ``DROPPED_FOR_MANAGERS``, and scrubs every other text column of
    the ids in ``known_patient_ids`` (plus those in the frame itself). The input is not modified.
    """
    in_frame: set[str] = set()
    if "patient_id" in frame.columns:
        in_frame = set(frame["patient_id"].drop_nulls().unique().to_list())
        tokens = token_map(viewer.key, in_frame)
        ref = pl.col("patient_id").replace_strict(tokens, default=None, return_dtype=pl.String)
        order = [c for c in frame.columns if c != "patient_ref"]
        order.insert(order.index("patient_id") + 1, "patient_ref")
        frame = frame.with_columns(ref.alias("patient_ref")).select(order)
    if viewer.sees_patients:
        return frame
    frame = frame.drop([c for c in (*PATIENT_COLUMNS, *DROPPED_FOR_MANAGERS) if c in frame.columns])
    list_columns = [c for c, t in frame.schema.items() if isinstance(t, pl.List)]
    if list_columns:  # e.g. reasons as a list: flatten to text before scrubbing
        frame = frame.with_columns(pl.col(c).cast(pl.List(pl.String)).list.join("; ") for c in list_columns)
    text_columns = [c for c, t in frame.schema.items() if t == pl.String and c != "patient_ref"]
    if text_columns:
        frame = frame.with_columns(pl.col(c).str.replace_all(NOTE_QUOTE, NOTE_WITHHELD) for c in text_columns)
    patterns = sorted(in_frame.union(p for p in known_patient_ids if p))
    if not patterns or not text_columns or frame.height == 0:
        return frame
    replaced = []
    for column in text_columns:
        # Aho-Corasick finds the few cells naming a patient; only those go through the exact scrub
        found = frame[column].str.extract_many(patterns, overlapping=True).to_list()
        if not any(found):
            continue
        values = frame[column].to_list()
        replaced.append(pl.Series(column, [
            scrub_text(v, token_map(viewer.key, set(hits))) if hits else v for v, hits in zip(values, found)
        ], dtype=pl.String))
    return frame.with_columns(replaced) if replaced else frame


def assert_no_patient_ids(text: str, patient_ids) -> None:
    """Raise when any of ``patient_ids`` appears in ``text`` (used by tests and the report writer)."""
    found = sorted({p for p in patient_ids if p and p in text})
    if found:
        raise AssertionError(f"{len(found)} patient identifier(s) present, e.g. {found[0]!r}")
