"""Kill harness: SIGKILL ``unitreview review`` at random moments and check that nothing is lost or
doubled (not a unit test; run by hand, ~20-40 min for the defaults on two cores).

    .venv/bin/python tests/kill_harness.py [--lines 120000] [--trials 24] [--seed 7] [--work DIR]

Set-up: a generated extract of ``--lines`` lines in six monthly CSV files, plus a file with bad rows
(quarantine), a broken Parquet file (rejected) and a redelivered copy (duplicate). The *base*
warehouse is a complete review of the first two months: the "last complete review". The *reference*
is the base reviewed again, uninterrupted, with every file.

Each trial copies the base, starts the review of every file in a subprocess and kills it
(SIGKILL, no chance to clean up) either at a uniformly random moment of a run, or a random moment
into a chosen stage (ingest, rules, scores, history, publish, report), so that short stages are hit
too. The subprocess is the ``unitreview`` command itself, started through this file only to write a
progress marker (each Dagster step's start and success, with a timestamp): the stage hit is read from
it and cross-checked against what the warehouse committed.

After the kill:
  1. the warehouse opens (read-only, and then read-write for the rerun);
  2. it is consistent: rows_read = loaded + quarantined for every file, every 'loaded' file has
     exactly its rows in claim_lines and quarantine, no rows of a file that is not logged, no line
     key twice, no file logged twice, line_units covers exactly the lines up to rules_state's
     watermark, provider_scores and provider_metrics describe the same providers and periods;
  3. the last complete review is intact: every file of the base review is logged with its counts
     and rows; the published snapshot opens and agrees with its own snapshot_info;
  4. what was committed is a prefix of the stage order (never a later stage without the earlier);
then ``unitreview review`` runs again, uninterrupted, and every count (claim_lines, quarantine,
ingest_log by status, line_units, findings, findings by rule, provider_scores, provider_metrics,
finding_history, review_runs) and content checksum equals the reference's, and the snapshot holds
the same rows as the warehouse.

Then, by default, six deterministic trials (``--insert-kills``): the review kills itself as it is
about to insert into a table for the Nth time, inside the transaction that must keep that write
together with others (a file's lines / quarantine / log entry; provider_scores / provider_metrics),
or into the staged copies of line_units / findings that a recompute of several months writes before
moving them in.

Prints a table (trial, delay, stage hit, committed, counts compared, ok) and writes
``results.json`` in the work folder. Exit status 1 when any trial fails.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STAGE_ORDER = ["ingest", "rules", "scores", "history", "publish", "report"]
# Dagster step keys (assets and their checks) -> the stage they belong to
STEP_STAGES = {
    "ingest_extracts": "ingest",
    "rows_reconcile": "ingest",
    "line_keys_unique": "ingest",
    "review_rules": "rules",
    "one_units_row_per_line": "rules",
    "no_negative_expected_units": "rules",
    "findings_keys_exist": "rules",
    "review_scores": "scores",
    "ranks_without_gaps": "scores",
    "review_runs": "history",
    "review_publish": "publish",  # the snapshot, then the report ("report" below: its file old or new)
}


def stage_of(step_key: str) -> str:
    for name, stage in STEP_STAGES.items():
        if name in step_key:
            return stage
    return step_key


# ---- the child: the unitreview command, with a progress marker ------------------------------------


def child(markers: Path, argv: list[str], kill_at_insert: str | None = None) -> None:
    """Run ``unitreview ARGV`` in this process, appending "<seconds> <STEP_START|STEP_SUCCESS>
    <step_key>" to ``markers`` as Dagster reports each step (step names only: never data).

    ``kill_at_insert="TABLE[:N]"``: SIGKILL this process as it is about to insert rows into TABLE for
    the Nth time (default 1), inside the transaction that writes it: a deterministic crash between
    two writes that must commit together."""
    started = time.monotonic()
    stream = open(markers, "a", buffering=1)  # noqa: SIM115 - open until this process is killed or exits
    stream.write(f"{time.monotonic() - started:.3f} PROCESS_START -\n")

    if kill_at_insert:
        from pipelines.warehouse import writes as warehouse

        table, _, nth = kill_at_insert.partition(":")
        seen = {"n": 0}
        insert = warehouse._insert

        def insert_or_die(con, name, frame):
            if name == table:
                seen["n"] += 1
                if seen["n"] == int(nth or 1):
                    stream.write(f"{time.monotonic() - started:.3f} KILLED_AT_INSERT {table}\n")
                    os.kill(os.getpid(), signal.SIGKILL)
            return insert(con, name, frame)

        warehouse._insert = insert_or_die

    from dagster._core.instance import DagsterInstance

    original = DagsterInstance.handle_new_event

    def handle_new_event(self, event, *args, **kwargs):
        dagster_event = getattr(event, "dagster_event", None)
        if dagster_event is not None and dagster_event.event_type_value in (
            "STEP_START",
            "STEP_SUCCESS",
            "STEP_FAILURE",
        ):
            stream.write(
                f"{time.monotonic() - started:.3f} {dagster_event.event_type_value} {dagster_event.step_key}\n"
            )
        return original(self, event, *args, **kwargs)

    DagsterInstance.handle_new_event = handle_new_event
    from pipelines.cli import progress_bars
    from pipelines.cli.commands import app

    advance = progress_bars.RichDisplay.advance

    def advanced(self, stage: str, note: str) -> None:  # after each file's commit: "ADVANCE ingest"
        stream.write(f"{time.monotonic() - started:.3f} ADVANCE {stage}\n")
        advance(self, stage, note)

    progress_bars.RichDisplay.advance = advanced

    stream.write(f"{time.monotonic() - started:.3f} IMPORTED -\n")
    try:
        app(argv, standalone_mode=True)
    finally:
        stream.write(f"{time.monotonic() - started:.3f} PROCESS_END -\n")


def read_markers(markers: Path) -> list[tuple[float, str, str]]:
    if not markers.exists():
        return []
    out = []
    for line in markers.read_text().splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3:
            with contextlib.suppress(ValueError):
                out.append((float(parts[0]), parts[1], parts[2]))
    return out


def stage_hit(markers: list[tuple[float, str, str]]) -> str:
    """The stage running when the process died: its last started step that did not succeed."""
    done = {step for _, kind, step in markers if kind == "STEP_SUCCESS"}
    running = [step for _, kind, step in markers if kind == "STEP_START" and step not in done]
    if running:
        return stage_of(running[-1])
    if any(kind == "PROCESS_END" for _, kind, _ in markers):
        return "finished"
    if any(kind == "STEP_SUCCESS" and stage_of(step) == "publish" for _, kind, step in markers):
        return "summary"
    if any(kind == "STEP_SUCCESS" for _, kind, _ in markers):
        return "between steps"
    return "startup"


# ---- inputs ---------------------------------------------------------------------------------------


def unitreview_command() -> list[str]:
    found = Path(sys.executable).with_name("unitreview")
    return [str(found)] if found.exists() else [sys.executable, "-m", "pipelines.cli.commands"]


def make_inputs(work: Path, lines: int, seed: int, months: int = 6) -> tuple[Path, Path]:
    """(base input folder, full input folder). Base: the first two months; full: every month, a
    file with bad rows, a broken Parquet file and a redelivered copy of a month."""
    from pipelines.generate import generate_extract

    generated = work / "generated"
    if not generated.exists():
        generate_extract(generated, lines, seed, start_month="2025-11", months=months, fmt="csv")
    monthly = sorted(generated.glob("*.csv"))
    base, full = work / "input_base", work / "input_full"
    for folder in (base, full):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    for i, path in enumerate(monthly):
        shutil.copy(path, full / path.name)
        if i < 2:
            shutil.copy(path, base / path.name)
    shutil.copy(monthly[0], full / f"redelivered_{monthly[0].name}")
    with open(monthly[-1], newline="") as stream:  # 40 lines of the last month: half of them broken
        reader = csv.reader(stream)
        columns = next(reader)
        first = [next(reader) for _ in range(40)]
    with open(full / "zz_bad_rows.csv", "w", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")  # the generator's line ending
        writer.writerow(columns)
        for i, cells in enumerate(first):
            cells[columns.index("claim_id")] = f"KH-{i}"
            if i % 4 == 0:
                cells[columns.index("units_billed")] = "many"
            elif i % 4 == 1:
                cells[columns.index("rendering_npi")] = "123"
            writer.writerow(cells)
        stream.write("KH-RAGGED,1,2\n")
    (full / "zz_broken.parquet").write_bytes(b"PAR1 this is not parquet")
    return base, full


# ---- what the warehouse holds ----------------------------------------------------------------------


def _scalar(con, sql: str, default=None):
    try:
        rows = con.execute(sql).fetchall()
    except Exception:
        return default
    return rows[0][0] if rows else default


def _tables(con) -> set[str]:
    return {
        r[0]
        for r in con.execute("select table_name from information_schema.tables where table_schema = 'main'").fetchall()
    }


def tables(db: Path) -> set[str]:
    """The warehouse's table names."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return _tables(con)


