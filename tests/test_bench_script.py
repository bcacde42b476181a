"""`make bench` (benchmarks/run.py): the incremental case's landing folder reads the extract's files
whichever way the data folder is named (`--data bench_data` is relative to the working directory,
the landing folder's links live two folders below it); the [rules] change reads the 12 months only."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import run


@pytest.mark.parametrize("relative", [True, False], ids=["relative data folder", "absolute data folder"])
def test_the_incremental_landing_folder_reads_every_month(tmp_path, monkeypatch, relative):
    monkeypatch.chdir(tmp_path)
    data = Path("bench_data") if relative else tmp_path / "bench_data"
    extract = data / "extract_13_13m"
    extract.mkdir(parents=True)
    for month in range(1, 14):
        (extract / f"claims_2025_{month:02d}.csv").write_text(f"month {month}\n")
    work = data / "work_12"
    work.mkdir()
    landings: list[list[str]] = []

    configs: list[str | None] = []

    def measure(command: list[str], label: str) -> dict:
        landing = Path(command[command.index("--input") + 1])
        landings.append(sorted(p.read_text() for p in landing.iterdir()))  # follows each link
        Path(command[command.index("--warehouse") + 1]).touch()  # the warehouse a review leaves
        configs.append(Path(command[command.index("--config") + 1]).read_text() if "--config" in command else None)
        return {"case": label, "wall_s": 1.0}

    monkeypatch.setattr(run, "measure", measure)

    run.incremental(extract, work, runs=1)

    months = [f"month {m}\n" for m in range(1, 14)]
    twelve, changed, added, rebuild = landings
    assert twelve == sorted(months[:12])
    assert changed == sorted(months[:12])  # the [rules] change: no new lines
    assert added == sorted(months)
    assert rebuild == sorted(months)
    assert configs == [None, "[rules]\nimpossible_day_minutes = 721\n", None, None]
