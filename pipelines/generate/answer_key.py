"""The answer key: the findings a month plants, at each rule's grain."""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.generate import catalog as cat
from pipelines.generate.arrays import Visits
from pipelines.generate.lines import DOC_BITS
from pipelines.generate.world import World
from pipelines.rules.registry import GRAIN

KEY_SCHEMA = {
    "rule_id": pl.String,
    "rendering_npi": pl.String,
    "patient_id": pl.String,
    "service_date": pl.String,
    "claim_id": pl.String,
    "line_number": pl.Int64,
    "plant": pl.String,
    "missing": pl.List(pl.String),
}


def answer_key_rows(
    world: World,
    v: Visits,
    lines: pl.DataFrame,
    vi: np.ndarray,
    imp_tds: np.ndarray,
    ov_tds: np.ndarray,
    n_days: int,
) -> pl.DataFrame:
    first_line = np.searchsorted(vi, np.arange(len(v)), side="left")
    first_line = np.minimum(first_line, max(len(vi) - 1, 0))
    visit_cols = lines.select("patient_id", "service_date", "rendering_npi", "claim_id")[first_line]
    miss = pl.Series("_miss", v.doc_missing, dtype=pl.Int64)
    visit_cols = visit_cols.with_columns(
        pl.Series("plant", v.plant.astype(str), dtype=pl.String),
        pl.concat_list([pl.when(pl.lit(miss) & b != 0).then(pl.lit(e)) for e, b in DOC_BITS.items()])
        .list.drop_nulls()
        .alias("missing"),
    )
    frames = []

    def add(frame: pl.DataFrame, rule: str, plant: str | None = None) -> None:
        grain = GRAIN[rule]
        frames.append(
            frame.select(
                pl.lit(rule).alias("rule_id"),
                *[
                    (pl.col(c).cast(pl.String) if c != "line_number" else pl.col(c)).alias(c)
                    if c in grain
                    else pl.lit(None, KEY_SCHEMA[c]).alias(c)
                    for c in ("rendering_npi", "patient_id", "service_date", "claim_id", "line_number")
                ],
                (pl.lit(plant) if plant else pl.col("plant")).alias("plant"),
                (pl.col("missing") if rule == "DOCUMENTATION" else pl.lit(None, KEY_SCHEMA["missing"])).alias(
                    "missing"
                ),
            )
        )

    plant = pl.col("plant")
    add(visit_cols.filter(plant == "units_over_minutes"), "UNITS_OVER_MINUTES")
    add(visit_cols.filter(plant == "allocation"), "ALLOCATION")
    add(visit_cols.filter(plant == "daily_limit"), "DAILY_LIMIT")
    add(visit_cols.filter(plant.str.starts_with("duplicate_") & (plant != "duplicate_rebill")), "DUPLICATE")
    add(visit_cols.filter(plant.str.starts_with("documentation_")), "DOCUMENTATION")
    line_plant = pl.Series("plant", v.plant[vi].astype(str), dtype=pl.String)
    lines_p = lines.select("claim_id", "line_number", "cpt_code", "units_billed").with_columns(line_plant)
    timed = pl.col("cpt_code").is_in(list(cat.TIMED_CODES))
    add(lines_p.filter((plant == "minutes_missing") & timed & (pl.col("units_billed") > 0)), "MINUTES_MISSING")
    add(
        lines_p.filter((plant == "dx_support") & (pl.col("cpt_code") == "97112") & (pl.col("units_billed") > 0)),
        "DX_SUPPORT",
    )
    td = v.th * n_days + v.day
    for rule, tds, name in (("OVERLAP", ov_tds, "overlap"), ("IMPOSSIBLE_DAY", imp_tds, "impossible_day")):
        on = np.flatnonzero(np.isin(td, tds))
        first = np.sort(on[np.unique(td[on], return_index=True)[1]])
        add(visit_cols[first].with_columns(pl.lit(name).alias("plant")), rule, name)
    key = pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=KEY_SCHEMA)
    return key.cast(KEY_SCHEMA)
