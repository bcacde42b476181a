"""What the ``unitreview sample``, ``unitreview appraise`` and ``unitreview sample-size`` commands do,
as plain functions (the command line only parses options and prints ``summary_lines()``).

Nothing here prints or logs a patient identifier: summaries and errors name sample item numbers,
strata and counts. The worksheet itself holds patient ids (auditors need them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from pipelines.audit import draw as draws
from pipelines.audit import frame as frames
from pipelines.audit import stats, store
from pipelines.audit import worksheet as sheets
from pipelines.audit.appraise import Appraisal, AppraisalError, appraise

# ---------------------------------------------------------------------------------------------
# draw


@dataclass
class DrawSummary:
    draw: draws.Draw
    worksheet: Path | None
    stored_in: str | None

    def summary_lines(self) -> list[str]:
        d, r = self.draw, self.draw.request
        period = f"{r.start or 'start'} to {r.end or 'end'}"
        out = [
            f"sample {d.sample_id}: {d.sample_size} of {d.frame_size} beneficiary-days of NPI {r.npi} ({period}), "
            f"seed {r.seed}, {r.allocation()}",
        ]
        for s in d.strata:
            full = " (sampled in full)" if s.full else ""
            out.append(
                f"  stratum {s.stratum.number} {s.stratum.label}: {s.sample_size} of {s.frame_size}{full}, "
                f"frame ${s.frame_amount:,.2f}, sample ${s.sample_amount:,.2f}"
            )
        out.append(
            f"examined amount: {frames.AMOUNT_RULE}; frame lines by amount: "
            + ", ".join(f"{k} {v}" for k, v in d.frame_lines_by_basis.items())
        )
        out.append(f"configuration fingerprint {d.config_fingerprint}, frame fingerprint {d.frame_fingerprint}")
        out += [f"note: {n}" for n in d.notes]
        if self.stored_in:
            out.append(f"stored in {self.stored_in} (audit_samples)")
        if self.worksheet:
            out.append(f"worksheet: {self.worksheet} (holds patient identifiers)")
        return out


def worksheet_bytes(con: duckdb.DuckDBPyConnection, d: draws.Draw) -> bytes:
    """The auditor's worksheet of a draw, its lines and findings read from ``con``."""
    lines = frames.item_lines(con, d.request.npi, d.items)
    findings = frames.item_findings(con, d.request.npi, d.items, lines)
    return sheets.write_worksheet(d, lines, findings)


