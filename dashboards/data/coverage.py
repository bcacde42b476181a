"""Which checks could not run on this review, for the report and the overview to say so.

The review writes ``rule_coverage`` (rule_id, ran, patient_days_checked, patient_days_not_assessable,
note): DOCUMENTATION, for one, cannot run when the extracts carry neither the documentation flags
nor the notes. An older snapshot without the table (or without some of its columns) shows nothing.
"""

from __future__ import annotations

from dashboards.data.snapshot import Snapshot

TABLE = "rule_coverage"
# What to say when the table gives no reason of its own.
DEFAULT_REASONS = {"DOCUMENTATION": "the extracts carry neither documentation flags nor notes"}


def coverage_notices(snap: Snapshot) -> list[str]:
    """One sentence per rule that could not run: "DOCUMENTATION: could not run — the extracts carry
    neither documentation flags nor notes". Empty when every rule ran or the table is absent."""
    if not snap.has(TABLE, "rule_id", "ran"):
        return []
    note = snap.col(TABLE, TABLE, "note")
    rows = snap.rows(
        f"select rule_id, any_value({note}) from {TABLE} where ran is not null and not ran "
        "group by rule_id order by rule_id"
    )
    out = []
    for rule_id, reason in rows:
        reason = (reason or "").strip() or DEFAULT_REASONS.get(rule_id, "the extracts lack the data this check reads")
        prefix = f"{rule_id}: could not run"
        out.append(reason if reason.startswith(prefix) else f"{prefix} \u2014 {reason}")
    return out
