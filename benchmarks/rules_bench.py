"""Time ``line_units`` + ``findings`` on a generated claim_lines frame (not a test; run by hand).

    .venv/bin/python benchmarks/rules_bench.py --lines 1000000

The claim lines come from the project's generator (``pipelines.generate``: a year of realistic
visits with every rule's findings planted), held in memory as the review would load them; then
the seconds (wall and CPU) of each step and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import polars as pl

from pipelines.generate.extract import generate_months
from pipelines.ingest.columns import CLAIM_LINE_SCHEMA
from pipelines.rules import Reference, RuleSettings, findings, line_units


def generated(n_lines: int, seed: int = 7, start_month: str = "2025-01", months: int = 12) -> pl.DataFrame:
    """``n_lines`` generated claim lines over ``months`` service months, in claim_lines' schema
    (the lineage columns ingestion adds left empty)."""
    frames = [month.lines for month in generate_months(n_lines, seed, start_month=start_month, months=months).months]
    lines = pl.concat(frames, how="vertical")
    lineage = {k: pl.lit(None, v) for k, v in CLAIM_LINE_SCHEMA.items() if k not in lines.columns}
    return lines.with_columns(**lineage).select(list(CLAIM_LINE_SCHEMA)).cast(CLAIM_LINE_SCHEMA)


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    t0 = time.perf_counter()
    lines = generated(args.lines)
    t1, c1 = time.perf_counter(), cpu()
    ref, settings = Reference.load(), RuleSettings()
    units = line_units(lines.lazy(), ref, settings).collect(engine="in-memory")  # as the review does
    t2, c2 = time.perf_counter(), cpu()
    found = findings(lines.lazy(), units.lazy(), ref, settings).collect(engine="in-memory")
    t3, c3 = time.perf_counter(), cpu()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"lines: {lines.height:,}  (built in {t1 - t0:.1f} s)   load average: {os.getloadavg()[0]:.1f}")
    print(f"line_units: {t2 - t1:.2f} s wall, {c2 - c1:.2f} s CPU")
    print(f"findings:   {t3 - t2:.2f} s wall, {c3 - c2:.2f} s CPU")
    print(
        f"peak RSS: {peak_mb:,.0f} MB (claim_lines frame {lines.estimated_size('mb'):,.0f} MB, "
        f"line_units {units.estimated_size('mb'):,.0f} MB, findings {found.estimated_size('mb'):,.0f} MB)"
    )
    print(found.group_by("rule_id").len().sort("rule_id"))


if __name__ == "__main__":
    main()
