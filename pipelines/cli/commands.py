"""The ``unitreview`` command (review outputs v1, "Command line").

``unitreview review`` runs the same Dagster job the schedules run, in this process, and prints the
summary; exit status 0 when the review completed (even with quarantined rows or rejected files),
non-zero with one sentence on stderr when it could not.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipelines.cli.errors import DEBUG, ReviewFailed, explain, fail, out, redacted
from pipelines.cli.lock import LockUnavailable, WarehouseBusy, review_lock
from pipelines.cli.run import run_review
from pipelines.cli.summary import print_summary

app = typer.Typer(
    help="unitreview: utilization review of timed therapy codes (CPT 97112, the 8-minute rule).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.command()
def review(
    input: Annotated[
        Path, typer.Option("--input", help="An extract file, or a folder of extracts (.csv, .csv.gz, .parquet, .xlsx)")
    ],
    warehouse: Annotated[Path, typer.Option("--warehouse", help="The DuckDB warehouse file (created if missing)")],
    config: Annotated[Path | None, typer.Option("--config", help="A TOML configuration file")] = None,
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            min=0,
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
        fail(f"input path {input} does not exist", 2)
    try:
        settings = load_config(config)
    except ConfigError as exc:
        fail(str(exc), 2)
    except (OSError, UnicodeDecodeError) as exc:  # a folder, no permission, not UTF-8 text
        fail(f"configuration file {config} cannot be read ({getattr(exc, 'strerror', None) or 'not UTF-8 text'})", 2)
    _check_reference(settings)
    _prepare_warehouse_path(warehouse)
    try:
        with review_lock(warehouse, wait):
            _check_warehouse_opens(warehouse)
            try:
                run_id, ingest_meta = run_review(input, warehouse, config, settings)
            except ReviewFailed as exc:
                fail(f"review could not complete: {exc}")
            print_summary(warehouse, run_id, ingest_meta, settings)
    except WarehouseBusy as busy:
        fail(
            f"another review is writing {warehouse} (pid {busy.pid or '?'}); try again when it finishes"
            " (or pass --wait SECONDS to wait for it)",
            3,
        )
    except LockUnavailable as exc:
        fail(str(exc), 2)
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        if DEBUG:
            raise
        reason = explain(str(exc), warehouse) or f"{type(exc).__name__}: {redacted(str(exc))}"
        fail(f"review could not complete: {reason}")
    from pipelines.assets.publish import report_path, snapshot_path

    out.print(f"dashboard snapshot: {snapshot_path(str(warehouse))}", highlight=False)
    out.print(f"report: {report_path(str(warehouse))}", highlight=False)


def _prepare_warehouse_path(warehouse: Path) -> None:
    if warehouse.is_dir():
        fail(explain("Is a directory", warehouse), 2)
    parent = warehouse.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot create the warehouse folder {parent}: {exc.strerror}", 2)
    if not os.access(parent, os.W_OK) or (warehouse.exists() and not os.access(warehouse, os.W_OK)):
        fail(f"the warehouse {warehouse} cannot be written (read-only or permission denied)", 2)


def _check_warehouse_opens(warehouse: Path) -> None:
    """Open the warehouse once before the run, so that a damaged file or another program holding it
    is one sentence here rather than a failed step (a missing file is created)."""
    import duckdb

    try:
        duckdb.connect(str(warehouse)).close()
    except duckdb.Error as exc:
        fail(explain(str(exc), warehouse) or f"the warehouse {warehouse} cannot be opened: {redacted(str(exc))}", 2)


def _check_reference(settings) -> None:
    """The configured reference files (seed replacements, MUE table, note vocabulary) read before
    anything is ingested: a broken one stops the review at once, saying which file and why."""
    from pipelines.notes.detector import VocabularyError
    from pipelines.rules.reference import ReferenceError

    try:
        settings.reference()
    except (ReferenceError, VocabularyError) as exc:
        fail(f"[rules] reference files: {exc}", 2)
    except OSError as exc:
        fail(
            f"[rules] reference files: {getattr(exc, 'filename', None) or 'a file'} cannot be read ({exc.strerror})", 2
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
        fail(f"no published snapshot at {snapshot}: run unitreview review --warehouse {warehouse} first", 2)
    out.print(f"report: {write_report(snapshot, out_file)}", highlight=False)


@app.command()
def dashboard(
    warehouse: Annotated[Path, typer.Option("--warehouse", help="The DuckDB warehouse a review wrote")],
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (default: this machine only; another needs --users)")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8050,
    users: Annotated[
        Path | None, typer.Option("--users", help="Users file (TOML) to require a login with roles")
    ] = None,
    idle_minutes: Annotated[
        float, typer.Option("--idle-minutes", min=1, help="Sign out after this long without a request")
    ] = 30,
    session_hours: Annotated[
        float, typer.Option("--session-hours", min=0.1, help="Sign out this long after signing in")
    ] = 12,
    trusted_proxies: Annotated[
        int,
        typer.Option(
            "--trusted-proxies", min=0, help="Reverse proxies in front whose X-Forwarded-For/-Proto to believe"
        ),
    ] = 0,
    state_dir: Annotated[
        Path | None, typer.Option("--state-dir", help="Folder for the key file and sessions (default: the warehouse's)")
    ] = None,
) -> None:
    """Serve the Dash dashboard on the published snapshot (a review may run meanwhile)."""
    from dashboards.access.app_key import KeyFileError
    from dashboards.access.sessions import SessionPolicy
    from dashboards.app import UnsafeBind, check_bind, serve
    from pipelines.assets.publish import snapshot_path

    try:
        check_bind(host, users)
    except UnsafeBind as exc:
        fail(str(exc), 2)
    snapshot = snapshot_path(str(warehouse))
    if not snapshot.exists():
        fail(f"no published snapshot at {snapshot}: run unitreview review --warehouse {warehouse} first", 2)
    if users is not None and not users.exists():
        fail(f"users file {users} does not exist", 2)
    out.print(f"dashboard on http://{host}:{port}/ reading {snapshot}", highlight=False)
    try:
        serve(
            snapshot,
            host=host,
            port=port,
            users_file=users,
            state_dir=state_dir,
            trusted_proxies=trusted_proxies,
            session_policy=SessionPolicy(idle_minutes=idle_minutes, session_hours=session_hours),
        )
    except (UnsafeBind, KeyFileError, ValueError) as exc:
        fail(str(exc), 2)


@app.command()
def evaluate(
    warehouse: Annotated[Path, typer.Option("--warehouse", help="A warehouse reviewed from a generated extract")],
    key: Annotated[Path, typer.Option("--key", help="The generator's answer_key.ndjson")],
) -> None:
    """Precision and recall of the findings per rule against a generator's answer key."""
    import duckdb

    from pipelines.generate.evaluate import documentation_by_element, precision_recall, read_answer_key

    if not warehouse.is_file():
        fail(f"no warehouse at {warehouse}", 2)
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            found = con.sql("select * from findings").pl()
    except duckdb.Error as exc:  # a review writing it, a damaged file, no findings table yet
        fail(explain(str(exc), warehouse) or f"cannot read the findings of {warehouse}: {redacted(str(exc))}", 2)
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
    seed: Annotated[
        int | None, typer.Option("--seed", help="Random seed (same seed, same files); default 1, samples 2026")
    ] = None,
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
        fail(str(exc), 2)
    out.print(f"wrote {summary.total_lines} lines in {len(summary.files)} files to {out_dir}", highlight=False)
    for rule_id, n in sorted(summary.planted.items()):
        out.print(f"  planted {rule_id:<20} {n:>8}", highlight=False)
    out.print(f"answer key: {summary.answer_key}", highlight=False)


def _register_audit_commands() -> None:
    from pipelines.cli.audit import register

    register(app, out, fail)


_register_audit_commands()


def main() -> None:
    """The console entry point: the command, then the process ends at once.

    When a command returns (or exits with a status) its files and warehouse connections are closed
    and its output is written; what remains is Python's interpreter teardown, which frees every
    module and object one by one, long after a large review. The output is flushed and ``os._exit``
    ends the process without it. An exception the command did not handle takes the ordinary exit,
    traceback and all, and so does a run under a profiler or a coverage tool (they write their
    results at exit).
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
