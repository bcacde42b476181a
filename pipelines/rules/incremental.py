"""The rules stage's incremental policy: which service months to recompute, and how to write them.

Every rule's grain (line, patient-day, therapist-day) lies within one service month, so only the months
that newly ingested lines touch are recomputed; a change of configuration or reference data recomputes
everything; when it leaves what line units read as it was (``units_fingerprint``: the timed codes and
payer methods) and no lines came in since, the stored line units stand and only the findings are
recomputed from them. Many months are written to staged copies of the tables, each write committed on
its own (memory stays at one month, or at the small months written together: FLUSH_ROWS), and moved in
together in one transaction; a single month (a monthly review's) is written in place, in one
transaction. Readers see all old or all new months either way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

DERIVED = ("line_units", "findings", "rule_coverage_months")
# An open transaction holds its rows in memory until it commits, so only this many months go in place;
# in place spares copying staged rows in.
IN_PLACE_MONTHS = 1
# A DuckDB insert below a row group (122,880 rows) goes through the write-ahead log and its checkpoints:
# small staged months are written together until this many line units wait.
FLUSH_ROWS = 250_000


@dataclass(frozen=True)
class RulesState:
    """What the warehouse says of the last rules run and of the lines since."""

    computed_through: dt.datetime | None  # lines ingested up to here are covered (None: never run)
    config_hash: str | None  # the configuration the stored results were computed with
    units_hash: str | None  # the fingerprint of what the stored line units read of it
    coverage_per_month: bool  # rule_coverage_months has rows (a warehouse from before it has none)
    newest_line: dt.datetime | None  # the latest ingested_at of claim_lines (None: no lines)


@dataclass(frozen=True)
class Recompute:
    """Which months the rules recompute: all of them, none, or those the new lines touch."""

    months: Literal["all", "none", "touched"]
    keep_units: bool  # the stored line units stand: only the findings are recomputed

    @property
    def everything(self) -> bool:
        return self.months == "all"


def what_to_recompute(state: RulesState, fingerprint: str, units_fingerprint: str) -> Recompute:
    """The months to recompute given the stored state and the current configuration's fingerprints."""
    no_new_lines = state.newest_line is None or (
        state.computed_through is not None and state.newest_line <= state.computed_through
    )
    if state.computed_through is None or state.config_hash != fingerprint or not state.coverage_per_month:
        keep_units = (
            state.computed_through is not None
            and state.coverage_per_month
            and state.units_hash == units_fingerprint
            and no_new_lines
        )
        return Recompute("all", keep_units)
    return Recompute("none" if no_new_lines else "touched", keep_units=False)


@dataclass(frozen=True)
class WritePlan:
    """Where the recomputed months go: the tables written, and in place or through staged copies."""

    tables: tuple[str, ...]
    in_place: bool


def how_to_write(recompute: Recompute, month_count: int) -> WritePlan:
    """Kept line units are not written; one touched month goes in place, more (or all) are staged."""
    tables = tuple(table for table in DERIVED if not (recompute.keep_units and table == "line_units"))
    return WritePlan(tables, in_place=not recompute.everything and month_count <= IN_PLACE_MONTHS)


def flush_due(waiting_rows: int) -> bool:
    """Whether the months waiting to be written are enough for one insert."""
    return waiting_rows >= FLUSH_ROWS
