"""Header matching (input contract v1): canonical names case-insensitively, ignoring spaces, dashes
and underscores; other vendors' spellings through mapping profiles."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.ingest.columns import CANONICAL, LINEAGE, REQUIRED

_IGNORED = re.compile(r"[\s\-_]+")


def normalize(header: str) -> str:
    """'Date of Service' -> 'dateofservice'; 'rendering_npi' -> 'renderingnpi'."""
    return _IGNORED.sub("", header).lower()


_CANONICAL_BY_KEY = {normalize(name): name for name in CANONICAL}


@dataclass(frozen=True)
class HeaderMatch:
    """How one file's headers map onto the contract."""

    renames: dict[str, str]  # file header -> canonical column
    extras: dict[str, str]  # file header -> warehouse column name for a column beyond the contract
    missing_required: list[str]
    conflicts: list[str]  # canonical columns claimed by more than one header

    @property
    def problem(self) -> str | None:
        """Why the file cannot be read as an extract, or None."""
        parts = []
        if self.missing_required:
            parts.append("no column for required " + ", ".join(self.missing_required))
        if self.conflicts:
            parts.append("several headers map to " + ", ".join(self.conflicts))
        return "; ".join(parts) or None


def match_headers(headers: list[str], profiles: dict[str, dict[str, str]]) -> HeaderMatch:
    """Map a file's headers onto canonical columns: exact canonical names first, then profiles."""
    profile_keys: dict[str, str] = {}
    for mapping in profiles.values():
        for vendor, canonical in mapping.items():
            profile_keys.setdefault(normalize(vendor), canonical)

    renames: dict[str, str] = {}
    claimed: dict[str, list[str]] = {}
    unmatched: list[str] = []
    for header in headers:
        key = normalize(header)
        target = _CANONICAL_BY_KEY.get(key) or profile_keys.get(key)
        if target is None:
            unmatched.append(header)
            continue
        renames[header] = target
        claimed.setdefault(target, []).append(header)

    # Warehouse column names are case-insensitive: an extra column's name must differ, ignoring case,
    # from the contract's columns, the lineage columns and every other extra column of the file.
    taken = {c.lower() for c in CANONICAL} | {c.lower() for c in LINEAGE}
    extras: dict[str, str] = {}
    for header in unmatched:
        name = header.strip() or "unnamed"
        while name.lower() in taken:
            name = f"extra_{name}"
        taken.add(name.lower())
        extras[header] = name
    return HeaderMatch(
        renames=renames,
        extras=extras,
        missing_required=[c for c in REQUIRED if c not in claimed],
        conflicts=sorted(c for c, hs in claimed.items() if len(hs) > 1),
    )
