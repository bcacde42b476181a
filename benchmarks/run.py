"""`make bench`: the review's cost against a plain DuckDB load of the same files.

For each size (default 1M and 10M lines) it generates the extract once under bench_data/ (reused
when present), then measures in separate processes, each with its own wall time, CPU time and peak
memory (RSS, from wait4):
- plain load: `create table ... as select * from read_csv(...)` of the same files into a new DuckDB file;
- review: `unitreview review` into a fresh warehouse (ingest, rules, scores, history, snapshot, report);
- incremental: a 12-month warehouse (a 13-month extract of the same size per month, reviewed
  without its last month), then the 13th month added and reviewed again, against a full rebuild
  of all 13 months into a fresh warehouse (each incremental run on a fresh copy of the 12-month one);
- a [rules] change: the 12-month warehouse reviewed again, no new lines, with a setting that line
  units do not read (the impossible-day ceiling, 720 -> 721 minutes): every month's findings
  recomputed from the stored units, against the 12-month review that made the warehouse.
Each case runs three times (--repeat) and the median run by wall time is shown, with every run's
wall time: on this 2-core VM the same run varies by 10% and more (the plain load once by 3x).
Before each measured run the input files are read once, so that every case starts with them in
the page cache (the first would otherwise pay for the disk and the others not). It prints a table
with lines per second and the ratio review / plain load (by wall time, and by CPU time), the seconds
of each review step (the review's own "time by step" line), and writes it all as JSON to
bench_data/results.json. Speed is measured here, never in the tests.

    python benchmarks/run.py [--sizes 1000000 10000000] [--data bench_data] [--no-incremental] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SEED = 20261127


STEP_TIMES = "time by step (s): "


def measure(command: list[str], label: str) -> dict:
    """Run a command; its wall time, CPU time (user + system), peak RSS and, for a review, the
    seconds of each step as its summary prints them."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env={**os.environ, "COLUMNS": "1000"})
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        stdout.seek(0)
        stderr.seek(0)
        printed, errors = stdout.read().decode(errors="replace"), stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{label} failed:\n{errors[-2000:]}")
    result = {
        "case": label,
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
    }
    steps = [line[len(STEP_TIMES) :] for line in printed.splitlines() if line.startswith(STEP_TIMES)]
    if steps:
        result["steps_s"] = {
            name: float(seconds) for name, seconds in (part.rsplit(" ", 1) for part in steps[0].split(", "))
        }
    return result