def state(db: Path) -> dict:
    """Counts and order-independent content checksums of every table a review writes."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        tables = _tables(con)
        s: dict = {}
        for table in (
            "claim_lines",
            "quarantine",
            "ingest_log",
            "line_units",
            "findings",
            "provider_scores",
            "provider_metrics",
            "finding_history",
            "review_runs",
        ):
            s[table] = _scalar(con, f"select count(*) from {table}", 0) if table in tables else 0
        if "claim_lines" in tables:
            s["claim_lines_checksum"] = str(
                _scalar(
                    con,
                    "select sum(hash(claim_id, line_number, units_billed, source_file, source_row)) from claim_lines",
                )
            )
            s["quarantine_checksum"] = str(
                _scalar(con, "select sum(hash(source_file, source_row, reasons)) from quarantine")
            )
            for status, n in con.execute("select status, count(*) from ingest_log group by 1").fetchall():
                s[f"ingest_log_{status}"] = n
        if "line_units" in tables:
            s["line_units_checksum"] = str(
                _scalar(con, "select sum(hash(claim_id, line_number, method, expected_units)) from line_units")
            )
        if "findings" in tables:
            for rule, n in con.execute("select rule_id, count(*) from findings group by 1").fetchall():
                s[f"findings_{rule}"] = n
            columns = {
                r[0]
                for r in con.execute(
                    "select column_name from information_schema.columns where table_name = 'findings'"
                ).fetchall()
            }
            if "finding_key" in columns:
                s["findings_checksum"] = str(_scalar(con, "select sum(hash(finding_key, units_over)) from findings"))
        if "provider_scores" in tables:
            s["provider_scores_checksum"] = str(
                _scalar(con, "select sum(hash(period, rendering_npi, risk_rank)) from provider_scores")
            )
    return s


def consistency_problems(db: Path) -> list[str]:
    """What would break a reader's trust in this warehouse (empty when it is consistent)."""
    import duckdb

    problems: list[str] = []
    with duckdb.connect(str(db), read_only=True) as con:
        tables = _tables(con)
        if not {"claim_lines", "quarantine", "ingest_log"} <= tables:
            return [] if not tables & {"claim_lines", "quarantine", "ingest_log"} else ["ingest tables half created"]
        checks = {
            "a file's rows_read differ from loaded + quarantined": "select count(*) from ingest_log where rows_read <> rows_loaded + rows_quarantined",
            "a loaded file's claim_lines differ from its rows_loaded": "select count(*) from ingest_log l where status = 'loaded' and rows_loaded <> "
            "(select count(*) from claim_lines c where c.source_file = l.source_file)",
            "a loaded file's quarantine differs from its rows_quarantined": "select count(*) from ingest_log l where status = 'loaded' and rows_quarantined <> "
            "(select count(*) from quarantine q where q.source_file = l.source_file)",
            "claim_lines rows of a file not logged as loaded": "select count(*) from claim_lines c where not exists (select 1 from ingest_log l "
            "where l.source_file = c.source_file and l.status = 'loaded')",
            "quarantine rows of a file not logged as loaded": "select count(*) from quarantine q where not exists (select 1 from ingest_log l "
            "where l.source_file = q.source_file and l.status = 'loaded')",
            "a line key loaded twice": "select count(*) from (select 1 from claim_lines group by claim_id, line_number having count(*) > 1)",
            "a file logged twice": "select count(*) from (select 1 from ingest_log group by source_file, sha256 having count(*) > 1)",
        }
        if "line_units" in tables and "rules_state" in tables:
            checks["a line covered by the rules watermark without exactly one line_units row"] = (
                "select count(*) from claim_lines c where c.ingested_at <= (select computed_through from rules_state where id = 1) "
                "and (select count(*) from line_units u where u.claim_id = c.claim_id and u.line_number = c.line_number) <> 1"
            )
            checks["a line_units row without its claim line"] = (
                "select count(*) from line_units u where not exists (select 1 from claim_lines c "
                "where c.claim_id = u.claim_id and c.line_number = u.line_number)"
            )
            checks["line_units rows beyond the rules watermark"] = (
                "select count(*) from line_units u join claim_lines c using (claim_id, line_number) "
                "where c.ingested_at > (select computed_through from rules_state where id = 1)"
            )
        if {"provider_scores", "provider_metrics"} <= tables:
            checks["provider_scores and provider_metrics from different reviews"] = (
                "select count(*) from ((select distinct period, rendering_npi from provider_scores) "
                "except (select distinct period, rendering_npi from provider_metrics)) "
                "union all select count(*) from ((select distinct period, rendering_npi from provider_metrics) "
                "except (select distinct period, rendering_npi from provider_scores))"
            )
        for problem, sql in checks.items():
            bad = sum(r[0] for r in con.execute(sql).fetchall())
            if bad:
                problems.append(f"{problem} ({bad})")
    return problems


