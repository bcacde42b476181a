"""The console script ends its process without Python's interpreter teardown (``pipelines.cli.commands.main``,
about 1 s after a 10M-line review): what a user, a pipe or a scheduler reads of a review must be whole
all the same, its exit status kept, and nothing left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.extracts import row, rows, write_csv

pytestmark = pytest.mark.slow  # the unitreview command in a subprocess

UNITREVIEW = [str(Path(sys.executable).with_name("unitreview"))]


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("in")
    write_csv(folder / "a.csv", [*rows(40), row(claim_id="A-bad", units_billed="x")])
    return folder


def console(*args: str, tmpdir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*UNITREVIEW, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TMPDIR": str(tmpdir), "COLUMNS": "1000"},
    )


def test_a_piped_review_prints_its_whole_summary_exits_0_and_leaves_no_temporary_files(extract, tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    warehouse = tmp_path / "w.duckdb"
    result = console("review", "--input", str(extract), "--warehouse", str(warehouse), tmpdir=tmpdir)
    assert result.returncode == 0, result.stderr
    assert "rows: 41 read = 40 loaded + 1 quarantined" in result.stdout
    # the last line printed reaches the pipe: the output was flushed before the process ended
    assert result.stdout.splitlines()[-1] == f"report: {tmp_path / 'w_report.html'}"
    # Dagster's ephemeral instance removed its temporary folder (disposed, not left to the teardown)
    assert list(tmpdir.iterdir()) == []


def test_a_review_that_cannot_start_keeps_its_exit_status_and_its_sentence(tmp_path):
    result = console(
        "review", "--input", str(tmp_path / "missing"), "--warehouse", str(tmp_path / "w.duckdb"), tmpdir=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"unitreview: input path {tmp_path / 'missing'} does not exist"
