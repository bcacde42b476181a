"""Running a review from a test: ``review(input, warehouse, *options)`` is ``unitreview review`` in this
process (the ``run_review`` fixture of tests/conftest.py hands it to a test)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner, Result

from pipelines.cli.commands import app

SAMPLES = Path(__file__).resolve().parent.parent / "data_samples"


def review(input_path: Path, warehouse: Path, *options: str) -> Result:
    """``unitreview review --input input_path --warehouse warehouse *options``; the result's exit_code
    and output are the command's."""
    return CliRunner().invoke(app, ["review", "--input", str(input_path), "--warehouse", str(warehouse), *options])


def reviewed(input_path: Path, warehouse: Path, *options: str) -> Path:
    """``warehouse`` after a review of ``input_path`` that must succeed."""
    result = review(input_path, warehouse, *options)
    assert result.exit_code == 0, result.output
    return Path(warehouse)