def base_intact(db: Path, base_log: list[tuple]) -> list[str]:
    """Every file of the last complete review is still logged with its counts, and its rows are there."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        log = set(
            con.execute(
                "select source_file, sha256, status, rows_read, rows_loaded, rows_quarantined from ingest_log"
            ).fetchall()
        )
        rows = dict(con.execute("select source_file, count(*) from claim_lines group by 1").fetchall())
    missing = [r[0] for r in base_log if tuple(r) not in log]
    short = [r[0] for r in base_log if r[2] == "loaded" and rows.get(r[0], 0) != r[4]]
    return [f"base file lost from ingest_log: {f}" for f in missing] + [
        f"base file's lines changed: {f}" for f in short
    ]


def snapshot_problems(snapshot: Path) -> list[str]:
    """The published snapshot opens, agrees with its snapshot_info and is itself consistent."""
    import duckdb

    if not snapshot.exists():
        return ["no snapshot"]
    try:
        with duckdb.connect(str(snapshot), read_only=True) as con:
            info = dict(con.execute("select table_name, row_count from snapshot_info").fetchall())
            actual = {t: con.execute(f'select count(*) from "{t}"').fetchall()[0][0] for t in info if t != "(none)"}
    except Exception as exc:
        return [f"snapshot does not open: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"]
    problems = [f"snapshot {t}: info says {info[t]}, holds {n}" for t, n in actual.items() if info[t] != n]
    return problems + [f"snapshot: {p}" for p in consistency_problems(snapshot)]


def committed(db: Path, snapshot: Path, report: Path, base: dict) -> dict[str, str]:
    """Which stages of the killed review reached the warehouse: 'new' or 'old' (base) per stage."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        tables = _tables(con)
        files = _scalar(con, "select count(*) from ingest_log", 0)
        watermark = (
            _scalar(con, "select computed_through from rules_state where id = 1") if "rules_state" in tables else None
        )
        scores = (
            str(_scalar(con, "select sum(hash(period, rendering_npi, risk_rank, findings)) from provider_scores"))
            if "provider_scores" in tables
            else None
        )
        runs = _scalar(con, "select count(*) from review_runs", 0) if "review_runs" in tables else 0
    taken_at = None
    if snapshot.exists():
        with duckdb.connect(str(snapshot), read_only=True) as con:
            taken_at = str(_scalar(con, "select max(taken_at) from snapshot_info"))
    return {
        "ingest": f"{files - base['files']}/{base['new_files']}",
        "rules": "new" if watermark != base["watermark"] else "old",
        "scores": "new" if scores != base["scores"] else "old",
        "history": "new" if runs != base["runs"] else "old",
        "publish": "new" if taken_at != base["snapshot"] else "old",
        "report": "new" if report.exists() and report.stat().st_mtime_ns != base["report_mtime"] else "old",
    }


