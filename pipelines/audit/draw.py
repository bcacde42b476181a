"""Drawing an audit sample of a provider's beneficiary-days, reproducibly from a recorded seed.

The procedure (``PROCEDURE``), which anyone can repeat from the worksheet's parameters:

1. The frame: the provider's beneficiary-days in the period (``pipelines.audit.frame``), each with its
   examined amount, sorted by (service_date, patient_id) (dates ascending, patient ids by their
   bytes): positions 0..N-1.
2. Strata by examined amount: bounds "b0,b1,...,bk" make [b0, b1), [b1, b2), ..., [bk, +inf); a
   day below b0 is an error. Without bounds the frame is one stratum (an unrestricted sample).
   Within a stratum the days keep the frame order: positions 0..N_h-1.
3. Sizes: given per stratum ("all" = the whole stratum), or a total allocated proportionally to
   N_h (largest remainders, capped at N_h, at least min(2, N_h) per non-empty stratum).
4. One numpy ``Generator(PCG64(seed))`` for the whole draw; for each stratum in ascending order
   (empty ones skipped) ``u = rng.random(N_h)`` and the n_h positions with the smallest u (ties by
   position) are sampled (``pipelines.audit.stats.select_positions``), a full stratum included.
5. Sample item numbers 1..n: strata in order, within a stratum in frame order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
import numpy as np
import polars as pl

from pipelines.audit import frame as frames
from pipelines.audit import stats
from pipelines.warehouse.schema import table_columns

PROCEDURE = "unitreview-audit-draw/1: frame sorted by (service_date, patient_id); numpy PCG64(seed); per stratum the n_h smallest of rng.random(N_h)"
ALL = "all"


@dataclass(frozen=True)
class Stratum:
    number: int  # 1-based
    lower: float | None  # None: unbounded (unrestricted)
    upper: float | None  # None: +inf

    @property
    def label(self) -> str:
        if self.lower is None and self.upper is None:
            return "all"
        hi = "inf" if self.upper is None else _money(self.upper)
        return f"[{_money(self.lower)}, {hi})"


def _money(x: float | None) -> str:
    if x is None:
        return "-inf"
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2f}"


def parse_bounds(text: str | Sequence[float] | None) -> list[float] | None:
    """ "0,100,250" -> [0.0, 100.0, 250.0] (strictly increasing); None or "" -> None (unrestricted)."""
    if text is None:
        return None
    if isinstance(text, str):
        parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
        if not parts:
            return None
        try:
            bounds = [float(p.replace("$", "")) for p in parts]
        except ValueError:
            raise ValueError(
                f"strata bounds must be numbers separated by commas, e.g. 0,100,250 (got {text!r})"
            ) from None
    else:
        bounds = [float(b) for b in text]
        if not bounds:
            return None
    if any(not math.isfinite(b) for b in bounds):
        raise ValueError("strata bounds must be finite numbers")
    if any(b2 <= b1 for b1, b2 in itertools.pairwise(bounds)):
        raise ValueError("strata bounds must be strictly increasing, e.g. 0,100,250")
    return bounds


def parse_sizes(text: str | Sequence[int | str] | None) -> list[int | None] | None:
    """ "10,20,all" -> [10, 20, None] (None: the whole stratum); None or "" -> None."""
    if text is None:
        return None
    items = [p.strip() for p in text.split(",")] if isinstance(text, str) else list(text)
    items = [p for p in items if not (isinstance(p, str) and not p)]
    if not items:
        return None
    out: list[int | None] = []
    for item in items:
        if isinstance(item, str) and item.lower() in (ALL, "full", "*"):
            out.append(None)
            continue
        try:
            value = int(item)
        except (TypeError, ValueError):
            raise ValueError(f"a stratum size is a whole number or 'all' (got {item!r})") from None
        if value < 0:
            raise ValueError("a stratum size cannot be negative")
        out.append(value)
    return out


def strata_for(bounds: list[float] | None) -> list[Stratum]:
    if not bounds:
        return [Stratum(1, None, None)]
    uppers: list[float | None] = [*list(bounds[1:]), None]
    return [Stratum(i + 1, lo, hi) for i, (lo, hi) in enumerate(zip(bounds, uppers, strict=True))]


def assign_strata(amounts: pl.Series, bounds: list[float] | None) -> np.ndarray:
    """The stratum number (1-based) of each amount: [b_i, b_i+1)."""
    values = amounts.to_numpy().astype(float)
    if not bounds:
        return np.ones(values.size, dtype=np.int64)
    below = values < bounds[0]
    if below.any():
        raise ValueError(
            f"{int(below.sum())} beneficiary-day(s) have an examined amount below the first stratum bound "
            f"{bounds[0]:g} (smallest {values.min():.2f}): start the bounds lower"
        )
    return np.searchsorted(np.asarray(bounds), values, side="right").astype(np.int64)


@dataclass(frozen=True)
class DrawRequest:
    """What defines a draw; two draws with equal requests on the same frame give the same items."""

    npi: str
    seed: int
    size: int | None = None  # total, allocated proportionally (or the size of an unrestricted sample)
    bounds: list[float] | None = None
    stratum_sizes: list[int | None] | None = None  # per stratum; None inside = the whole stratum
    start: dt.date | None = None
    end: dt.date | None = None

    def allocation(self) -> str:
        if self.stratum_sizes is not None:
            return "given"
        return "proportional" if self.bounds else "unrestricted"

    def canonical(self) -> dict:
        return {
            "procedure": PROCEDURE,
            "rendering_npi": self.npi,
            "period_start": self.start.isoformat() if self.start else None,
            "period_end": self.end.isoformat() if self.end else None,
            "seed": int(self.seed),
            "size": self.size,
            "strata": self.bounds,
            "stratum_sizes": [ALL if s is None else s for s in self.stratum_sizes]
            if self.stratum_sizes is not None
            else None,
            "amount_rule": frames.AMOUNT_RULE,
        }

    def fingerprint(self) -> str:
        body = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()[:16]


@dataclass
class StratumDraw:
    stratum: Stratum
    frame_size: int
    sample_size: int
    frame_amount: float
    sample_amount: float

    @property
    def full(self) -> bool:
        return self.frame_size > 0 and self.sample_size == self.frame_size


@dataclass
class Draw:
    """A drawn sample: the request, the frame's per-stratum sizes, and the sampled items."""

    sample_id: str
    request: DrawRequest
    strata: list[StratumDraw]
    items: pl.DataFrame  # sample_item, stratum, frame_position, patient_id, service_date, examined_amount, ...
    frame_size: int
    frame_fingerprint: str
    frame_lines_by_basis: dict[str, int]
    drawn_at: dt.datetime
    source_database: str | None = None
    review_config_hash: str | None = None
    provider_name: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def sample_size(self) -> int:
        return self.items.height

    @property
    def config_fingerprint(self) -> str:
        return self.request.fingerprint()

    def keys(self) -> list[tuple[int, int, str, dt.date]]:
        """(sample_item, stratum, patient_id, service_date): for comparing draws (never print it)."""
        return list(self.items.select("sample_item", "stratum", "patient_id", "service_date").iter_rows())


