"""The ``unitreview`` command (review outputs v1, "Command line").

``unitreview review`` runs the same Dagster job the schedules run, in this process, and prints the
summary; exit status 0 when the review completed (even with quarantined rows or rejected files),
non-zero with one sentence on stderr when it could not.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
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


# UNITREVIEW_DEBUG=1 shows Dagster's error log and Python tracebacks (they may quote data values).
DEBUG = os.environ.get("UNITREVIEW_DEBUG", "") not in ("", "0")


def _fail(message: str, code: int = 1) -> None:
    err.print("[bold red]unitreview:[/] ", end="", highlight=False)
    err.print(message, highlight=False, soft_wrap=True, markup=False)
    raise typer.Exit(code)


def lock_path(warehouse: Path) -> Path:
    """warehouse/unitreview.duckdb -> warehouse/unitreview.duckdb.lock (the review lock's file)."""
    resolved = warehouse.resolve()
    return resolved.with_name(resolved.name + ".lock")


class WarehouseBusy(Exception):
    def __init__(self, pid: str | None):
        super().__init__(pid)
        self.pid = pid


class LockUnavailable(Exception):
    """The lock file cannot be created: the warehouse's folder cannot be written."""


@contextmanager
def review_lock(warehouse: Path, wait: float) -> Iterator[None]:
    """Hold ``<warehouse>.lock`` (an advisory ``flock``) for a whole review: one review writes a
    warehouse at a time. A second review waits up to ``wait`` seconds, then raises WarehouseBusy with
    the holder's pid. The lock goes with the process, also when it is killed."""
    try:
        fd = os.open(lock_path(warehouse), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise LockUnavailable(explain(str(exc), warehouse) or f"the warehouse {warehouse} cannot be written ({exc.strerror})") from None
    try:
        deadline = time.monotonic() + wait
        said = False
        blank_until = 0.0
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or None
                if holder is None and time.monotonic() < (blank_until := blank_until or time.monotonic() + 2.0):
                    # A holder writes its pid just after taking the lock and clears it just before
                    # letting go: an empty file means one of those moments, so try the lock again.
                    time.sleep(0.01)
                    continue
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(holder) from None
                if not said:
                    err.print(f"unitreview: waiting up to {wait:g} s for another review of {warehouse} (pid {holder or '?'}) to finish", highlight=False, markup=False, soft_wrap=True)
                    said = True
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def explain(text: str, warehouse: Path) -> str | None:
    """One sentence for an operational error (lock, damaged file, full disk, no permission), or None."""
    if "Could not set lock" in text or "Conflicting lock" in text:
        pid = re.search(r"PID (\d+)", text)
        return (
            f"the warehouse {warehouse} is open in another program (pid {pid.group(1) if pid else '?'}), "
            "such as a DuckDB shell, a notebook or dagster dev; close it and run the review again"
        )
    damaged = ("not a valid DuckDB database file", "Corrupt database file", "checksum", "Could not read enough bytes")
    if any(sign in text for sign in damaged):
        return (
            f"{warehouse} is not a usable DuckDB warehouse (the file is damaged or of another kind); "
            "restore it from a backup or give another --warehouse path"
        )
    if "No space left on device" in text or "Disk quota exceeded" in text:
        return (
            f"the disk holding {warehouse} is full; free some space and run the review again "
            "(what was committed is kept, and the rerun continues from there)"
        )
    if "File too large" in text:
        return (
            f"the warehouse {warehouse} cannot grow any larger on this system (file too large); "
            "free some space or raise the file size limit and run the review again"
        )
    about_warehouse = str(warehouse) in text or warehouse.name in text or "Errno" not in text
    if ("Read-only file system" in text or "Permission denied" in text) and about_warehouse:
        return f"the warehouse {warehouse} cannot be written (read-only or permission denied)"
    if "Is a directory" in text and about_warehouse:
        return f"the warehouse path {warehouse} is a folder: give a file name, such as {warehouse / 'unitreview.duckdb'}"
    return None


def redacted(text: str, limit: int = 200) -> str:
    """An unexpected error's first line with quoted and bracketed literals taken out: a library's
    message can quote a cell value, and cells may be PHI."""
    lines = text.strip().splitlines()
    line = lines[0] if lines else ""
    line = re.sub(r"'[^']*'|\"[^\"]*\"|\[[^\]]*\]|`[^`]*`", "…", line)
    return line[:limit]


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
    wait: Annotated[
        float,
        typer.Option(
            "--wait", min=0,
            help="Seconds to wait when another review is writing the same warehouse (default 0: stop at once)",
        ),
    ] = 0,
) -> None:
    """Run the whole review on every extract under --input, adding to the warehouse.

    One review writes a warehouse at a time (lock file <warehouse>.lock): a second one waits up to
    --wait seconds, then stops with a message and exit status 3.
    """
    from pipelines.config import ConfigError, load_config

    if not input.exists():
        _fail(f"input path {input} does not exist", 2)
    try:
        settings = load_config(config)
    except ConfigError as exc:
        _fail(str(exc), 2)
    except (OSError, UnicodeDecodeError) as exc:  # a folder, no permission, not UTF-8 text
        _fail(f"configuration file {config} cannot be read ({getattr(exc, 'strerror', None) or 'not UTF-8 text'})", 2)
    _check_reference(settings)
    _prepare_warehouse_path(warehouse)
    try:
        with review_lock(warehouse, wait):
            _check_warehouse_opens(warehouse)
            try:
                run_id, ingest_meta = _run_review(input, warehouse, config, settings)
            except ReviewFailed as exc:
                _fail(f"review could not complete: {exc}")
            _print_summary(warehouse, run_id, ingest_meta, settings)
    except WarehouseBusy as busy:
        _fail(
            f"another review is writing {warehouse} (pid {busy.pid or '?'}); try again when it finishes"
            " (or pass --wait SECONDS to wait for it)",
            3,
        )
    except LockUnavailable as exc:
        _fail(str(exc), 2)
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - a sentence, never a traceback (UNITREVIEW_DEBUG=1 shows it)
        if DEBUG:
            raise
        reason = explain(str(exc), warehouse) or f"{type(exc).__name__}: {redacted(str(exc))}"
        _fail(f"review could not complete: {reason}")
    from pipelines.assets.publish import report_path, snapshot_path

    out.print(f"dashboard snapshot: {snapshot_path(str(warehouse))}", highlight=False)
    out.print(f"report: {report_path(str(warehouse))}", highlight=False)


def _prepare_warehouse_path(warehouse: Path) -> None:
    if warehouse.is_dir():
        _fail(explain("Is a directory", warehouse), 2)
    parent = warehouse.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _fail(f"cannot create the warehouse folder {parent}: {exc.strerror}", 2)
    if not os.access(parent, os.W_OK) or (warehouse.exists() and not os.access(warehouse, os.W_OK)):
        _fail(f"the warehouse {warehouse} cannot be written (read-only or permission denied)", 2)


def _check_warehouse_opens(warehouse: Path) -> None:
    """Open the warehouse once before the run, so that a damaged file or another program holding it
    is one sentence here rather than a failed step (a missing file is created)."""
    import duckdb

    try:
        duckdb.connect(str(warehouse)).close()
    except duckdb.Error as exc:
        _fail(explain(str(exc), warehouse) or f"the warehouse {warehouse} cannot be opened: {redacted(str(exc))}", 2)


def _check_reference(settings) -> None:
    """The configured reference files (seed replacements, MUE table, note vocabulary) read before
    anything is ingested: a broken one stops the review at once, saying which file and why."""
    from pipelines.notes import VocabularyError
    from pipelines.rules.reference import ReferenceError

    try:
        settings.reference()
    except (ReferenceError, VocabularyError) as exc:
        _fail(f"[rules] reference files: {exc}", 2)
    except OSError as exc:
        _fail(f"[rules] reference files: {getattr(exc, 'filename', None) or 'a file'} cannot be read ({exc.strerror})", 2)


def _run_review(input: Path, warehouse: Path, config_path: Path | None, settings) -> tuple[str, dict]:
    import dagster as dg

    from pipelines import progress
    from pipelines.definitions import build_defs

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    # Dagster's error log carries stack traces and exception text (which can quote a data value): the
    # user gets one sentence instead (_failure_reason); UNITREVIEW_DEBUG=1 shows the full log.
    log_level = "ERROR" if DEBUG else "CRITICAL"
    logging.getLogger("dagster").setLevel(log_level)
    defs = build_defs(
        warehouse_path=str(warehouse),
        input_path=str(input),
        config_path=str(config_path) if config_path else None,
        config=settings,
    )
    job = defs.resolve_job_def("review")
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    # the instance is disposed on leaving: its temporary artifact folder is removed then, not left to
    # an interpreter teardown that main() skips
    with (
        dg.DagsterInstance.ephemeral() as instance,
        Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar,
        progress.showing(_RichDisplay(bar)),
    ):
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
    if not result.success:
        raise ReviewFailed(_failure_reason(result, warehouse))
    meta: dict = {"step_seconds": _step_seconds(result)}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key.to_user_string() == "claim_lines":
            meta.update({k: v.value for k, v in materialization.metadata.items()})
    return result.run_id, meta


def _step_seconds(result) -> dict[str, float]:
    """Seconds each step of the run took (Dagster's own step durations), in the order they ended."""
    seconds: dict[str, float] = {}
    for event in result.all_events:
        if event.is_step_success:
            seconds[event.step_key] = event.event_specific_data.duration_ms / 1000
    return seconds


def _failure_reason(result, warehouse: Path) -> str:
    """The first failed step's error as one sentence: an operational error (lock, full disk, damaged
    file) in plain words, anything else as the step and the error's first line without literals."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error:
            error = event.step_failure_data.error
            chain, link = [], error
            while link is not None:
                chain.append(link.message)
                link = link.cause or link.context
            known = explain("\n".join(chain), warehouse)
            if known:
                return known
            while error.cause is not None and error.cls_name in {"DagsterExecutionStepExecutionError"}:
                error = error.cause
            first = redacted(error.message)
            hint = "" if DEBUG else " (set UNITREVIEW_DEBUG=1 to see the full error)"
            return f"{event.step_key}: {first or error.cls_name}{hint}"
    return "the run failed"


def _print_summary(warehouse: Path, run_id: str, meta: dict, config=None) -> None:
    """The contract's summary: files and rows read, loaded, quarantined, rejected files, findings, and
    what a rule could not check (DOCUMENTATION without flags or notes; lines without an MUE)."""
    import duckdb

    from pipelines.warehouse import table_columns as warehouse_columns

    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:  # the review completed: say why the totals are missing, exit 0
        err.print(f"unitreview: the review completed, but its summary cannot be read: {explain(str(exc), warehouse) or redacted(str(exc))}", highlight=False, markup=False)
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
            con.sql("select cpt_code, payer_type, count(*)::bigint as lines from claim_lines where units_billed > 0 group by all").pl()
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
            out.print(
                f"{kind} naming no known claim: {claims} claim(s), kept in the review as billed", highlight=False
            )
    if billed is not None:
        from pipelines.rules.findings.daily_limit import mue_coverage

        unchecked = mue_coverage(billed.lazy(), config.reference(), config.rule_settings())
        for reason, rows in unchecked.group_by("reason", maintain_order=True):
            codes = ", ".join(f"{c} ({n})" for c, n in rows.select("cpt_code", "lines").iter_rows())
            what = "no MUE check" if reason[0] == "not in the MUE table" else "not counted as units over a limit"
            out.print(
                f"DAILY_LIMIT: {rows['lines'].sum()} billed lines of MUE payers, code {reason[0]}: {what} \u2014 {codes}",
                highlight=False, soft_wrap=True,
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


@app.command()
def report(
    warehouse: Annotated[Path, typer.Option("--warehouse", help="The DuckDB warehouse a review wrote")],
    out_file: Annotated[Path, typer.Option("--out", help="The HTML file to write")],
) -> None:
    """Write the self-contained HTML report (no patient identifiers) from the published snapshot."""
    from dashboards.files.report import write_report
    from pipelines.assets.publish import snapshot_path

    snapshot = snapshot_path(str(warehouse))
    if not snapshot.exists():
        _fail(f"no published snapshot at {snapshot}: run unitreview review --warehouse {warehouse} first", 2)
    out.print(f"report: {write_report(snapshot, out_file)}", highlight=False)


@app.command()
def dashboard(
    warehouse: Annotated[Path, typer.Option("--warehouse", help="The DuckDB warehouse a review wrote")],
    host: Annotated[str, typer.Option("--host", help="Address to bind (default: this machine only; another needs --users)")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8050,
    users: Annotated[Path | None, typer.Option("--users", help="Users file (TOML) to require a login with roles")] = None,
    idle_minutes: Annotated[float, typer.Option("--idle-minutes", min=1, help="Sign out after this long without a request")] = 30,
    session_hours: Annotated[float, typer.Option("--session-hours", min=0.1, help="Sign out this long after signing in")] = 12,
    trusted_proxies: Annotated[int, typer.Option("--trusted-proxies", min=0, help="Reverse proxies in front whose X-Forwarded-For/-Proto to believe")] = 0,
    state_dir: Annotated[Path | None, typer.Option("--state-dir", help="Folder for the key file and sessions (default: the warehouse's)")] = None,
) -> None:
    """Serve the Dash dashboard on the published snapshot (a review may run meanwhile)."""
    from dashboards.app import UnsafeBind, check_bind, serve
    from dashboards.access.app_key import KeyFileError
    from dashboards.access.sessions import SessionPolicy
    from pipelines.assets.publish import snapshot_path

    try:
        check_bind(host, users)
    except UnsafeBind as exc:
        _fail(str(exc), 2)
    snapshot = snapshot_path(str(warehouse))
    if not snapshot.exists():
        _fail(f"no published snapshot at {snapshot}: run unitreview review --warehouse {warehouse} first", 2)
    if users is not None and not users.exists():
        _fail(f"users file {users} does not exist", 2)
    out.print(f"dashboard on http://{host}:{port}/ reading {snapshot}", highlight=False)
    try:
        serve(snapshot, host=host, port=port, users_file=users, state_dir=state_dir, trusted_proxies=trusted_proxies,
              session_policy=SessionPolicy(idle_minutes=idle_minutes, session_hours=session_hours))
    except (UnsafeBind, KeyFileError, ValueError) as exc:
        _fail(str(exc), 2)


@app.command()
def evaluate(
    warehouse: Annotated[Path, typer.Option("--warehouse", help="A warehouse reviewed from a generated extract")],
    key: Annotated[Path, typer.Option("--key", help="The generator's answer_key.ndjson")],
) -> None:
    """Precision and recall of the findings per rule against a generator's answer key."""
    import duckdb

    from pipelines.evaluate import documentation_by_element, precision_recall, read_answer_key

    if not warehouse.is_file():
        _fail(f"no warehouse at {warehouse}", 2)
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            found = con.sql("select * from findings").pl()
    except duckdb.Error as exc:  # a review writing it, a damaged file, no findings table yet
        _fail(explain(str(exc), warehouse) or f"cannot read the findings of {warehouse}: {redacted(str(exc))}", 2)
    answers = read_answer_key(key)
    tables = [("Findings against the answer key", precision_recall(found, answers))]
    if "DOCUMENTATION" in set(answers["rule_id"]):
        tables.append(("DOCUMENTATION per missing element", documentation_by_element(found, answers)))
    for title, result in tables:
        table = Table(title=title, title_justify="left")
        for column in result.columns:
            table.add_column(column, justify="left" if column in ("rule_id", "element") else "right")
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


def _register_audit_commands() -> None:
    from pipelines.cli_audit import register

    register(app, out, _fail)


_register_audit_commands()


def main() -> None:
    """The console entry point: the command, then the process ends at once.

    When a command returns (or exits with a status) its files and warehouse connections are closed
    and its output is written; what remains is Python's interpreter teardown, which frees every
    module and object one by one: about 1 s after a 10M-line review (docs/performance.md). The
    output is flushed and ``os._exit`` ends the process without it. An exception the command did not
    handle takes the ordinary exit, traceback and all, and so does a run under a profiler or a
    coverage tool (they write their results at exit).
    """
    try:
        app()
        code = 0
    except SystemExit as exc:
        if exc.code is not None and not isinstance(exc.code, int):
            raise  # a message as the status: Python prints it and exits 1
        code = exc.code or 0
    if sys.gettrace() is not None or sys.getprofile() is not None:
        sys.exit(code)  # a profiler or coverage tool is watching: it writes its results at exit
    logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # a reader that went away, or a closed stream
        pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
