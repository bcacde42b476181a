"""Operational errors: one clear sentence on stderr and a non-zero exit, never a traceback; and after
the cause is fixed, the review completes as if nothing had happened.

Simulated here: a warehouse path that is a folder; a folder that cannot be written (chmod when not
root; a read-only tmpfs mount as root, skipped when mounting is not allowed); a full disk (a tiny
tmpfs as root, skipped when mounting is not allowed) and a file size limit (RLIMIT_FSIZE: works for
everyone, DuckDB then fails with "File too large"); a warehouse file that is not a DuckDB database
(random bytes, text, a real warehouse cut short); configuration files that cannot be used; an
unexpected error inside a stage.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests import kill_harness as kh
from tests.extracts import row, rows, write_csv
from tests.reviews import review, reviewed

pytestmark = pytest.mark.slow  # reviews, in this process and as a command

UNITREVIEW = [str(Path(sys.executable).with_name("unitreview"))]


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("in")
    write_csv(folder / "a.csv", rows(40))
    write_csv(
        folder / "b.csv",
        [row(claim_id=f"B-{i}", service_date="2026-09-0" + str(1 + i % 9)) for i in range(60)]
        + [row(claim_id="B-bad", units_billed="x")],
    )
    return folder


@pytest.fixture(scope="module")
def clean(extract, tmp_path_factory) -> dict:
    return kh.state(reviewed(extract, tmp_path_factory.mktemp("clean") / "w.duckdb"))


def review_subprocess(extract: Path, warehouse: Path, preexec=None, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*UNITREVIEW, "review", "--input", str(extract), "--warehouse", str(warehouse), *extra],
        capture_output=True,
        text=True,
        preexec_fn=preexec,
        timeout=300,
    )


def one_sentence(stderr: str) -> str:
    """The whole of stderr: one line, no traceback."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "Stack Trace" not in stderr and "Error:" not in lines[0].split(":", 1)[0]
    assert lines[0].startswith("unitreview: ")
    return lines[0]


def can_mount() -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    with tempfile.TemporaryDirectory(prefix="unitreview-mount-probe-") as probe:  # at import: no tmp_path yet
        ok = (
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", probe], capture_output=True).returncode
            == 0
        )
        if ok:
            subprocess.run(["umount", probe], check=True)
        return ok


MOUNT = can_mount()


@contextlib.contextmanager
def tmpfs(path: Path, options: str):
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


# ---- the warehouse path ------------------------------------------------------------------------


def test_a_warehouse_path_that_is_a_folder(extract, tmp_path):
    folder = tmp_path / "w.duckdb"
    folder.mkdir()
    result = review_subprocess(extract, folder)
    assert result.returncode == 2
    line = one_sentence(result.stderr)
    assert f"the warehouse path {folder} is a folder" in line


def test_a_folder_that_cannot_be_written(extract, tmp_path):
    if os.geteuid() == 0:
        if not MOUNT:
            pytest.skip("as root, a read-only folder needs a read-only mount, and mounting is not allowed here")
        context = tmpfs(tmp_path / "ro", "ro,size=1m")
    else:
        (tmp_path / "ro").mkdir()
        os.chmod(tmp_path / "ro", 0o555)
        context = contextlib.nullcontext(tmp_path / "ro")
    with context as folder:
        result = review_subprocess(extract, folder / "w.duckdb")
    assert result.returncode == 2
    assert f"the warehouse {folder / 'w.duckdb'} cannot be written (read-only or permission denied)" in one_sentence(
        result.stderr
    )


@pytest.mark.parametrize("content", ["random", "text", "cut short"])
def test_a_warehouse_file_that_is_not_a_duckdb_database_is_refused_and_left_alone(extract, clean, tmp_path, content):
    warehouse = tmp_path / "w.duckdb"
    if content == "random":
        warehouse.write_bytes(os.urandom(300_000))
    elif content == "text":
        warehouse.write_text("claim_id,line_number\nC-1,1\n")
    else:
        good = tmp_path / "good.duckdb"
        reviewed(extract, good)
        warehouse.write_bytes(good.read_bytes()[:5000])
    before = warehouse.read_bytes()
    result = review_subprocess(extract, warehouse)
    assert result.returncode == 2
    assert f"{warehouse} is not a usable DuckDB warehouse" in one_sentence(result.stderr)
    assert warehouse.read_bytes() == before, "a damaged warehouse must not be overwritten"


