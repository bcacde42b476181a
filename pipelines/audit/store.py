"""The ``audit_samples`` and ``audit_appraisals`` tables (``sql/003_audit.sql``): writing a draw and an
appraisal (registered frames, one transaction each), reading them back, re-drawing a stored sample
and re-running a stored appraisal exactly.

The command line writes to the warehouse. The dashboard never does: it writes to a separate small
DuckDB file beside the snapshot (``dashboards.ui.audit.audit_store_path``), with the same tables.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from pipelines.audit import appraise as appraisal_mod
from pipelines.audit import draw as draws
from pipelines.warehouse.schema import table_columns, transaction

DDL = Path(__file__).resolve().parents[2] / "sql" / "003_audit.sql"
SAMPLE_TABLE, APPRAISAL_TABLE = "audit_samples", "audit_appraisals"


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the two tables when they do not exist (the DDL is idempotent)."""
    con.execute(DDL.read_text())


def sample_rows(d: draws.Draw) -> pl.DataFrame:
    """The draw as ``audit_samples`` rows."""
    r = d.request
    items = d.items
    return items.select(
        pl.lit(d.sample_id).alias("sample_id"),
        pl.col("sample_item").cast(pl.Int32),
        pl.col("stratum").cast(pl.Int32),
        "stratum_lower",
        "stratum_upper",
        pl.col("frame_position").cast(pl.Int64),
        "patient_id",
        "service_date",
        pl.lit(r.npi).alias("rendering_npi"),
        pl.col("lines").cast(pl.Int64),
        "examined_amount",
        "amount_basis",
        pl.lit(int(r.seed), pl.Int64).alias("seed"),
        pl.col("frame_size").cast(pl.Int64),
        pl.col("stratum_sample_size").cast(pl.Int64),
        pl.lit(d.frame_size, pl.Int64).alias("frame_size_total"),
        pl.lit(d.sample_size, pl.Int64).alias("sample_size_total"),
        pl.lit(r.size, pl.Int64).alias("requested_size"),
        pl.lit(",".join(f"{b:g}" for b in r.bounds) if r.bounds else None, pl.String).alias("strata"),
        pl.lit(
            ",".join(draws.ALL if s is None else str(s) for s in r.stratum_sizes)
            if r.stratum_sizes is not None
            else None,
            pl.String,
        ).alias("stratum_sizes"),
        pl.lit(r.allocation()).alias("allocation"),
        pl.lit(r.start, pl.Date).alias("period_start"),
        pl.lit(r.end, pl.Date).alias("period_end"),
        pl.lit(d.config_fingerprint).alias("config_fingerprint"),
        pl.lit(d.frame_fingerprint).alias("frame_fingerprint"),
        pl.lit(d.review_config_hash, pl.String).alias("review_config_hash"),
        pl.lit(draws.PROCEDURE).alias("procedure"),
        pl.lit(d.source_database, pl.String).alias("source_database"),
        pl.lit(d.drawn_at).cast(pl.Datetime("us", "UTC")).alias("drawn_at"),
    )


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    con.register("audit_incoming", frame)
    try:
        con.execute(f"insert into {table} by name select * from audit_incoming")
    finally:
        con.unregister("audit_incoming")


