"""The ``unitreview`` command (review outputs v1, "Command line").

``unitreview review`` runs the same Dagster job the schedules run, in this process, and prints the
summary; exit status 0 when the review completed (even with quarantined rows or rejected files),
non-zero with one sentence on stderr when it could not.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(
    help="unitreview: utilization review of timed therapy codes (CPT 97112, the 8-minute rule).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)


class ReviewFailed(Exception):
    """The review could not complete; the message is the sentence the user sees."""


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]unitreview:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


class _RichDisplay:
    """Terminal progress: one bar per stage, advanced per file (file names only, never PHI)."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.tasks: dict[str, int] = {}

    def start(self, stage: str, total: int | None) -> None:
        self.tasks[stage] = self.progress.add_task(stage, total=total)

    def advance(self, stage: str, note: str) -> None:
        self.progress.update(self.tasks[stage], advance=1, description=f"{stage}: {note}")

    def finish(self, stage: str) -> None:
        task = self.tasks[stage]
        self.progress.update(task, description=stage, completed=self.progress.tasks[task].total or 1, total=self.progress.tasks[task].total or 1)


@app.command()
def review(
    input: Annotated[Path, typer.Option("--input", help="An extract file, or a folder of extracts (.csv, .csv.gz, .parquet, .xlsx)")],
    warehouse: Annotated[Path, typer.Option("--warehouse", help="The DuckDB warehouse file (created if missing)")],
    config: Annotated[Path | None, typer.Option("--config", help="A TOML configuration file")] = None,
) -> None:
    """Run the whole review on every extract under --input, adding to the warehouse."""
    from pipelines.config import ConfigError, load_config

    if not input.exists():
        _fail(f"input path {input} does not exist", 2)
    try:
        settings = load_config(config)
    except ConfigError as exc:
        _fail(str(exc), 2)
    _prepare_warehouse_path(warehouse)
    try:
        run_id, ingest_meta = _run_review(input, warehouse, config, settings)
    except ReviewFailed as exc:
        _fail(f"review could not complete: {exc}")
    _print_summary(warehouse, run_id, ingest_meta)
    from pipelines.assets.publish import report_path, snapshot_path

    out.print(f"dashboard snapshot: {snapshot_path(str(warehouse))}", highlight=False)
    out.print(f"report: {report_path(str(warehouse))}", highlight=False)


def _prepare_warehouse_path(warehouse: Path) -> None:
    parent = warehouse.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _fail(f"cannot create the warehouse folder {parent}: {exc.strerror}", 2)
    if not os.access(parent, os.W_OK) or (warehouse.exists() and not os.access(warehouse, os.W_OK)):
        _fail(f"the warehouse {warehouse} cannot be written (permission denied)", 2)


