"""Concurrent reviews of one warehouse: one writes, the other stops with a clear message (or waits
with --wait), never corruption; the dashboard keeps serving its snapshot meanwhile; DuckDB's own lock
error (another program holding the warehouse) is one sentence, never a traceback."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from pipelines.cli.commands import app
from pipelines.cli.lock import WarehouseBusy, lock_path, review_lock
from tests import kill_harness as kh
from tests.reviews import review, reviewed

pytestmark = pytest.mark.slow

UNITREVIEW = [str(Path(sys.executable).with_name("unitreview"))]


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> Path:
    """Big enough that a review takes several seconds, so that two of them overlap."""
    from pipelines.generate import generate_extract

    folder = tmp_path_factory.mktemp("extract")
    generate_extract(folder, 30_000, 4, start_month="2026-01", months=3, fmt="csv")
    return folder


@pytest.fixture(scope="module")
def single(extract, tmp_path_factory) -> dict:
    """The state after one uninterrupted review: what concurrent reviews must end with."""
    return kh.state(reviewed(extract, tmp_path_factory.mktemp("single") / "w.duckdb"))


def start(extract: Path, warehouse: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*UNITREVIEW, "review", "--input", str(extract), "--warehouse", str(warehouse), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_reviews_at_once_one_writes_the_other_stops_with_a_clear_message(extract, single, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    first, second = start(extract, warehouse), start(extract, warehouse)
    outcomes = {p.pid: (p.wait(timeout=300), *p.communicate()) for p in (first, second)}
    codes = sorted(code for code, _, _ in outcomes.values())
    assert codes == [0, 3], outcomes
    (winner,) = [pid for pid, (code, _, _) in outcomes.items() if code == 0]
    (_, out, err) = next(v for v in outcomes.values() if v[0] == 3)
    assert f"another review is writing {warehouse} (pid {winner}); try again when it finishes" in err
    assert "Traceback" not in err + out and len(err.strip().splitlines()) == 1
    assert kh.state(warehouse) == single
    assert kh.consistency_problems(warehouse) == []


def test_a_review_that_asks_while_the_holder_is_still_writing_its_pid_names_that_pid(tmp_path):
    """The holder takes the lock, then writes its pid: a review asking in between must not say "pid ?"."""
    import fcntl
    import os

    warehouse = tmp_path / "w.duckdb"
    fd = os.open(lock_path(warehouse), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    late_pid = threading.Timer(0.3, lambda: os.pwrite(fd, b"4242\n", 0))
    late_pid.start()
    try:
        with pytest.raises(WarehouseBusy) as busy, review_lock(warehouse, wait=0):
            pass
        assert busy.value.pid == "4242"
    finally:
        late_pid.join()
        os.close(fd)


def test_a_review_with_wait_queues_behind_the_other_while_the_dashboard_keeps_serving(extract, single, tmp_path):
    from dashboards.app import create_app
    from dashboards.background import running

    # a published snapshot to serve, from an earlier review of one month
    warehouse = tmp_path / "w.duckdb"
    first_month = tmp_path / "first"
    first_month.mkdir()
    shutil.copy(sorted(extract.glob("*.csv"))[0], first_month)
    reviewed(first_month, warehouse)
    snapshot = warehouse.with_name("w.snapshot.duckdb")
    with duckdb.connect(str(snapshot), read_only=True) as con:
        npi = con.execute("select rendering_npi from findings group by 1 order by count(*) desc limit 1").fetchall()[0][
            0
        ]

    fetched: list[tuple[int, int]] = []
    stop = threading.Event()

    def keep_fetching(base: str) -> None:
        while not stop.is_set():
            for path in ("/", f"/export/providers/{npi}/findings.csv"):
                try:
                    with urllib.request.urlopen(base + path, timeout=30) as response:
                        fetched.append((response.status, len(response.read())))
                except Exception as exc:
                    fetched.append((getattr(exc, "code", 599), 0))
            time.sleep(0.05)

    with running(create_app(snapshot, None, secret_key="concurrency")) as base:
        fetcher = threading.Thread(target=keep_fetching, args=(base,), daemon=True)
        fetcher.start()
        first = start(extract, warehouse)
        while not lock_path(warehouse).exists() or not lock_path(warehouse).read_text().strip():
            time.sleep(0.05)
        second = start(extract, warehouse, "--wait", "300")
        results = [(p.wait(timeout=600), *p.communicate()) for p in (first, second)]
        during = len(fetched)
        time.sleep(0.3)
        stop.set()
        fetcher.join(timeout=60)

    assert [code for code, _, _ in results] == [0, 0], results
    assert f"waiting up to 300 s for another review of {warehouse} (pid {first.pid})" in results[1][2]
    assert "already ingested" in results[1][1]  # the second review found the first one's work done
    # the same data as one review (review history differs: this warehouse saw a one-month review first)
    history = ("finding_history", "review_runs")
    assert {k: v for k, v in kh.state(warehouse).items() if k not in history} == {
        k: v for k, v in single.items() if k not in history
    }
    assert kh.consistency_problems(warehouse) == [] and kh.snapshot_problems(snapshot) == []
    assert during >= 4, "the dashboard was not asked for pages while the reviews ran"
    assert all(status == 200 for status, _ in fetched), fetched
    assert all(size > 0 for _, size in fetched)


def test_another_program_holding_the_warehouse_is_one_sentence(extract, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    duckdb.connect(str(warehouse)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys, time; c = duckdb.connect({str(warehouse)!r}); print('open', flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        result = subprocess.run(
            [*UNITREVIEW, "review", "--input", str(extract), "--warehouse", str(warehouse)],
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 2
    assert f"the warehouse {warehouse} is open in another program (pid {holder.pid})" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout and "IOException" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_lock_lost_in_the_middle_of_a_run_is_one_sentence(extract, tmp_path, monkeypatch):
    # another program opens the warehouse after the review's own check: the first step that needs the
    # warehouse meets DuckDB's lock error, which the command turns into the same sentence. (Dagster's
    # DuckDBResource retries a lock error for about 100 s first; here it gives up at once.)
    import dagster_duckdb.resource

    import pipelines.cli.commands as cli

    def no_retry(fn, retry_on, args=None, kwargs=None, max_retries=0, delay_generator=None):
        return fn(*(args or ()), **(kwargs or {}))

    monkeypatch.setattr(dagster_duckdb.resource, "backoff", no_retry)

    warehouse = tmp_path / "w.duckdb"
    duckdb.connect(str(warehouse)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(warehouse)!r}); print('open', flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    monkeypatch.setattr(cli, "_check_warehouse_opens", lambda warehouse: None)
    try:
        assert holder.stdout.readline().strip() == "open"
        result = review(extract, warehouse)
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1
    assert re.search(
        rf"review could not complete: the warehouse {re.escape(str(warehouse))} is open in another program \(pid {holder.pid}\)",
        result.output,
    )
    assert "Traceback" not in result.output and "Stack Trace" not in result.output


def test_evaluating_a_warehouse_a_review_is_writing_is_one_sentence(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    duckdb.connect(str(warehouse)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(warehouse)!r}); print('open', flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        result = CliRunner().invoke(
            app, ["evaluate", "--warehouse", str(warehouse), "--key", str(tmp_path / "key.ndjson")]
        )
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 2
    assert f"the warehouse {warehouse} is open in another program (pid {holder.pid})" in result.output
    assert "Traceback" not in result.output
