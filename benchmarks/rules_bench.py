"""Time ``line_units`` + ``findings`` on a synthetic claim_lines frame (not a test; run by hand).

    .venv/bin/python benchmarks/rules_bench.py --lines 1000000

Builds visits of 1-4 lines (PT/OT, Medicare/commercial, per-line minutes, visit totals only, or
missing minutes; duplicates, overlaps and long days sprinkled in) with numpy, then reports the
seconds (wall and CPU) of each step and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
import polars as pl

from pipelines.ingest.columns import CLAIM_LINE_SCHEMA
from pipelines.rules import Reference, RuleSettings, findings, line_units

CODES = np.array(["97112", "97110", "97116", "97140", "97530", "97161", "97010", "97150"])
CODE_P = np.array([0.3, 0.25, 0.1, 0.12, 0.12, 0.04, 0.05, 0.02])


def synthetic(n_lines: int, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    per_visit = rng.integers(1, 5, n_lines)  # 1-4 lines a visit; enough visits, cut at n_lines
    n_visits = int(np.searchsorted(np.cumsum(per_visit), n_lines)) + 1
    per_visit = per_visit[:n_visits]
    visit = np.repeat(np.arange(n_visits), per_visit)[:n_lines]
    line_no = np.arange(n_lines) - np.repeat(np.cumsum(per_visit) - per_visit, per_visit)[:n_lines] + 1
    n_therapists = max(10, n_visits // 2000)
    n_patients = max(20, n_visits // 12)
    v_patient = rng.integers(0, n_patients, n_visits)
    v_npi = rng.integers(0, n_therapists, n_visits)
    v_day = rng.integers(0, 365, n_visits)
    v_start_min = rng.integers(7 * 60, 18 * 60, n_visits)
    v_len = rng.integers(30, 75, n_visits)
    v_payer = rng.choice(np.array(["medicare", "commercial", "medicaid", "medicare_advantage"]), n_visits)
    v_mod = rng.choice(np.array(["GP", "GO", "GP KX", "GO;59"]), n_visits)
    v_doc = rng.choice(3, n_visits, p=[0.8, 0.15, 0.05])  # 0 per-line, 1 visit total only, 2 missing
    code = rng.choice(CODES, n_lines, p=CODE_P)
    minutes = rng.integers(5, 40, n_lines)
    units = np.clip((minutes + 7) // 15 + rng.choice([-1, 0, 0, 0, 1], n_lines), 0, None)
    doc = v_doc[visit]
    base = np.datetime64("2024-01-01T00:00")
    start = base + (v_day * 1440 + v_start_min).astype("timedelta64[m]")
    end = start + v_len.astype("timedelta64[m]")
    dx = np.array(["I63.9;R26.81", "M62.81", "G20", "S93.401A;M25.571", "M54.5"])
    frame = pl.DataFrame(
        {
            "visit": visit,
            "line_number": line_no.astype(np.int64),
            "patient": v_patient[visit],
            "npi": v_npi[visit],
            "service_date": (np.datetime64("2024-01-01") + v_day[visit].astype("timedelta64[D]")),
            "cpt_code": code,
            "units_billed": units.astype(np.int64),
            "payer_type": v_payer[visit],
            "minutes": np.where(doc == 0, minutes, -1),
            "line_minutes": minutes,
            "doc": doc,
            "modifiers": v_mod[visit],
            "diagnosis_codes": dx[v_patient[visit] % len(dx)],
            "visit_start": start[visit].astype("datetime64[us]"),
            "visit_end": end[visit].astype("datetime64[us]"),
        }
    )
    frame = frame.with_columns(
        pl.format("CL{}", pl.col("visit")).alias("claim_id"),
        pl.format("P{}", pl.col("patient")).alias("patient_id"),
        (pl.col("npi") + 1_100_000_000).cast(pl.String).alias("rendering_npi"),
        pl.when(pl.col("minutes") >= 0).then(pl.col("minutes")).alias("minutes"),
        pl.when(pl.col("doc") == 1).then(pl.col("line_minutes").sum().over("visit")).alias("total_timed_minutes"),
        (pl.col("units_billed") * 31.5).alias("allowed_amount"),
        pl.col("service_date").cast(pl.Date),
        pl.col("visit_start").cast(pl.Datetime("us")),
        pl.col("visit_end").cast(pl.Datetime("us")),
    )
    # 0.5 % of visits billed again under another claim id (DUPLICATE), replacing as many lines.
    again = frame.filter(pl.col("visit") % 200 == 7).with_columns(pl.format("{}R", pl.col("claim_id")).alias("claim_id"))
    frame = pl.concat([frame.head(n_lines - again.height), again])
    missing = {k: pl.lit(None, v) for k, v in CLAIM_LINE_SCHEMA.items() if k not in frame.columns}
    return frame.with_columns(**missing).select(list(CLAIM_LINE_SCHEMA))


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    t0 = time.perf_counter()
    lines = synthetic(args.lines)
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
    print(f"peak RSS: {peak_mb:,.0f} MB (claim_lines frame {lines.estimated_size('mb'):,.0f} MB, "
          f"line_units {units.estimated_size('mb'):,.0f} MB, findings {found.estimated_size('mb'):,.0f} MB)")
    print(found.group_by("rule_id").len().sort("rule_id"))


if __name__ == "__main__":
    main()