def prefix_problems(done: dict[str, str]) -> list[str]:
    """Stages commit in order: a stage is never new while an earlier one is not complete (with new
    months in every trial, each stage of a completed review changes what it writes)."""
    ingest_done, ingest_total = (int(x) for x in done["ingest"].split("/"))
    complete = [ingest_done == ingest_total] + [done[s] == "new" for s in STAGE_ORDER[1:]]
    for i, stage in enumerate(STAGE_ORDER[1:], start=1):
        if complete[i] and not all(complete[:i]):
            return [f"{stage} committed while an earlier stage had not: {done}"]
    return []


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and ".tmp" in p.name)


# ---- runs -------------------------------------------------------------------------------------------


def copy_state(source: Path, target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)


def start_child(
    input_path: Path, warehouse: Path, markers: Path, kill_at_insert: str | None = None
) -> subprocess.Popen:
    extra = ["--kill-at-insert", kill_at_insert] if kill_at_insert else []
    return subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "child",
            str(markers),
            *extra,
            "--",
            "review",
            "--input",
            str(input_path),
            "--warehouse",
            str(warehouse),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        cwd=str(ROOT),
    )


def run_review(input_path: Path, warehouse: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*unitreview_command(), "review", "--input", str(input_path), "--warehouse", str(warehouse)],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
    )


