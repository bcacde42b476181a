"""The review's summary on the terminal (review outputs v1, "Command line")."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from pipelines.cli.errors import err, explain, out, redacted


def print_summary(warehouse: Path, run_id: str, meta: dict, config=None) -> None:
    """The contract's summary: files and rows read, loaded, quarantined, rejected files, findings, and
    what a rule could not check (DOCUMENTATION without flags or notes; lines without an MUE)."""
    import duckdb

    from pipelines.warehouse.schema import table_columns as warehouse_columns

    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:  # the review completed: say why the totals are missing, exit 0
        err.print(
            f"unitreview: the review completed, but its summary cannot be read: {explain(str(exc), warehouse) or redacted(str(exc))}",
            highlight=False,
            markup=False,
        )
        return
    try:
        reasons = con.execute(
            "select r.reason, count(*) from quarantine q, unnest(q.reasons) as r(reason) "
            "where q.source_file in (select source_file from ingest_log where run_id = ?) "
            "group by 1 order by 2 desc, 1",
            [run_id],
        ).fetchall()
        tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
        findings = (
            con.execute(
                "select rule_id, count(*), sum(units_over), sum(amount_at_risk), sum(exposure),"
                " bool_or(coalesce(exposure_estimated, false)) from findings group by 1 order by 1"
            ).fetchall()
            if "findings" in tables
            else []
        )
        history = (
            con.execute("select new_findings, resolved_findings from review_runs where run_id = ?", [run_id]).fetchall()
            if "review_runs" in tables
            else []
        )
        not_run = (
            con.execute("select rule_id, note from rule_coverage where not ran order by rule_id").fetchall()
            if "rule_coverage" in tables
            else []
        )
        billed = (
            con.sql(
                "select cpt_code, payer_type, count(*)::bigint as lines from claim_lines where units_billed > 0 group by all"
            ).pl()
            if config is not None and "claim_lines" in tables
            else None
        )
        # replacements and voids, and the claims they name: whether each names a known claim
        corrections = (
            con.sql(
                "select claim_id, claim_frequency, original_claim_id from claim_lines where claim_frequency in (7, 8)"
                " or claim_id in (select trim(original_claim_id) from claim_lines where claim_frequency in (7, 8))"
            ).pl()
            if "claim_lines" in tables and "claim_frequency" in warehouse_columns(con, "claim_lines")
            else None
        )
    finally:
        con.close()

    files = meta.get("files", [])
    table = Table(title="Extracts", title_justify="left")
    for name in ("file", "status", "read", "loaded", "quarantined"):
        table.add_column(name, justify="left" if name in {"file", "status"} else "right")
    for f in files:
        numbers = [str(f[k]) if k in f else "" for k in ("rows_read", "rows_loaded", "rows_quarantined")]
        table.add_row(f["source_file"], f["status"], *numbers)
    out.print(table)
    by_status = {s: sum(f["status"] == s for f in files) for s in ("loaded", "rejected", "duplicate", "unchanged")}
    out.print(
        f"files: {len(files)} seen, {by_status['loaded']} loaded, {by_status['rejected']} rejected, "
        f"{by_status['duplicate']} duplicate deliveries, {by_status['unchanged']} already ingested"
    )
    out.print(
        f"rows: {meta.get('rows_read', 0)} read = {meta.get('rows_loaded', 0)} loaded"
        f" + {meta.get('rows_quarantined', 0)} quarantined"
    )
    for f in files:
        if f["status"] in ("rejected", "duplicate"):
            out.print(f"  {f['status']} {f['source_file']}: {f.get('reason')}", highlight=False)
    if reasons:
        out.print("quarantine reasons (rows):")
        for reason, count in reasons:
            out.print(f"  {count:>8}  {reason}", highlight=False)
    if history:
        new, resolved = history[0]
        out.print(f"since the last review: {new} new findings, {resolved} resolved", highlight=False)
    elif "review_runs" in tables:
        out.print("since the last review: nothing changed")
    for rule_id, note in not_run:
        out.print(f"{rule_id}: could not run \u2014 {note}", highlight=False)
    if corrections is not None and corrections.height:
        from pipelines.rules.claims import unresolved_claims

        for status, claims in unresolved_claims(corrections).iter_rows():
            kind = "replacements" if status == "unresolved_replacement" else "voids"
            out.print(f"{kind} naming no known claim: {claims} claim(s), kept in the review as billed", highlight=False)
    if billed is not None:
        from pipelines.rules.findings.daily_limit import mue_coverage

        unchecked = mue_coverage(billed.lazy(), config.reference(), config.rule_settings())
        for reason, rows in unchecked.group_by("reason", maintain_order=True):
            codes = ", ".join(f"{c} ({n})" for c, n in rows.select("cpt_code", "lines").iter_rows())
            what = "no MUE check" if reason[0] == "not in the MUE table" else "not counted as units over a limit"
            out.print(
                f"DAILY_LIMIT: {rows['lines'].sum()} billed lines of MUE payers, code {reason[0]}: {what} \u2014 {codes}",
                highlight=False,
                soft_wrap=True,
            )
    if findings:
        out.print("findings by rule (whole warehouse): count, units over, the findings' own amount at risk, exposure")
        for rule_id, count, units_over, amount, exposure, estimated in findings:
            mark = " (includes fee-schedule estimates)" if estimated else ""
            out.print(
                f"  {rule_id:<20} {count:>8} {units_over or 0:>8} {amount or 0:>12,.2f} {exposure or 0:>12,.2f}{mark}",
                highlight=False,
            )
        total = sum(row[4] or 0 for row in findings)
        out.print(
            f"total exposure (each line's amount at risk counted once): {total:,.2f}"
            + (" (includes fee-schedule estimates)" if any(row[5] for row in findings) else ""),
            highlight=False,
        )
    steps = meta.get("step_seconds") or {}
    if steps:
        out.print(
            "time by step (s): " + ", ".join(f"{step} {seconds:.1f}" for step, seconds in steps.items()),
            highlight=False,
            soft_wrap=True,
        )
