"""What the last recorded review changed (``review_runs``, ``finding_history``), in numbers and in a
sentence for managers.
"""

from __future__ import annotations

from dashboards.data.snapshot import Snapshot


def review_changes(snap: Snapshot) -> dict | None:
    """What the last recorded review changed: when, new findings and resolved ones, by rule
    (from review_runs and finding_history). None when the snapshot has no review history."""
    recorded = snap.has("review_runs", "run_id", "finished_at")
    if not (recorded and snap.has("finding_history", "first_seen_run", "resolved_run")):
        return None
    last = snap.rows("select run_id, finished_at from review_runs order by finished_at desc limit 1")
    if not last:
        return None
    run_id, finished_at = last[0]
    by_rule = snap.frame(
        "select rule_id, count(*) filter (where first_seen_run = $run)::bigint as new, "
        "count(*) filter (where resolved_run = $run)::bigint as resolved from finding_history "
        "where first_seen_run = $run or resolved_run = $run group by rule_id order by rule_id",
        {"run": run_id},
    )
    previous = snap.rows("select count(*) from review_runs where finished_at < ?", [finished_at])[0][0]
    return {
        "finished_at": finished_at,
        "first_review": previous == 0,
        "new": int(by_rule["new"].sum()) if by_rule.height else 0,
        "resolved": int(by_rule["resolved"].sum()) if by_rule.height else 0,
        "by_rule": by_rule,
    }


def review_changes_text(changes: dict | None) -> str | None:
    """One sentence for managers: what is new since the last review and what was resolved."""
    if changes is None:
        return None
    when = changes["finished_at"].strftime("%Y-%m-%d %H:%M UTC")
    if changes["first_review"]:
        return f"First review ({when}): {changes['new']:,} findings raised."
    detail = ", ".join(f"{r['rule_id']} +{r['new']}/-{r['resolved']}" for r in changes["by_rule"].iter_rows(named=True))
    return (
        f"Since the previous review (last run {when}): {changes['new']:,} new findings, "
        f"{changes['resolved']:,} resolved" + (f" ({detail})." if detail else ".")
    )