# ---- a full disk -------------------------------------------------------------------------------


def test_a_file_size_limit_stops_the_review_with_a_sentence_and_the_rerun_completes(extract, clean, tmp_path):
    warehouse = tmp_path / "w.duckdb"

    def limit():  # Python ignores SIGXFSZ: a write past the limit fails with EFBIG ("File too large")
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))

    result = review_subprocess(extract, warehouse, limit)
    assert result.returncode == 1
    assert "cannot grow any larger on this system (file too large)" in one_sentence(result.stderr)
    assert kh.consistency_problems(warehouse) == []
    again = review_subprocess(extract, warehouse)
    assert again.returncode == 0, again.stderr
    assert kh.state(warehouse) == clean


@pytest.mark.skipif(not MOUNT, reason="a full disk is simulated with a tiny tmpfs, which needs root and mount")
@pytest.mark.parametrize("size", ["700k", "3m"])  # full while ingesting; full while publishing
def test_a_full_disk_stops_the_review_with_a_sentence_and_the_rerun_completes(extract, clean, tmp_path, size):
    with tmpfs(tmp_path / "disk", f"size={size}") as disk:
        warehouse = disk / "w.duckdb"
        result = review_subprocess(extract, warehouse)
        assert result.returncode == 1, result.stdout
        assert f"the disk holding {warehouse} is full" in one_sentence(result.stderr)
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)  # space freed
        assert kh.consistency_problems(warehouse) == []
        again = review_subprocess(extract, warehouse)
        assert again.returncode == 0, again.stderr
        assert kh.state(warehouse) == clean
        assert kh.snapshot_problems(disk / "w.snapshot.duckdb") == []


# ---- configuration and input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "said"),
    [
        ("[rules]\nimpossible_day_minute = 600\n", "rules.impossible_day_minute"),
        ('[rules]\nimpossible_day_minutes = "twelve hours"\n', "rules.impossible_day_minutes"),
        ("[rules\n", "is not valid TOML"),
        (b"\xff\xfe[rules]", "cannot be read (not UTF-8 text)"),
        (None, "cannot be read (Is a directory)"),
    ],
    ids=["unknown key", "wrong type", "not TOML", "not UTF-8", "a folder"],
)
def test_an_unusable_configuration_is_one_sentence(extract, tmp_path, config, said):
    path = tmp_path / "config.toml"
    if config is None:
        path.mkdir()
    elif isinstance(config, bytes):
        path.write_bytes(config)
    else:
        path.write_text(config)
    result = review_subprocess(extract, tmp_path / "w.duckdb", None, "--config", str(path))
    assert result.returncode == 2
    assert said in one_sentence(result.stderr)


def test_an_input_path_that_does_not_exist_is_one_sentence(tmp_path):
    result = review_subprocess(tmp_path / "nowhere", tmp_path / "w.duckdb")
    assert result.returncode == 2
    assert f"input path {tmp_path / 'nowhere'} does not exist" in one_sentence(result.stderr)


# ---- an unexpected error ----------------------------------------------------------------------------


def test_an_unexpected_error_in_a_stage_is_one_sentence_without_its_literals(extract, tmp_path, monkeypatch):
    import pipelines.assets.scores as scores

    def broken(*args, **kwargs):
        raise ValueError("could not convert 'PHI-ZEBRA-000123' to a number in [PHI-ZEBRA-000124]")

    monkeypatch.setattr(scores, "scores_of_pieces", broken)
    result = review(extract, tmp_path / "w.duckdb")
    assert result.exit_code == 1
    assert "review could not complete: review_scores: ValueError: could not convert … to a number in …" in result.output
    assert "UNITREVIEW_DEBUG=1" in result.output  # how to see the whole error
    assert "PHI-ZEBRA" not in result.output and "Traceback" not in result.output and "Stack Trace" not in result.output
