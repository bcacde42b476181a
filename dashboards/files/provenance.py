"""Where an export comes from, for its Excel ``metadata`` sheet: what was exported with which filters,
by whom and when, from which snapshot, and the rules configuration the snapshot's findings came from
(``rules_state``, ``review_runs``, ``rule_coverage``). No patient identifier goes in."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from dashboards.access.privacy import Viewer
from dashboards.data.snapshot import Snapshot
from dashboards.ui.view_state import ViewState

NOT_RECORDED = "not recorded in this snapshot"
LOCAL_MODE = "local mode (single user, no sign-in)"


def exported_by(viewer: Viewer, local_mode: bool) -> str:
    return LOCAL_MODE if local_mode or not viewer.name else viewer.name


def _rules_state(snap: Snapshot) -> dict:
    if not snap.has("rules_state", "config_hash"):
        return {}
    cols = [c for c in ("config_hash", "units_hash", "computed_through") if snap.has("rules_state", c)]
    rows = (
        snap.rows(f"select {', '.join(cols)} from rules_state order by id limit 1")
        if snap.has("rules_state", "id")
        else snap.rows(f"select {', '.join(cols)} from rules_state limit 1")
    )
    return dict(zip(cols, rows[0], strict=True)) if rows else {}


def _last_review(snap: Snapshot) -> dict:
    if not snap.has("review_runs", "run_id", "finished_at", "config_hash"):
        return {}
    rows = snap.rows("select run_id, finished_at, config_hash from review_runs order by finished_at desc limit 1")
    return dict(zip(("run_id", "finished_at", "config_hash"), rows[0], strict=True)) if rows else {}


def _when(value) -> str:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return NOT_RECORDED if value is None else str(value)


def metadata(
    snap: Snapshot,
    viewer: Viewer,
    *,
    local_mode: bool,
    what: str,
    state: ViewState | None,
    now: dt.datetime | None = None,
) -> pl.DataFrame:
    """The ``metadata`` sheet: one row per fact (field, value, note)."""
    from pipelines import __version__  # the package's own version only (no pipeline module is imported)

    now = now or dt.datetime.now(dt.UTC)
    info = snap.info()
    rules = _rules_state(snap)
    review = _last_review(snap)
    rows: list[tuple[str, str, str]] = [
        ("export", what, ""),
        ("exported_at", _when(now), ""),
        ("exported_by", exported_by(viewer, local_mode), "the signed-in user"),
        ("role", viewer.role, "a manager's exports carry patient_ref tokens, never patient ids"),
        (
            "patient_identifiers",
            "patient ids and patient_ref tokens" if viewer.sees_patients else "patient_ref tokens only",
            "",
        ),
    ]
    for name, value in (state or ViewState()).describe():
        rows.append((f"filter: {name}", value, ""))
    rows += [
        ("snapshot_taken_at", info.taken_at_text() if info.taken_at else NOT_RECORDED, "snapshot_info"),
        (
            "snapshot_of",
            Path(str(info.source_warehouse)).name if info.source_warehouse else NOT_RECORDED,
            "the warehouse file the snapshot was published from",
        ),
        (
            "rules_config_hash",
            str(rules.get("config_hash") or NOT_RECORDED),
            "rules_state: unitreview version, the [rules] settings and the reference files the findings came from",
        ),
        ("line_units_hash", str(rules.get("units_hash") or NOT_RECORDED), "rules_state: what the expected units read"),
        (
            "rules_computed_through",
            _when(rules.get("computed_through")),
            "rules_state: lines ingested up to here are reviewed",
        ),
        ("last_review_run", str(review.get("run_id") or NOT_RECORDED), "review_runs"),
        ("last_review_finished_at", _when(review.get("finished_at")), "review_runs"),
        (
            "last_review_config_hash",
            str(review.get("config_hash") or NOT_RECORDED),
            "review_runs: the rules fingerprint of that review",
        ),
    ]
    if snap.has("rule_coverage", "rule_id", "ran"):
        for rule_id, ran, note in snap.rows(
            f"select rule_id, ran, {snap.col('rule_coverage', 'c', 'note')} from rule_coverage c order by rule_id"
        ):
            rows.append((f"rule {rule_id} ran", "yes" if ran else "no", note or ""))
    rows.append(("dashboard_version", __version__, "unitreview version of the app that wrote this file"))
    return pl.DataFrame(rows, schema=["field", "value", "note"], orient="row")