def frame_fingerprint(frame: pl.DataFrame) -> str:
    """A SHA-256 over the sorted frame (date, patient, amount in cents): an unchanged frame has the
    same fingerprint, so a re-draw can show it started from the same beneficiary-days."""
    digest = hashlib.sha256()
    for day, patient, amount in frame.select("service_date", "patient_id", "examined_amount").iter_rows():
        digest.update(f"{day}|{patient}|{amount:.2f}\n".encode())
    return digest.hexdigest()[:16]


def sizes_for(request: DrawRequest, frame_sizes: list[int]) -> tuple[list[int], list[str]]:
    """The sample size of each stratum, and notes about adjustments."""
    notes: list[str] = []
    if request.stratum_sizes is not None:
        if len(request.stratum_sizes) != len(frame_sizes):
            raise ValueError(f"{len(request.stratum_sizes)} stratum sizes given for {len(frame_sizes)} strata")
        sizes = []
        for h, (want, N) in enumerate(zip(request.stratum_sizes, frame_sizes, strict=True), start=1):
            n = N if want is None else int(want)
            if n > N:
                raise ValueError(f"stratum {h}: {n} requested but its frame has only {N} beneficiary-days")
            if N > 0 and n < min(2, N):
                raise ValueError(
                    f"stratum {h}: {n} requested of {N}; every non-empty stratum needs at least 2 sampled "
                    "beneficiary-days (or all of them) for a standard error"
                )
            sizes.append(n)
        return sizes, notes
    if request.size is None:
        raise ValueError("give a sample size (a total, or one size per stratum)")
    if request.size < 1:
        raise ValueError("the sample size must be at least 1")
    total_frame = sum(frame_sizes)
    if total_frame == 0:
        raise ValueError("the provider has no beneficiary-day in the period: nothing to sample")
    sizes = stats.allocate_proportional(frame_sizes, request.size)
    if request.size > total_frame:
        notes.append(
            f"the requested size {request.size} exceeds the frame ({total_frame}): every beneficiary-day is sampled"
        )
    elif sum(sizes) > request.size:
        notes.append(f"at least 2 per non-empty stratum raised the size from {request.size} to {sum(sizes)}")
    return sizes, notes


