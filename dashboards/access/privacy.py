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


def resolve_token(key: bytes, token: str | None, candidates) -> str | None:
    """The patient id among ``candidates`` whose token is ``token`` (None when none is)."""
    if not token:
        return None
    for patient_id in candidates:
        if patient_id is not None and hmac.compare_digest(patient_token(key, patient_id), token):
            return patient_id
    return None


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
    known = id_index(known_patient_ids)
    extra = _IdSet(in_frame.difference(known.ids))
    if not (known.ids or extra.ids) or not text_columns or frame.height == 0:
        return frame
    replaced = []
    for column in text_columns:
        values = frame[column].to_list()
        changed = False
        for i, text in enumerate(values):
            if text is None:
                continue
            # only the cells that name a patient as a whole word go through the exact scrub
            hits = known.named_in(text) | extra.named_in(text)
            if hits:
                hits |= known.token_like_in(text) | extra.token_like_in(text)
                values[i] = scrub_text(text, token_map(viewer.key, hits))
                changed = True
        if changed:
            replaced.append(pl.Series(column, values, dtype=pl.String))
    return frame.with_columns(replaced) if replaced else frame


def protect_text(text, viewer: Viewer, known_patient_ids=()):
    """One piece of text from the snapshot (a label, a name, a notice) as this viewer may see it:
    for a manager, masked exactly as ``protect`` masks a text cell; for an auditor, unchanged."""
    if text is None or viewer.sees_patients:
        return text
    return protect(pl.DataFrame({"text": [str(text)]}, schema={"text": pl.String}), viewer, known_patient_ids)["text"][
        0
    ]


def protect_options(options: list[dict], viewer: Viewer, known_patient_ids=()) -> list[dict]:
    """A dropdown's options as this viewer may see them: label and value masked alike (the value
    reaches the browser too); ``unmask_choice`` maps a masked value back."""
    if viewer.sees_patients:
        return options
    return [
        {
            **o,
            "label": protect_text(o["label"], viewer, known_patient_ids),
            "value": protect_text(o["value"], viewer, known_patient_ids),
        }
        for o in options
    ]


def unmask_choice(value, values, viewer: Viewer, known_patient_ids=()):
    """The value among ``values`` (as in the snapshot) whose masked form a dropdown sent back; None
    when there is none."""
    if value is None or viewer.sees_patients:
        return value
    for raw in values:
        if raw == value or protect_text(raw, viewer, known_patient_ids) == value:
            return raw
    return None


_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]")
_NOT_ALNUM_OR_NL = re.compile(r"[^0-9A-Za-z\n]")
_ALNUM_RUN = re.compile(r"[0-9A-Za-z]+")
_HEX16 = re.compile(r"[0-9a-f]{16}")


def _token_like(patient_id: str) -> bool:
    """An id that a token ("pt-" and 16 hex digits) put in the text could make stand alone."""
    return "pt" in patient_id or (len(patient_id) >= 16 and _HEX16.search(patient_id) is not None)


class _IdSet:
    """Patient ids, with what finding them in a text needs: ``named_in(text)`` gives every id that
    ``scrub_text`` would replace there (those standing in it as whole words), in time linear in the
    text rather than in the number of ids."""

    def __init__(self, ids):
        self.ids = frozenset(ids)
        if None in self.ids or "" in self.ids:
            self.ids = frozenset(p for p in self.ids if p)
        # all ids in one text, so that one search tells whether any id has a property before each id
        # is looked at (no id holds the separator when there is one fewer of them than ids)
        self._blob = "\n".join(self.ids)
        self._separated = self._blob.count("\n") == max(len(self.ids) - 1, 0)
        # the usual case: ids of letters and digits only, which stand alone exactly where they are a
        # whole alphanumeric run of the text
        self.alphanumeric = self._separated and _NOT_ALNUM_OR_NL.search(self._blob) is None
        self.lengths = [] if self.alphanumeric else sorted(set(map(len, self.ids)))
        # after an id is replaced by its token, an id that was in the text only inside a word could
        # stand alone: such ids go to the scrub with the others whenever they are in the text at all
        maybe = not self._separated or "pt" in self._blob or _HEX16.search(self._blob) is not None
        self.token_like = [p for p in self.ids if _token_like(p)] if maybe else []

    def with_other_characters(self, allowed: str) -> list[str]:
        """The ids holding a character outside ``allowed`` (a regex character-class body)."""
        if self._separated and re.search(f"[^{allowed}\n]", self._blob) is None:
            return []
        return [p for p in self.ids if re.fullmatch(f"[{allowed}]*", p) is None]

    def named_in(self, text: str) -> set[str]:
        if not self.ids:
            return set()
        if self.alphanumeric:
            return {w for w in _ALNUM_RUN.findall(text) if w in self.ids}
        n = len(text)
        cuts = [m.start() for m in _NOT_ALNUM.finditer(text)]
        ends = set(cuts)
        ends.add(n)
        found = set()
        for start in (0, *(c + 1 for c in cuts)):  # a whole word starts the text or follows a non-alphanumeric
            for length in self.lengths:
                end = start + length
                if end > n:
                    break
                if end in ends and text[start:end] in self.ids:
                    found.add(text[start:end])
        return found

    def token_like_in(self, text: str) -> set[str]:
        return {p for p in self.token_like if p in text}


_KNOWN_CACHE: list[tuple[object, int, _IdSet]] = []  # the app passes the same list on every request


def id_index(known_patient_ids) -> _IdSet:
    """The ids as ``protect`` searches them, built once for the list the app (or the report) passes."""
    if not isinstance(known_patient_ids, (list, tuple)):
        return _IdSet(known_patient_ids)
    for given, size, id_set in _KNOWN_CACHE:
        if given is known_patient_ids and size == len(known_patient_ids):
            return id_set
    id_set = _IdSet(known_patient_ids)
    _KNOWN_CACHE[:] = [(known_patient_ids, len(known_patient_ids), id_set)]  # holds the list: its id stays its own
    return id_set


def assert_no_patient_ids(text: str, patient_ids) -> None:
    """Raise when any of ``patient_ids`` appears in ``text`` (used by tests and the report writer)."""
    found = sorted({p for p in patient_ids if p and p in text})
    if found:
        raise AssertionError(f"{len(found)} patient identifier(s) present, e.g. {found[0]!r}")