def kill(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):  # it may have ended on its own
        os.killpg(process.pid, signal.SIGKILL)  # the review's own process group (start_new_session)
    process.wait()


def wait_for(
    markers: Path, step_stage: str, process: subprocess.Popen, advances: int = 0, timeout: float = 600
) -> float | None:
    """Block until the first step of ``step_stage`` starts (and, with ``advances``, until it reported
    that many units done, e.g. files committed); the marker's time, or None if that never happens."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        marks = read_markers(markers)
        starts = [t for t, kind, step in marks if kind == "STEP_START" and stage_of(step) == step_stage]
        done = [t for t, kind, step in marks if kind == "ADVANCE" and step == step_stage]
        if starts and len(done) >= advances:
            return done[advances - 1] if advances else starts[0]
        if process.poll() is not None:
            return None
        time.sleep(0.005)
    return None


@dataclass
class Reference:
    counts: dict
    stage_start: dict[str, float]
    stage_seconds: dict[str, float]
    total_seconds: float
    job_seconds: float
    base_log: list
    base: dict = field(default_factory=dict)


def prepare(work: Path, lines: int, seed: int) -> tuple[Path, Path, Path, Reference]:
    """Inputs, the base warehouse (a complete review of two months) and the reference run."""
    base_input, full_input = make_inputs(work, lines, seed)
    base_dir = work / "base"
    shutil.rmtree(base_dir, ignore_errors=True)
    base_dir.mkdir()
    done = run_review(base_input, base_dir / "w.duckdb")
    if done.returncode != 0:
        raise SystemExit(f"the base review failed: {done.stderr[-500:]}")
    import duckdb

    with duckdb.connect(str(base_dir / "w.duckdb"), read_only=True) as con:
        base_log = [
            list(r)
            for r in con.execute(
                "select source_file, sha256, status, rows_read, rows_loaded, rows_quarantined from ingest_log order by 1"
            ).fetchall()
        ]
        base = {
            "files": len(base_log),
            "new_files": len(list(full_input.iterdir())) - len(base_log),
            "watermark": _scalar(con, "select computed_through from rules_state where id = 1"),
            "scores": str(
                _scalar(con, "select sum(hash(period, rendering_npi, risk_rank, findings)) from provider_scores")
            ),
            "runs": _scalar(con, "select count(*) from review_runs", 0),
        }
    with duckdb.connect(str(base_dir / "w.snapshot.duckdb"), read_only=True) as con:
        base["snapshot"] = str(_scalar(con, "select max(taken_at) from snapshot_info"))
    base["report_mtime"] = (base_dir / "w_report.html").stat().st_mtime_ns

    ref_dir = work / "reference"
    copy_state(base_dir, ref_dir)
    markers = ref_dir / "markers.txt"
    started = time.monotonic()
    process = start_child(full_input, ref_dir / "w.duckdb", markers)
    _, stderr = process.communicate()
    total = time.monotonic() - started
    if process.returncode != 0:
        raise SystemExit(f"the reference review failed: {stderr.decode()[-500:]}")
    marks = read_markers(markers)
    stage_start: dict[str, float] = {}
    stage_end: dict[str, float] = {}
    for t, kind, step in marks:
        stage = stage_of(step)
        if kind == "STEP_START":
            stage_start.setdefault(stage, t)
        if kind == "STEP_SUCCESS":
            stage_end[stage] = t
    seconds = {s: max(0.05, stage_end.get(s, stage_start[s]) - stage_start[s]) for s in stage_start}
    job = max(stage_end.values()) - stage_start["ingest"]
    return (
        base_dir,
        full_input,
        ref_dir,
        Reference(state(ref_dir / "w.duckdb"), stage_start, seconds, total, job, base_log, base),
    )


@dataclass
class Trial:
    trial: int
    mode: str
    delay: float = 0.0
    stage_hit: str = ""
    committed: str = ""
    counts_compared: int = 0
    mismatches: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    litter: list = field(default_factory=list)
    rerun_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.mismatches and not self.problems


def run_trial(
    i: int, mode: str, rng: random.Random, work: Path, base_dir: Path, full_input: Path, ref: Reference
) -> Trial:
    trial = Trial(i, mode)
    folder = work / f"trial_{i:02d}"
    copy_state(base_dir, folder)
    warehouse, snapshot, report = folder / "w.duckdb", folder / "w.snapshot.duckdb", folder / "w_report.html"
    markers = folder / "markers.txt"
    started = time.monotonic()
    at_insert = mode.split(":", 1)[1] if mode.startswith("insert:") else None
    process = start_child(full_input, warehouse, markers, kill_at_insert=at_insert)
    if at_insert:  # the review kills itself inside the transaction that writes that table
        process.wait()
        if not any(kind == "KILLED_AT_INSERT" for _, kind, _ in read_markers(markers)):
            trial.problems.append(f"the review never inserted into {at_insert}")
    elif mode == "uniform":  # anywhere in the job (after the imports, which commit nothing)
        if wait_for(markers, "ingest", process) is not None:
            time.sleep(rng.uniform(0, ref.job_seconds))
    else:
        if wait_for(markers, mode, process) is not None:
            time.sleep(rng.uniform(0, ref.stage_seconds.get(mode, 0.5)))
    kill(process)
    trial.delay = round(time.monotonic() - started, 2)
    trial.stage_hit = stage_hit(read_markers(markers))

    # 1-4: after the kill
    try:
        trial.problems += consistency_problems(warehouse)
        trial.problems += base_intact(warehouse, ref.base_log)
        done = committed(warehouse, snapshot, report, ref.base)
        trial.committed = " ".join(f"{k}:{v}" for k, v in done.items())
        trial.problems += prefix_problems(done)
    except Exception as exc:
        trial.problems.append(
            f"after the kill the warehouse does not open: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
        )
    trial.problems += snapshot_problems(snapshot)

    # the rerun completes with the reference's counts
    t0 = time.monotonic()
    rerun = run_review(full_input, warehouse)
    trial.rerun_seconds = round(time.monotonic() - t0, 1)
    if rerun.returncode != 0:
        trial.problems.append(f"rerun exit {rerun.returncode}: {rerun.stderr.strip()[-200:]}")
        return trial
    if "Traceback" in rerun.stderr:
        trial.problems.append("rerun printed a traceback")
    after = state(warehouse)
    keys = sorted(set(after) | set(ref.counts))
    trial.counts_compared = len(keys)
    trial.mismatches = [
        f"{k}: {after.get(k)} != {ref.counts.get(k)}" for k in keys if after.get(k) != ref.counts.get(k)
    ]
    trial.problems += consistency_problems(warehouse)
    trial.problems += snapshot_problems(snapshot)
    snap = state(snapshot)
    trial.problems += [
        f"snapshot {k}: {snap.get(k)} != warehouse {after.get(k)}" for k in after if snap.get(k) != after.get(k)
    ]
    trial.litter = leftovers(folder)
    return trial


def plan(trials: int, rng: random.Random) -> list[str]:
    """A third at uniformly random moments, the rest a random moment into each stage in turn."""
    targeted = ["ingest", "rules", "publish", "scores", "history", "publish", "ingest", "rules"]
    modes = []
    for i in range(trials):
        modes.append("uniform" if i % 3 == 2 else targeted[(i - i // 3) % len(targeted)])
    return modes


def print_table(results: list[Trial]) -> None:
    header = f"{'trial':>5}  {'mode':<26} {'delay s':>7}  {'stage hit':<13} {'committed':<66} {'compared':>8}  ok"
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.trial:>5}  {r.mode:<26} {r.delay:>7.2f}  {r.stage_hit:<13} {r.committed:<66} {r.counts_compared:>8}  {'yes' if r.ok else 'NO'}"
        )
        for line in r.problems + r.mismatches:
            print(f"{'':>7}! {line}")
    hits: dict[str, int] = {}
    for r in results:
        hits[r.stage_hit] = hits.get(r.stage_hit, 0) + 1
    print()
    print(
        f"{sum(r.ok for r in results)}/{len(results)} trials ok; stages hit: "
        + ", ".join(f"{k} {v}" for k, v in sorted(hits.items()))
    )
    litter = sorted({name for r in results for name in r.litter})
    if litter:
        print(
            f"temporary files left behind by killed publishes (never read; see docs/reliability.md): {len(litter)}, e.g. {litter[0]}"
        )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "child":
        markers, options, rest = argv[1], argv[2 : argv.index("--")], argv[argv.index("--") + 1 :]
        at = options[options.index("--kill-at-insert") + 1] if "--kill-at-insert" in options else None
        child(Path(markers), rest, at)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=120_000)
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, default=None, help="work folder (default: a new temporary one)")
    parser.add_argument(
        "--insert-kills",
        default="claim_lines:2,quarantine:1,ingest_log:3,line_units__staged:1,findings__staged:1,provider_metrics:1",
        help="after the random trials, deterministic ones: kill as TABLE is written for the Nth time ('' for none)",
    )
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="kill_harness-"))
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    print(f"work folder: {work}")
    base_dir, full_input, _, ref = prepare(work, args.lines, args.seed)
    print(
        f"reference review: {ref.total_seconds:.1f} s; stages start at "
        + ", ".join(
            f"{s} {ref.stage_start[s]:.1f} s (+{ref.stage_seconds[s]:.2f})" for s in STAGE_ORDER if s in ref.stage_start
        )
    )
    print(
        f"reference counts: claim_lines {ref.counts['claim_lines']}, quarantine {ref.counts['quarantine']}, "
        f"ingest_log {ref.counts['ingest_log']}, line_units {ref.counts['line_units']}, findings {ref.counts['findings']}"
    )
    results = []
    modes = plan(args.trials, rng) + [f"insert:{k}" for k in args.insert_kills.split(",") if k]
    for i, mode in enumerate(modes, start=1):
        result = run_trial(i, mode, rng, work, base_dir, full_input, ref)
        results.append(result)
        print(
            f"  trial {i:>2} {mode:<26} killed at {result.delay:6.2f} s in {result.stage_hit:<13} rerun {result.rerun_seconds:5.1f} s  {'ok' if result.ok else 'FAILED'}",
            flush=True,
        )
        if result.ok:
            shutil.rmtree(work / f"trial_{i:02d}", ignore_errors=True)
    print()
    print_table(results)
    (work / "results.json").write_text(
        json.dumps(
            {"lines": args.lines, "reference": asdict(ref), "trials": [{**asdict(r), "ok": r.ok} for r in results]},
            indent=2,
            default=str,
        )
    )
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
