"""Review history in the warehouse: every finding's first and last sighting, and one row per review that
changed something (what is new and what was resolved, for the report and the dashboard)."""

from __future__ import annotations

import datetime as dt
import json

import duckdb

from pipelines.warehouse.schema import transaction

# A finding is the same finding across reviews when its rule and identifying columns are the same.
FINDING_KEY = (
    "md5(concat_ws('|', rule_id, coalesce(patient_id, ''), coalesce(cast(service_date as varchar), ''),"
    " coalesce(rendering_npi, ''), coalesce(claim_id, ''), coalesce(cast(line_number as varchar), ''),"
    " coalesce(billing_provider, ''), coalesce(discipline, '')))"
)


def record_review(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    started_at: dt.datetime | None,
    now: dt.datetime,
    input_path: str,
    config_hash: str,
) -> dict:
    """Mark the findings seen now (new, returned, resolved) and add this review's row when it changed
    something, all in one transaction; the run's metadata (recorded, new and resolved findings)."""
    with transaction(con):
        for column, kind in (("finding_key", "varchar"), ("first_seen", "timestamptz"), ("last_seen", "timestamptz")):
            con.execute(f"alter table findings add column if not exists {column} {kind}")
        con.execute(f"update findings set finding_key = {FINDING_KEY} where finding_key is null")
        new = con.execute(
            "insert into finding_history (finding_key, rule_id, first_seen, first_seen_run, last_seen, last_seen_run) "
            "select finding_key, any_value(rule_id), ?, ?, ?, ? from findings "
            "where finding_key not in (select finding_key from finding_history) group by finding_key",
            [now, run_id, now, run_id],
        ).fetchall()[0][0]
        returned = con.execute(
            "update finding_history set last_seen = ?, last_seen_run = ?, resolved_at = null, resolved_run = null "
            "where resolved_at is not null and finding_key in (select finding_key from findings)",
            [now, run_id],
        ).fetchall()[0][0]
        con.execute(
            "update finding_history set last_seen = ?, last_seen_run = ? "
            "where finding_key in (select finding_key from findings)",
            [now, run_id],
        )
        resolved = con.execute(
            "update finding_history set resolved_at = ?, resolved_run = ? "
            "where resolved_at is null and finding_key not in (select finding_key from findings)",
            [now, run_id],
        ).fetchall()[0][0]
        con.execute(
            "update findings set first_seen = h.first_seen, last_seen = h.last_seen "
            "from finding_history h where h.finding_key = findings.finding_key"
        )
        files = [
            dict(zip(("source_file", "status", "rows_read", "rows_loaded", "rows_quarantined"), r))
            for r in con.execute(
                "select source_file, status, rows_read, rows_loaded, rows_quarantined from ingest_log "
                "where run_id = ? order by source_file",
                [run_id],
            ).fetchall()
        ]
        last_hash = con.execute("select config_hash from review_runs order by finished_at desc limit 1").fetchall()
        changed = bool(files) or new or resolved or returned or not last_hash or last_hash[0][0] != config_hash
        by_rule = dict(con.execute("select rule_id, count(*) from findings group by 1 order by 1").fetchall())
        if changed:
            lines, total = con.execute("select (select count(*) from claim_lines), (select count(*) from findings)").fetchall()[0]
            con.execute(
                "insert into review_runs (run_id, started_at, finished_at, input_path, files, rows_read, rows_loaded, "
                "rows_quarantined, claim_lines, findings, findings_by_rule, new_findings, resolved_findings, config_hash) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    run_id, started_at, now, input_path, json.dumps(files),
                    sum(f["rows_read"] for f in files), sum(f["rows_loaded"] for f in files),
                    sum(f["rows_quarantined"] for f in files), lines, total, json.dumps(by_rule),
                    new + returned, resolved, config_hash,
                ],
            )
    return {"recorded": bool(changed), "new_findings": new + returned, "resolved_findings": resolved, "config_hash": config_hash}
