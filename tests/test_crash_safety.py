"""Crash safety: a review killed with SIGKILL in the middle of a stage leaves a warehouse that opens,
is consistent, still holds the last complete review, and a rerun ends exactly where an uninterrupted
review ends (nothing lost, nothing doubled).

A reduced version of ``tests/kill_harness.py`` (which runs 20+ trials on ~120k lines): one
small extract, one kill inside each of ingestion (after the first file committed), rules, scores and
publishing. The killed review is the ``unitreview review`` command in a subprocess, with a progress
marker written as Dagster starts each step; the reruns run in this process.
"""

from __future__ import annotations

import shutil
import time

import pytest

from tests import kill_harness as kh
from tests.reviews import reviewed

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Inputs, the base warehouse (a complete review of the first two months) and the reference
    (the base reviewed again, uninterrupted, with every file)."""
    import duckdb

    work = tmp_path_factory.mktemp("crash")
    base_input, full_input = kh.make_inputs(work, lines=9000, seed=5, months=4)
    base = work / "base"
    base.mkdir()
    reviewed(base_input, base / "w.duckdb")
    with duckdb.connect(str(base / "w.duckdb"), read_only=True) as con:
        base_log = [
            list(r)
            for r in con.execute(
                "select source_file, sha256, status, rows_read, rows_loaded, rows_quarantined from ingest_log"
            ).fetchall()
        ]
        base_state = {
            "files": len(base_log),
            "new_files": len(list(full_input.iterdir())) - len(base_log),
            "watermark": kh._scalar(con, "select computed_through from rules_state where id = 1"),
            "scores": str(
                kh._scalar(con, "select sum(hash(period, rendering_npi, risk_rank, findings)) from provider_scores")
            ),
            "runs": kh._scalar(con, "select count(*) from review_runs", 0),
        }
    with duckdb.connect(str(base / "w.snapshot.duckdb"), read_only=True) as con:
        base_state["snapshot"] = str(kh._scalar(con, "select max(taken_at) from snapshot_info"))
    base_state["report_mtime"] = (base / "w_report.html").stat().st_mtime_ns
    reference = work / "reference"
    shutil.copytree(base, reference)
    reviewed(full_input, reference / "w.duckdb")
    return {
        "work": work,
        "base": base,
        "full": full_input,
        "base_log": base_log,
        "base_state": base_state,
        "reference": kh.state(reference / "w.duckdb"),
    }


# (stage to kill in, units done first: files for ingest (the base's two, already ingested, come
# first), months for rules (committed to staged tables only, not yet moved in); seconds into the stage;
# what must be committed by then)
TRIALS = [
    ("ingest", 3, 0.0, {"rules": "old", "publish": "old"}),
    ("rules", 1, 0.0, {"rules": "old", "scores": "old"}),
    ("scores", 0, 0.0, {"rules": "new", "scores": "old", "history": "old"}),
    ("publish", 0, 0.0, {"history": "new", "publish": "old", "report": "old"}),
]


@pytest.mark.parametrize(("stage", "files_first", "into", "expected"), TRIALS, ids=[t[0] for t in TRIALS])
def test_a_review_killed_in_a_stage_loses_nothing_and_doubles_nothing(
    world, tmp_path, stage, files_first, into, expected
):
    folder = tmp_path / "w"
    shutil.copytree(world["base"], folder)
    warehouse, snapshot, report = folder / "w.duckdb", folder / "w.snapshot.duckdb", folder / "w_report.html"
    markers = folder / "markers.txt"

    process = kh.start_child(world["full"], warehouse, markers)
    reached = kh.wait_for(markers, stage, process, advances=files_first, timeout=120)
    if into:
        time.sleep(into)
    kh.kill(process)
    assert reached is not None, f"the review never reached {stage}: {process.stderr.read().decode()[-500:]}"
    assert kh.stage_hit(kh.read_markers(markers)) == stage

    # after the kill: the warehouse opens, is consistent and still holds the last complete review
    assert kh.consistency_problems(warehouse) == []
    assert kh.base_intact(warehouse, world["base_log"]) == []
    done = kh.committed(warehouse, snapshot, report, world["base_state"])
    assert kh.prefix_problems(done) == []
    for what, state in expected.items():
        assert done[what] == state, done
    if stage == "rules":  # killed between two months: the months done are in staged tables only
        assert {"line_units__staged", "findings__staged"} <= kh.tables(warehouse)
    if stage == "ingest":
        committed_files, total = (int(x) for x in done["ingest"].split("/"))
        assert 1 <= committed_files < total, done
    assert kh.snapshot_problems(snapshot) == []

    # the rerun ends exactly where an uninterrupted review ends, and leaves no staged table behind
    reviewed(world["full"], warehouse)
    after = kh.state(warehouse)
    assert after == world["reference"]
    assert [t for t in kh.tables(warehouse) if t.endswith("__staged")] == []
    assert kh.consistency_problems(warehouse) == []
    assert kh.snapshot_problems(snapshot) == []
    assert dict(kh.state(snapshot).items()) == after


# Deterministic crashes between two writes that must commit together: the review kills itself as it
# is about to insert into TABLE for the Nth time (inside the transaction).
INSERT_KILLS = [
    # the second new file: its lines and quarantine rows are written, its ingest_log entry is not
    ("ingest_log:2", {"ingest": "1/5", "rules": "old"}),
    # provider_scores is written, provider_metrics (same transaction) is not
    ("provider_metrics:1", {"rules": "new", "scores": "old", "history": "old"}),
]


@pytest.mark.parametrize(("at", "expected"), INSERT_KILLS, ids=[k[0].split(":")[0] for k in INSERT_KILLS])
def test_a_crash_between_writes_of_one_transaction_keeps_neither(world, tmp_path, at, expected):
    folder = tmp_path / "w"
    shutil.copytree(world["base"], folder)
    warehouse, snapshot, report = folder / "w.duckdb", folder / "w.snapshot.duckdb", folder / "w_report.html"
    markers = folder / "markers.txt"
    process = kh.start_child(world["full"], warehouse, markers, kill_at_insert=at)
    process.wait(timeout=180)
    assert any(kind == "KILLED_AT_INSERT" for _, kind, _ in kh.read_markers(markers)), (
        "the review never reached that write"
    )

    assert kh.consistency_problems(warehouse) == []
    assert kh.base_intact(warehouse, world["base_log"]) == []
    done = kh.committed(warehouse, snapshot, report, world["base_state"])
    for what, state in expected.items():
        assert done[what] == state, done
    reviewed(world["full"], warehouse)
    assert kh.state(warehouse) == world["reference"]