def draw_from_frame(request: DrawRequest, frame: pl.DataFrame) -> tuple[list[StratumDraw], pl.DataFrame, list[str]]:
    """The draw itself (steps 2-5 of the procedure) on a frame already sorted by FRAME_ORDER."""
    frame = frame.sort(list(frames.FRAME_ORDER))
    strata = strata_for(request.bounds)
    numbers = assign_strata(frame["examined_amount"], request.bounds)
    frame = frame.with_columns(pl.Series("stratum", numbers, dtype=pl.Int64))
    frame_sizes = [int((numbers == s.number).sum()) for s in strata]
    sizes, notes = sizes_for(request, frame_sizes)
    rng = stats.generator(request.seed)
    chosen: list[pl.DataFrame] = []
    out: list[StratumDraw] = []
    for s, N, n in zip(strata, frame_sizes, sizes, strict=True):
        part = frame.filter(pl.col("stratum") == s.number).with_row_index("frame_position")
        picked = part[stats.select_positions(rng, N, n).tolist()] if N else part.head(0)
        chosen.append(picked)
        out.append(
            StratumDraw(
                s,
                N,
                n,
                round(float(part["examined_amount"].sum()), 2),
                round(float(picked["examined_amount"].sum()), 2),
            )
        )
    items = pl.concat(chosen) if chosen else frame.head(0)
    items = items.with_columns(
        pl.int_range(1, items.height + 1, dtype=pl.Int64).alias("sample_item"),
        pl.col("frame_position").cast(pl.Int64),
    )
    bounds_of = {s.number: (s.lower, s.upper, s.label) for s in strata}
    items = items.with_columns(
        pl.col("stratum")
        .replace_strict({k: v[0] for k, v in bounds_of.items()}, return_dtype=pl.Float64)
        .alias("stratum_lower"),
        pl.col("stratum")
        .replace_strict({k: v[1] for k, v in bounds_of.items()}, return_dtype=pl.Float64)
        .alias("stratum_upper"),
        pl.col("stratum")
        .replace_strict({k: v[2] for k, v in bounds_of.items()}, return_dtype=pl.String)
        .alias("stratum_label"),
        pl.col("stratum")
        .replace_strict({s.number: d.frame_size for s, d in zip(strata, out, strict=True)}, return_dtype=pl.Int64)
        .alias("frame_size"),
        pl.col("stratum")
        .replace_strict({s.number: d.sample_size for s, d in zip(strata, out, strict=True)}, return_dtype=pl.Int64)
        .alias("stratum_sample_size"),
    )
    order = [
        "sample_item",
        "stratum",
        "stratum_label",
        "stratum_lower",
        "stratum_upper",
        "frame_position",
        "patient_id",
        "service_date",
        "lines",
        "examined_amount",
        "amount_basis",
        "frame_size",
        "stratum_sample_size",
    ]
    return out, items.select(order), notes


def review_config_hash(con: duckdb.DuckDBPyConnection) -> str | None:
    """The configuration the findings were computed with (``rules_state``), when recorded."""
    if "config_hash" not in table_columns(con, "rules_state"):
        return None
    rows = con.execute("select config_hash from rules_state order by 1 limit 1").fetchall()
    return rows[0][0] if rows else None


def provider_name(con: duckdb.DuckDBPyConnection, npi: str) -> str | None:
    for table in ("provider_scores", "claim_lines"):
        if {"rendering_npi", "provider_name"} <= set(table_columns(con, table)):
            rows = con.execute(
                f"select provider_name from {table} where rendering_npi = ? and provider_name is not null limit 1",
                [npi],
            ).fetchall()
            if rows:
                return rows[0][0]
    return None


def draw(
    con: duckdb.DuckDBPyConnection,
    request: DrawRequest,
    *,
    source_database: str | None = None,
    sample_id: str | None = None,
) -> Draw:
    """Build the frame from ``con`` (read only) and draw the sample of ``request``."""
    frame = frames.beneficiary_days(con, request.npi, request.start, request.end)
    if frame.height == 0:
        raise ValueError(f"NPI {request.npi} has no beneficiary-day in the period: nothing to sample")
    strata, items, notes = draw_from_frame(request, frame)
    by_basis = {b: int(frame[f"lines_{b}"].sum()) for b in ("paid", "allowed", "charge", "none")}
    if by_basis["none"]:
        notes.append(f"{by_basis['none']} line(s) of the frame carry no paid, allowed or charge amount: counted 0")
    return Draw(
        sample_id=sample_id or new_sample_id(),
        request=request,
        strata=strata,
        items=items,
        frame_size=frame.height,
        frame_fingerprint=frame_fingerprint(frame),
        frame_lines_by_basis=by_basis,
        drawn_at=dt.datetime.now(dt.UTC),
        source_database=source_database,
        review_config_hash=review_config_hash(con),
        provider_name=provider_name(con, request.npi),
        notes=notes,
    )


def new_sample_id() -> str:
    return "S-" + uuid.uuid4().hex[:12]