def _run_review(input: Path, warehouse: Path, config_path: Path | None, settings) -> tuple[str, dict]:
    import dagster as dg

    from pipelines import progress
    from pipelines.definitions import build_defs

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    logging.getLogger("dagster").setLevel(logging.ERROR)
    defs = build_defs(
        warehouse_path=str(warehouse),
        input_path=str(input),
        config_path=str(config_path) if config_path else None,
        config=settings,
    )
    job = defs.resolve_job_def("review")
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar, progress.showing(_RichDisplay(bar)):
        result = job.execute_in_process(
            instance=dg.DagsterInstance.ephemeral(),
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
        )
    if not result.success:
        raise ReviewFailed(_failure_reason(result))
    meta: dict = {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key.to_user_string() == "claim_lines":
            meta = {k: v.value for k, v in materialization.metadata.items()}
    return result.run_id, meta


def _failure_reason(result) -> str:
    """The first failed step's error, as one line (our errors never carry row values)."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error:
            error = event.step_failure_data.error
            while error.cause is not None and error.cls_name in {"DagsterExecutionStepExecutionError"}:
                error = error.cause
            text = error.message.strip().splitlines()
            return f"{event.step_key}: {text[0] if text else error.cls_name}"
    return "the run failed"


def _print_summary(warehouse: Path, run_id: str, meta: dict) -> None:
    """The contract's summary: files and rows read, loaded, quarantined, rejected files, findings."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        reasons = con.execute(
            "select r.reason, count(*) from quarantine q, unnest(q.reasons) as r(reason) "
            "where q.source_file in (select source_file from ingest_log where run_id = ?) "
            "group by 1 order by 2 desc, 1",
            [run_id],
        ).fetchall()
        tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
        findings = (
            con.execute("select rule_id, count(*), sum(units_over), sum(amount_at_risk) from findings group by 1 order by 1").fetchall()
            if "findings" in tables
            else []
        )
        history = (
            con.execute("select new_findings, resolved_findings from review_runs where run_id = ?", [run_id]).fetchall()
            if "review_runs" in tables
            else []
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
    if findings:
        out.print("findings by rule (whole warehouse): count, units over, amount at risk")
        for rule_id, count, units_over, amount in findings:
            out.print(f"  {rule_id:<20} {count:>8} {units_over or 0:>8} {amount or 0:>12,.2f}", highlight=False)


@app.command()
def report(
    warehouse: Annotated[Path, typer.Option("--warehouse", help="The DuckDB warehouse a review wrote")],
    out_file: Annotated[Path, typer.Option("--out", help="The HTML file to write")],
) -> None:
    """Write the self-contained HTML report (no patient identifiers) from the published snapshot."""
    from dashboards.report import write_report
    from pipelines.assets.publish import snapshot_path

    snapshot = snapshot_path(str(warehouse))
    if not snapshot.exists():
        _fail(f"no published snapshot at {snapshot}: run unitreview review --warehouse {warehouse} first", 2)
    out.print(f"report: {write_report(snapshot, out_file)}", highlight=False)


@app.command()
def dashboard(
    warehouse: Annotated[Path, typer.Option("--warehouse", help="The DuckDB warehouse a review wrote")],
    host: Annotated[str, typer.Option("--host", help="Address to bind (default: this machine only)")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8050,
    users: Annotated[Path | None, typer.Option("--users", help="Users file (TOML) to require a login with roles")] = None,
) -> None:
    """Serve the Dash dashboard on the published snapshot (a review may run meanwhile)."""
    from dashboards.app import serve
    from pipelines.assets.publish import snapshot_path

    snapshot = snapshot_path(str(warehouse))
    if not snapshot.exists():
        _fail(f"no published snapshot at {snapshot}: run unitreview review --warehouse {warehouse} first", 2)
    if users is not None and not users.exists():
        _fail(f"users file {users} does not exist", 2)
    out.print(f"dashboard on http://{host}:{port}/ reading {snapshot}", highlight=False)
    serve(snapshot, host=host, port=port, users_file=users)


@app.command()
def evaluate(
    warehouse: Annotated[Path, typer.Option("--warehouse", help="A warehouse reviewed from a generated extract")],
    key: Annotated[Path, typer.Option("--key", help="The generator's answer_key.ndjson")],
) -> None:
    """Precision and recall of the findings per rule against a generator's answer key."""
    import duckdb

    from pipelines.evaluate import precision_recall, read_answer_key

    with duckdb.connect(str(warehouse), read_only=True) as con:
        found = con.sql("select * from findings").pl()
    result = precision_recall(found, read_answer_key(key))
    table = Table(title="Findings against the answer key", title_justify="left")
    for column in result.columns:
        table.add_column(column, justify="left" if column == "rule_id" else "right")
    for row in result.iter_rows():
        table.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row])
    out.print(table)


@app.command()
def generate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the extract and its answer key into")],
    lines: Annotated[int, typer.Option("--lines", min=1, help="How many claim lines")] = 100_000,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed (same seed, same files); default 1, samples 2026")] = None,
    start_month: Annotated[str, typer.Option("--start-month", help="First service month, YYYY-MM")] = "2025-11",
    months: Annotated[int, typer.Option("--months", min=1, help="How many monthly files")] = 12,
    fmt: Annotated[str, typer.Option("--format", help="csv, csv.gz, parquet or xlsx")] = "csv",
    samples: Annotated[bool, typer.Option("--samples", help="Write the small committed sample set instead")] = False,
) -> None:
    """Write a realistic synthetic extract with planted findings and an answer key."""
    from pipelines.generate import generate_extract, write_samples

    try:
        if samples:
            summary = write_samples(out_dir, seed=2026 if seed is None else seed)
        else:
            summary = generate_extract(
                out_dir, lines, 1 if seed is None else seed, start_month=start_month, months=months, fmt=fmt
            )
    except ValueError as exc:
        _fail(str(exc), 2)
    out.print(f"wrote {summary.total_lines} lines in {len(summary.files)} files to {out_dir}", highlight=False)
    for rule_id, n in sorted(summary.planted.items()):
        out.print(f"  planted {rule_id:<20} {n:>8}", highlight=False)
    out.print(f"answer key: {summary.answer_key}", highlight=False)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