def _in_transaction(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    ensure_tables(con)
    with transaction(con):
        _insert(con, table, frame)


def write_sample(con: duckdb.DuckDBPyConnection, d: draws.Draw) -> None:
    """Store a draw (one row per sampled item) in one transaction."""
    _in_transaction(con, SAMPLE_TABLE, sample_rows(d))


def write_appraisal(con: duckdb.DuckDBPyConnection, a: appraisal_mod.Appraisal) -> None:
    """Store an appraisal (one row per stratum and one overall) in one transaction."""
    _in_transaction(con, APPRAISAL_TABLE, a.table())


def has_sample_table(con: duckdb.DuckDBPyConnection) -> bool:
    return "sample_id" in table_columns(con, SAMPLE_TABLE)


@dataclass
class StoredSample:
    sample_id: str
    request: draws.DrawRequest
    rows: pl.DataFrame  # the audit_samples rows, sorted by sample_item
    strata: list[appraisal_mod.StratumFrame]

    @property
    def frame_fingerprint(self) -> str:
        return self.rows["frame_fingerprint"][0]


def load_sample(con: duckdb.DuckDBPyConnection, sample_id: str) -> StoredSample | None:
    """A stored sample (None when ``sample_id`` is not in the table, or there is no table)."""
    if not has_sample_table(con):
        return None
    rows = con.sql(
        f"select * from {SAMPLE_TABLE} where sample_id = $id order by sample_item", params={"id": sample_id}
    ).pl()
    if rows.height == 0:
        return None
    first = rows.row(0, named=True)
    request = draws.DrawRequest(
        npi=first["rendering_npi"],
        seed=int(first["seed"]),
        size=first["requested_size"],
        bounds=draws.parse_bounds(first["strata"]),
        stratum_sizes=draws.parse_sizes(first["stratum_sizes"]),
        start=first["period_start"],
        end=first["period_end"],
    )
    strata_rows = (
        rows.group_by("stratum")
        .agg(
            pl.col("stratum_lower").first(),
            pl.col("stratum_upper").first(),
            pl.col("frame_size").first(),
            pl.col("stratum_sample_size").first(),
        )
        .sort("stratum")
    )
    labels = {s.number: s.label for s in draws.strata_for(request.bounds)}
    strata = [
        appraisal_mod.StratumFrame(
            int(r["stratum"]),
            labels.get(int(r["stratum"]), str(r["stratum"])),
            int(r["frame_size"]),
            int(r["stratum_sample_size"]),
        )
        for r in strata_rows.iter_rows(named=True)
    ]
    return StoredSample(sample_id, request, rows, strata)


def redraw(
    con: duckdb.DuckDBPyConnection, sample_id: str, source: duckdb.DuckDBPyConnection | None = None
) -> tuple[draws.Draw, StoredSample]:
    """Draw again with a stored sample's parameters (frame from ``source``, default ``con``).
    Returns the new draw (not stored) and the stored one: their items are identical when the frame
    fingerprints are equal."""
    stored = load_sample(con, sample_id)
    if stored is None:
        raise LookupError(f"sample {sample_id} is not stored")
    again = draws.draw(source or con, stored.request, sample_id=sample_id)
    return again, stored


def same_items(d: draws.Draw, stored: StoredSample) -> bool:
    a = d.items.select("sample_item", "stratum", "frame_position", "patient_id", "service_date", "examined_amount")
    b = stored.rows.select(
        pl.col("sample_item").cast(pl.Int64),
        pl.col("stratum").cast(pl.Int64),
        "frame_position",
        "patient_id",
        "service_date",
        "examined_amount",
    )
    return a.equals(b)


def load_appraisal(con: duckdb.DuckDBPyConnection, appraisal_id: str) -> pl.DataFrame:
    if "appraisal_id" not in table_columns(con, APPRAISAL_TABLE):
        return pl.DataFrame()
    return con.sql(
        f"select * from {APPRAISAL_TABLE} where appraisal_id = $id order by scope desc, stratum",
        params={"id": appraisal_id},
    ).pl()


def rerun_appraisal(con: duckdb.DuckDBPyConnection, appraisal_id: str) -> appraisal_mod.Appraisal:
    """Appraise again from the inputs a stored appraisal recorded (same id and time: the table is
    identical to the stored one)."""
    rows = load_appraisal(con, appraisal_id)
    if rows.height == 0:
        raise LookupError(f"appraisal {appraisal_id} is not stored")
    strata_rows = rows.filter(pl.col("scope") == "stratum").sort("stratum")
    strata = [
        appraisal_mod.StratumFrame(int(r["stratum"]), r["stratum_label"], int(r["frame_size"]), int(r["sample_size"]))
        for r in strata_rows.iter_rows(named=True)
    ]
    items = pl.concat(
        [
            pl.DataFrame(
                {
                    "sample_item": pl.Series(r["sample_items"], dtype=pl.Int64),
                    "stratum": pl.Series([r["stratum"]] * len(r["sample_items"]), dtype=pl.Int64),
                    "examined_amount": pl.Series(r["examined_amounts"], dtype=pl.Float64),
                    "audited_amount": pl.Series(r["audited_amounts"], dtype=pl.Float64),
                }
            )
            for r in strata_rows.iter_rows(named=True)
        ]
    )
    first = rows.row(0, named=True)
    appraised_at = first["appraised_at"]
    if isinstance(appraised_at, dt.datetime) and appraised_at.tzinfo is not None:
        appraised_at = appraised_at.astimezone(dt.UTC)
    return appraisal_mod.appraise(
        items,
        strata,
        sample_id=first["sample_id"],
        source=first["source"],
        worksheet_sha256=first["worksheet_sha256"],
        appraisal_id=appraisal_id,
        appraised_at=appraised_at,
    )