def make_request(
    npi: str,
    *,
    seed: int,
    size: int | None = None,
    strata: str | Sequence[float] | None = None,
    stratum_sizes: str | Sequence[int | str] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> draws.DrawRequest:
    """Validate and normalize the options of a draw."""
    if not npi or not str(npi).strip():
        raise ValueError("give the provider's NPI")
    if seed is None or int(seed) < 0:
        raise ValueError("give a non-negative integer seed (recorded so that the draw can be reproduced)")
    if start and end and start > end:
        raise ValueError("the period starts after it ends")
    bounds = draws.parse_bounds(strata)
    sizes = draws.parse_sizes(stratum_sizes)
    if sizes is not None and size is not None:
        raise ValueError("give either a total size or one size per stratum, not both")
    if sizes is None and size is None:
        raise ValueError("give a sample size")
    return draws.DrawRequest(
        npi=str(npi).strip(), seed=int(seed), size=size, bounds=bounds, stratum_sizes=sizes, start=start, end=end
    )


def draw_sample(
    warehouse: Path,
    npi: str,
    *,
    seed: int,
    size: int | None = None,
    strata: str | Sequence[float] | None = None,
    stratum_sizes: str | Sequence[int | str] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    out: Path,
    store_sample: bool = True,
) -> DrawSummary:
    """``unitreview sample``: draw from the warehouse's frame of ``npi``, store the sample in
    ``audit_samples`` (one transaction) and write the worksheet to ``out``.

    ``size``: the total (proportional allocation over the strata, or an unrestricted sample);
    ``strata``: bounds of examined amounts, "0,100,250"; ``stratum_sizes``: "10,20,all" instead of a
    total; ``start``/``end``: the service-date period (inclusive). Raises ``ValueError`` (bad options,
    empty frame) or ``FileNotFoundError`` (no warehouse)."""
    warehouse = Path(warehouse)
    if not warehouse.is_file():
        raise FileNotFoundError(f"no warehouse at {warehouse}")
    request = make_request(npi, seed=seed, size=size, strata=strata, stratum_sizes=stratum_sizes, start=start, end=end)
    con = duckdb.connect(str(warehouse), read_only=not store_sample)
    try:
        d = draws.draw(con, request, source_database=str(warehouse.resolve()))
        data = worksheet_bytes(con, d)
        if store_sample:
            store.write_sample(con, d)
    finally:
        con.close()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return DrawSummary(d, out, str(warehouse) if store_sample else None)


def redraw_matches(warehouse: Path, sample_id: str) -> bool:
    """Draw a stored sample again from its recorded parameters: True when the items are identical."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        again, stored = store.redraw(con, sample_id)
    return store.same_items(again, stored)


# ---------------------------------------------------------------------------------------------
# appraise


@dataclass
class AppraisalSummary:
    appraisal: Appraisal
    checked_against: str | None  # where the stored sample was found, if it was
    stored_in: str | None
    notes: list[str] = field(default_factory=list)

    def table(self) -> pl.DataFrame:
        return self.appraisal.display_table()

    def summary_lines(self) -> list[str]:
        a = self.appraisal
        out = [f"appraisal {a.appraisal_id} of sample {a.sample_id or '(unknown)'} ({a.design})"]
        if self.checked_against:
            out.append(f"checked against the stored sample in {self.checked_against}")
        out += [f"note: {n}" for n in self.notes]
        for row in a.table().iter_rows(named=True):
            out.append(
                f"  {row['stratum_label']:<18} N={row['frame_size']:>6} n={row['sample_size']:>4} "
                f"estimate ${row['point_estimate']:>13,.2f} SE ${row['standard_error']:>11,.2f} "
                f"90%: ${row['lower_90']:,.2f} .. ${row['upper_90']:,.2f} (precision {row['precision_pct_90']:.1f}%) "
                f"error rate {row['error_rate']:.1%}"
            )
        o = a.attribute_overall
        exact = f", exact {o.exact_lower:.1%}..{o.exact_upper:.1%}" if o.exact_lower is not None else ""
        weighted = " (stratum-weighted estimate for the frame)" if a.design == "stratified" else ""
        out.append(
            f"error rate {o.rate:.1%}{weighted}: {o.errors} of {o.sample_size} sampled items with a difference; "
            f"90% normal {o.normal_lower:.1%}..{o.normal_upper:.1%}{exact}"
        )
        out.append(a.statement())
        if self.stored_in:
            out.append(f"stored in {self.stored_in} (audit_appraisals)")
        return out


def check_against_sample(ws: sheets.Worksheet, stored: store.StoredSample) -> pl.DataFrame:
    """The worksheet's items checked against the stored draw (item numbers, strata, beneficiary-days,
    examined amounts, frame and sample sizes). Returns the items with the stored strata and examined
    amounts; raises ``AppraisalError`` naming the item numbers that differ."""
    rows = stored.rows.select(
        pl.col("sample_item").cast(pl.Int64),
        pl.col("stratum").cast(pl.Int64).alias("stratum_stored"),
        pl.col("patient_id").alias("patient_stored"),
        pl.col("service_date").cast(pl.String).alias("date_stored"),
        pl.col("examined_amount").alias("examined_stored"),
    )
    items = ws.items
    missing = sorted(set(rows["sample_item"].to_list()) - set(items["sample_item"].to_list()))
    extra = sorted(set(items["sample_item"].to_list()) - set(rows["sample_item"].to_list()))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing sample item(s) {', '.join(map(str, missing))}")
        if extra:
            parts.append(f"sample item(s) {', '.join(map(str, extra))} not in the draw")
        raise AppraisalError(f"the worksheet does not match sample {stored.sample_id}: " + "; ".join(parts))
    joined = items.join(rows, on="sample_item", how="inner")
    differs = (
        joined.filter(
            (pl.col("stratum") != pl.col("stratum_stored"))
            | ((pl.col("examined_amount") - pl.col("examined_stored")).abs() > 0.005)
            | (pl.col("patient_id").is_not_null() & (pl.col("patient_id") != pl.col("patient_stored")))
            | (
                pl.col("service_date").is_not_null()
                & (pl.col("service_date").str.slice(0, 10) != pl.col("date_stored"))
            )
        )["sample_item"]
        .sort()
        .to_list()
    )
    if differs:
        raise AppraisalError(
            f"sample item(s) {', '.join(map(str, differs))} of the worksheet differ from sample {stored.sample_id} "
            "(stratum, beneficiary-day or examined amount)"
        )
    stored_strata = {s.stratum: s for s in stored.strata}
    for s in ws.strata:
        ref = stored_strata.get(s.stratum)
        if ref is not None and (ref.frame_size, ref.sample_size) != (s.frame_size, s.sample_size):
            raise AppraisalError(
                f"stratum {s.stratum}: the worksheet says N={s.frame_size}, n={s.sample_size}; "
                f"sample {stored.sample_id} has N={ref.frame_size}, n={ref.sample_size}"
            )
    return joined.select(
        "sample_item",
        pl.col("stratum_stored").alias("stratum"),
        pl.col("examined_stored").alias("examined_amount"),
        "audited_amount",
    )


def appraise_read(ws: sheets.Worksheet, stored: store.StoredSample | None) -> Appraisal:
    """Appraise a read worksheet, checked against ``stored`` when given (else from its own sheets)."""
    if stored is not None:
        items = check_against_sample(ws, stored)
        strata = stored.strata
    else:
        items, strata = ws.items, ws.strata
    return appraise(items, strata, sample_id=ws.sample_id, source=ws.source, worksheet_sha256=ws.sha256)


def appraise_worksheet(
    worksheet: Path, warehouse: Path | None = None, *, store_appraisal: bool = True
) -> AppraisalSummary:
    """``unitreview appraise``: read the completed worksheet and appraise it (RAT-STATS conventions).

    With ``warehouse`` the worksheet is checked against the stored sample (which must be there) and
    the appraisal is stored in ``audit_appraisals`` (one transaction); without it the worksheet's
    own ``parameters`` and ``strata`` sheets give the frame sizes. Raises ``AppraisalError`` (missing
    audited amounts: the message lists the sample item numbers) or ``FileNotFoundError``."""
    worksheet = Path(worksheet)
    if not worksheet.is_file():
        raise FileNotFoundError(f"no worksheet at {worksheet}")
    ws = sheets.read_worksheet(worksheet)
    notes: list[str] = []
    if warehouse is None:
        notes.append("appraised from the worksheet's own parameters (no warehouse given to check it against)")
        return AppraisalSummary(appraise_read(ws, None), None, None, notes)
    warehouse = Path(warehouse)
    if not warehouse.is_file():
        raise FileNotFoundError(f"no warehouse at {warehouse}")
    con = duckdb.connect(str(warehouse), read_only=not store_appraisal)
    try:
        stored = store.load_sample(con, ws.sample_id) if ws.sample_id else None
        if stored is None:
            raise AppraisalError(f"sample {ws.sample_id or '(no sample_id)'} is not stored in {warehouse}")
        result = appraise_read(ws, stored)
        if store_appraisal:
            store.write_appraisal(con, result)
    finally:
        con.close()
    return AppraisalSummary(result, str(warehouse), str(warehouse) if store_appraisal else None, notes)


# ---------------------------------------------------------------------------------------------
# sample size


def sample_size(
    frame_size: int | None = None,
    *,
    warehouse: Path | None = None,
    npi: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    mean: float | None = None,
    sd: float | None = None,
    error_rate: float | None = None,
    error_mean: float | None = None,
    error_sd: float | None = None,
    probe_worksheet: Path | None = None,
    confidence: float = 0.90,
    precision: float = 0.25,
) -> stats.SampleSize:
    """``unitreview sample-size``: n for a relative precision at a confidence (OIG: 90%, 25%).

    The frame size N: ``frame_size``, or counted from ``warehouse`` for ``npi`` in the period. The
    variability: a completed probe worksheet (its differences), ``mean`` and ``sd`` per
    beneficiary-day, or an ``error_rate`` (with ``error_mean``/``error_sd`` of the overpayment among
    items in error, when known). Formula: ``pipelines.audit.stats`` (n0 = (z·s/(r·mean))², n = n0/(1+n0/N))."""
    if frame_size is None:
        if warehouse is None or not npi:
            raise ValueError("give the frame size, or a warehouse and an NPI to count it")
        with duckdb.connect(str(warehouse), read_only=True) as con:
            frame_size = frames.beneficiary_days(con, npi, start, end).height
    probe = None
    if probe_worksheet is not None:
        ws = sheets.read_worksheet(Path(probe_worksheet))
        missing = ws.items.filter(pl.col("audited_amount").is_null())["sample_item"].to_list()
        if missing:
            raise AppraisalError(
                f"the probe worksheet lacks audited amounts for sample item(s) {', '.join(map(str, missing))}"
            )
        probe = (ws.items["examined_amount"] - ws.items["audited_amount"]).to_list()
    return stats.sample_size(
        frame_size,
        mean=mean,
        sd=sd,
        error_rate=error_rate,
        error_mean=error_mean,
        error_sd=error_sd,
        probe=probe,
        confidence=confidence,
        precision=precision,
    )
