"""`make bench`: the review's cost against a plain DuckDB load of the same files.

For each size (default 1M and 10M lines) it generates the extract once under bench_data/ (reused
when present), then measures in separate processes, each with its own wall time, CPU time and peak
memory (RSS, from wait4):
- plain load: `create table ... as select * from read_csv(...)` of the same files into a new DuckDB file;
- review: `unitreview review` into a fresh warehouse (ingest, rules, scores, history, snapshot, report);
- incremental: 11 months reviewed, then the 12th month added and reviewed again.
It prints a table with lines per second and the ratio review / plain load, and writes it as JSON to
bench_data/results.json. Speed is measured here, never in the tests.

    python benchmarks/run.py [--sizes 1000000 10000000] [--data bench_data] [--no-incremental]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SEED = 20261127


def measure(command: list[str], label: str) -> dict:
    """Run a command; its wall time, CPU time (user + system) and peak RSS."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{label} failed:\n{stderr[-2000:]}")
    return {
        "case": label,
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
    }


def extract(data: Path, lines: int) -> Path:
    folder = data / f"extract_{lines}"
    marker = folder / "answer_key.ndjson"
    if not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
        result = measure(
            [str(BIN / "unitreview"), "generate", "--out", str(folder), "--lines", str(lines), "--seed", str(SEED)],
            f"generate {lines}",
        )
        print(f"generated {lines:,} lines in {result['wall_s']} s (peak {result['peak_rss_mb']} MB)", flush=True)
    return folder


PLAIN_LOAD = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("create table claim_lines as select * from read_csv($files, header = true)", {"files": sys.argv[2:]})
con.close()
"""


def plain_load(folder: Path, work: Path) -> dict:
    target = work / "plain.duckdb"
    target.unlink(missing_ok=True)
    files = sorted(str(p) for p in folder.glob("claims_*.csv"))
    return measure([sys.executable, "-c", PLAIN_LOAD, str(target), *files], "plain DuckDB load")


def review(folder: Path, warehouse: Path, label: str) -> dict:
    for stale in warehouse.parent.glob(warehouse.stem + "*"):
        stale.unlink()
    return measure(
        [str(BIN / "unitreview"), "review", "--input", str(folder), "--warehouse", str(warehouse)], label
    )


def incremental(folder: Path, work: Path) -> tuple[dict, dict]:
    """11 months reviewed; then the 12th added: its review against a full rebuild of all 12."""
    months = sorted(folder.glob("claims_*.csv"))
    landing = work / "landing"
    shutil.rmtree(landing, ignore_errors=True)
    landing.mkdir()
    for path in months[:-1]:
        (landing / path.name).symlink_to(path)
    warehouse = work / "incremental.duckdb"
    review(landing, warehouse, "review of 11 months")
    (landing / months[-1].name).symlink_to(months[-1])
    started = measure(
        [str(BIN / "unitreview"), "review", "--input", str(landing), "--warehouse", str(warehouse)],
        "incremental: 12th month added",
    )
    return started, review(folder, work / "rebuild.duckdb", "full rebuild of 12 months")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--data", type=Path, default=ROOT / "bench_data")
    parser.add_argument("--no-incremental", action="store_true")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    results = []
    for lines in args.sizes:
        folder = extract(args.data, lines)
        work = args.data / f"work_{lines}"
        work.mkdir(exist_ok=True)
        plain = plain_load(folder, work)
        full = review(folder, work / "review.duckdb", "review")
        rows = [plain, full]
        if not args.no_incremental:
            rows += list(incremental(folder, work))
        for row in rows:
            row["lines"] = lines
            row["lines_per_s"] = round(lines / row["wall_s"])
            row["ratio_to_plain_load"] = round(row["wall_s"] / plain["wall_s"], 2)
        if not args.no_incremental:
            rows[2]["ratio_to_full_rebuild"] = round(rows[2]["wall_s"] / rows[3]["wall_s"], 2)
        results += rows
        print_table(rows)
    (args.data / "results.json").write_text(json.dumps(results, indent=2))


def print_table(rows: list[dict]) -> None:
    header = f"{'case':32} {'lines':>11} {'wall s':>8} {'CPU s':>8} {'peak MB':>8} {'lines/s':>10} {'x plain':>8}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['case']:32} {r['lines']:>11,} {r['wall_s']:>8} {r['cpu_s']:>8} {r['peak_rss_mb']:>8} "
            f"{r['lines_per_s']:>10,} {r['ratio_to_plain_load']:>8}"
            + (f"   ({r['ratio_to_full_rebuild']} x full rebuild)" if "ratio_to_full_rebuild" in r else "")
        )
    print(flush=True)


if __name__ == "__main__":
    main()