def first_month(months: int) -> str:
    """YYYY-MM such that ``months`` monthly files end with last month (service dates are in the past)."""
    today = datetime.date.today()
    index = today.year * 12 + today.month - 1 - months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def extract(data: Path, lines: int, months: int = 12) -> Path:
    """The generator's extract of ``lines`` lines over ``months`` monthly files (made once, reused)."""
    folder = data / (f"extract_{lines}" if months == 12 else f"extract_{lines}_{months}m")
    marker = folder / "answer_key.ndjson"
    if not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
        result = measure(
            [
                str(BIN / "unitreview"),
                "generate",
                "--out",
                str(folder),
                "--lines",
                str(lines),
                "--months",
                str(months),
                "--start-month",
                first_month(months),
                "--seed",
                str(SEED),
            ],
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


def warm(folder: Path) -> None:
    """Read every input file once, so that the measured run finds them in the page cache."""
    for path in sorted(folder.glob("claims_*")):
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass


def repeated(runs: int, label: str, run) -> dict:
    """``run()`` (one measurement) ``runs`` times: the median run by wall time, labelled, with
    every run's wall time."""
    results = [run() for _ in range(runs)]
    median = sorted(results, key=lambda r: r["wall_s"])[len(results) // 2]
    suffix = f" (median of {runs})" if runs > 1 else ""
    return {**median, "case": label + suffix, "runs_wall_s": [r["wall_s"] for r in results]}


def plain_load(folder: Path, work: Path) -> dict:
    target = work / "plain.duckdb"
    target.unlink(missing_ok=True)
    files = sorted(str(p) for p in folder.glob("claims_*.csv"))
    warm(folder)
    return measure([sys.executable, "-c", PLAIN_LOAD, str(target), *files], "plain DuckDB load")


def review(folder: Path, warehouse: Path, label: str) -> dict:
    """A review of ``folder`` into a fresh warehouse."""
    remove_warehouse(warehouse)
    warm(folder)
    return measure([str(BIN / "unitreview"), "review", "--input", str(folder), "--warehouse", str(warehouse)], label)


def review_of_copy(folder: Path, landing: Path, source: Path, warehouse: Path, label: str, *options: str) -> dict:
    """A review of ``landing`` into a fresh copy of the warehouse ``source`` (``folder``: the files to
    warm)."""
    remove_warehouse(warehouse)
    shutil.copyfile(source, warehouse)
    warm(folder)
    return measure(
        [str(BIN / "unitreview"), "review", "--input", str(landing), "--warehouse", str(warehouse), *options], label
    )


def remove_warehouse(warehouse: Path) -> None:
    for stale in warehouse.parent.glob(warehouse.stem + "*"):
        stale.unlink()


def incremental(folder: Path, work: Path, runs: int) -> tuple[dict, dict, dict]:
    """A 12-month warehouse, then the 13th month added: its review (each run on a fresh copy of the
    12-month warehouse) against a full rebuild of all 13 into a fresh warehouse; and the 12-month
    warehouse reviewed again with a [rules] change that line units do not read."""
    months = sorted(folder.glob("claims_*.csv"))
    landing, twelve = work / "landing", work / "twelve_months.duckdb"
    shutil.rmtree(landing, ignore_errors=True)
    landing.mkdir()
    for path in months[:-1]:
        (landing / path.name).symlink_to(path.resolve())
    base = review(landing, twelve, f"review of {len(months) - 1} months")
    changed = rules_change(folder, landing, twelve, work, runs)
    changed["ratio_to_review"] = round(changed["wall_s"] / base["wall_s"], 2)
    (landing / months[-1].name).symlink_to(months[-1].resolve())
    added = f"incremental: month {len(months)} added"
    rebuild = f"full rebuild of {len(months)} months"
    return (
        repeated(runs, added, lambda: review_of_copy(folder, landing, twelve, work / "incremental.duckdb", added)),
        repeated(runs, rebuild, lambda: review(folder, work / "rebuild.duckdb", rebuild)),
        changed,
    )


def rules_change(folder: Path, landing: Path, reviewed: Path, work: Path, runs: int) -> dict:
    """``reviewed`` (a warehouse of ``landing``'s files) reviewed again with the impossible-day
    ceiling at 721 minutes instead of 720, each run on a fresh copy: no new lines, the line units
    stand, every month's findings are recomputed."""
    config = work / "impossible_day_721.toml"
    config.write_text("[rules]\nimpossible_day_minutes = 721\n")
    label = "[rules] change, findings only"
    return repeated(
        runs,
        label,
        lambda: review_of_copy(folder, landing, reviewed, work / "rules_change.duckdb", label, "--config", str(config)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--data", type=Path, default=ROOT / "bench_data")
    parser.add_argument("--no-incremental", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each case; the median is shown (default 3)")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    results = []
    for lines in args.sizes:
        folder = extract(args.data, lines)
        work = args.data / f"work_{lines}"
        work.mkdir(exist_ok=True)
        plain = repeated(args.repeat, "plain DuckDB load", lambda folder=folder, work=work: plain_load(folder, work))
        full = repeated(
            args.repeat, "review", lambda folder=folder, work=work: review(folder, work / "review.duckdb", "review")
        )
        rows = [plain, full]
        for row in rows:
            row["lines"] = lines
        if not args.no_incremental:
            # one month more than the 12 above, at the same lines per month
            added, rebuild, changed = incremental(extract(args.data, lines * 13 // 12, months=13), work, args.repeat)
            added["lines"] = lines // 12
            rebuild["lines"] = lines * 13 // 12
            changed["lines"] = lines * 13 // 12 - lines // 12
            added["ratio_to_full_rebuild"] = round(added["wall_s"] / rebuild["wall_s"], 2)
            rows += [added, rebuild, changed]
        for row in rows:
            row["lines_per_s"] = round(row["lines"] / row["wall_s"])
            row["ratio_to_plain_load"] = round(row["wall_s"] / plain["wall_s"], 2)
            row["cpu_ratio_to_plain_load"] = round(row["cpu_s"] / plain["cpu_s"], 2)
        results += rows
        print_table(rows)
    (args.data / "results.json").write_text(json.dumps(results, indent=2))


def print_table(rows: list[dict]) -> None:
    header = (
        f"{'case':44} {'lines':>11} {'wall s':>8} {'CPU s':>8} {'peak MB':>8} {'lines/s':>10} {'x plain':>8}"
        f" {'x plain CPU':>12}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        if "runs_wall_s" in r:
            print(f"({r['case']}: runs of {', '.join(f'{w} s' for w in r['runs_wall_s'])})")
    for r in rows:
        print(
            f"{r['case']:44} {r['lines']:>11,} {r['wall_s']:>8} {r['cpu_s']:>8} {r['peak_rss_mb']:>8} "
            f"{r['lines_per_s']:>10,} {r['ratio_to_plain_load']:>8} {r['cpu_ratio_to_plain_load']:>12}"
            + (f"   ({r['ratio_to_full_rebuild']} x full rebuild)" if "ratio_to_full_rebuild" in r else "")
            + (f"   ({r['ratio_to_review']} x the 12-month review)" if "ratio_to_review" in r else "")
        )
    steps = [r for r in rows if "steps_s" in r]
    if steps:
        print("seconds by review step:")
        names = list(dict.fromkeys(name for r in steps for name in r["steps_s"]))
        print(f"  {'step':42}" + "".join(f" {r['case'][:14]:>14}" for r in steps))
        for name in names:
            print(f"  {name:42}" + "".join(f" {r['steps_s'].get(name, 0):>14.1f}" for r in steps))
    print(flush=True)


if __name__ == "__main__":
    main()
