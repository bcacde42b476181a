"""A month's visits laid out as claim lines, with the documentation flags and 97112 notes."""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.generate import catalog as cat
from pipelines.generate.arrays import Visits
from pipelines.generate.world import DOC_BOTH, DOC_FLAGS, DOC_NOTES, World
from pipelines.ingest.columns import CANONICAL

# DOCUMENTATION plants: elements as bits (deficit 1, goals 2, response 4, technique 8), the share of
# plants missing two elements, of plants in clinics exporting both whose note also lacks a flagged
# element, and of clean 97112 notes in those clinics lacking a flagged element that the (true) flag
# covers: the flag takes precedence, so no finding.
DOC_BITS = {e: 1 << i for i, e in enumerate(cat.DOC_ELEMENTS)}
FLAGGED_BITS = DOC_BITS["deficit"] | DOC_BITS["goals"] | DOC_BITS["response"]
DOC_TWO_MISSING_P = 0.2
DOC_NOTE_TOO_P = 0.5
DOC_CLEAN_NOTE_GAP_P = 0.15
NOTE_LOWER_P = 0.1


def lay_out_lines(
    world: World, v: Visits, seq: np.ndarray, claim_prefix: str, dx_series: pl.Series, rng: np.random.Generator
) -> tuple[pl.DataFrame, np.ndarray]:
    """The claim lines of the visits (visit order, slot order) and the visit index of each line."""
    timed_code = np.where(v.present, v.codes, -1)
    slots = np.column_stack([v.slot0, timed_code, v.mod])
    vi, col = np.nonzero(slots >= 0)
    code = slots[vi, col]
    line_number = np.arange(len(vi)) - np.searchsorted(vi, vi, side="left") + 1
    timed = (col >= 1) & (col <= 3)
    tcol = np.clip(col - 1, 0, 2)
    raw_minutes = np.where(timed, v.minutes[vi, tcol], np.where(col == 0, v.eval_min[vi], -1))
    units = np.where(timed, v.units[vi, tcol], 1)
    hide = v.mm[vi] | (v.totals_only[vi] & (col <= 3))
    minutes_known = (raw_minutes >= 0) & ~hide

    # modifiers: discipline, assistant, 59 on 97140 next to 97530, KX above the Medicare threshold
    has530 = (v.present & (v.codes == cat.I97530)).any(axis=1)
    mod59 = (code == cat.I97140) & has530[vi]
    kx = (v.payer[vi] == cat.MEDICARE) & (v.k[vi] >= v.kx_from[vi])
    disc = v.disc[vi]
    assistant = v.assistant[vi]

    # amounts
    clinic = v.clinic[vi]
    payer = v.payer[vi]
    medicare_like = (payer == cat.MEDICARE) | (payer == cat.MEDICARE_ADVANTAGE)
    fee = cat.FEE_ARRAY[code]
    charge_unit = np.round(fee * world.clinic_markup[clinic])
    charge_unit = np.where(code == cat.CODE_INDEX[cat.HOT_PACK], 25.0, charge_unit)
    allowed_unit = fee * cat.ALLOWED_MULT[payer] * np.where(assistant & medicare_like, 0.85, 1.0)
    allowed_unit = np.where((code == cat.CODE_INDEX[cat.HOT_PACK]) & medicare_like, 0.0, allowed_unit)
    charge = units * charge_unit
    allowed = np.round(units * allowed_unit, 2)
    paid = np.round(allowed * cat.PAID_RATIO[payer], 2)

    doc = documentation_columns(v, rng, world)
    day_epoch = world.period.epoch_day0 + v.day[vi]
    start_us = (day_epoch * 1440 + v.start[vi]) * 60_000_000
    end_us = (day_epoch * 1440 + v.end[vi]) * 60_000_000
    sep = world.clinic_sep[clinic]
    nodot = world.clinic_nodot[clinic]
    dx_bad = v.dx_bad[vi]

    frame = pl.DataFrame(
        {
            "_seq": seq[vi],
            "_pid": v.pid[vi],
            "line_number": line_number.astype(np.int64),
            "units_billed": units.astype(np.int64),
            "_minutes": raw_minutes,
            "_minutes_known": minutes_known,
            "_tot": v.tot[vi],
            "_mm": v.mm[vi],
            "_clinic": clinic,
            "_disc": disc.astype(np.int64),
            "_assistant": assistant,
            "_mod59": mod59,
            "_kx": kx,
            "_nodot": nodot,
            "_sep": sep.astype(np.int64),
            "charge_amount": charge,
            "allowed_amount": allowed,
            "paid_amount": paid,
            "_start": start_us,
            "_end": end_us,
            "_day": day_epoch.astype(np.int32),
            "_deficit": doc["deficit"][vi],
            "_goals": doc["goals"][vi],
            "_response": doc["response"][vi],
            "_flags_on": doc["flags_on"][vi],
            "justification_documented": doc["justification"][vi],
        }
    )
    strs = lambda values: pl.Series(list(values), dtype=pl.String)
    visit_notes = doc["notes"]
    note_of = doc["note_of"]
    dx = dx_series.gather(v.dx[vi])
    if (dx_bad >= 0).any():
        dx = dx.scatter(np.flatnonzero(dx_bad >= 0), strs(cat.UNSUPPORTIVE_DX).gather(dx_bad[dx_bad >= 0]))
    frame = frame.with_columns(
        strs(cat.ALL_CODES).gather(code).alias("cpt_code"),
        strs(world.th_npi).gather(v.th[vi]).alias("rendering_npi"),
        strs(world.th_name).gather(v.th[vi]).alias("provider_name"),
        strs(world.clinic_npi).gather(clinic).alias("billing_npi"),
        strs(world.clinic_name).gather(clinic).alias("clinic_name"),
        strs(cat.PAYERS).gather(payer).alias("payer_type"),
        strs(cat.PAYER_NAME_LIST).gather(v.payer_name[vi]).alias("payer_name"),
        dx.alias("_dx"),
        visit_notes.gather(pl.select(pl.when(pl.lit(note_of[vi]) >= 0).then(pl.lit(note_of[vi]))).to_series()).alias(
            "note_text"
        ),
    )
    tokens = pl.concat_str(
        [
            pl.when(pl.col("_disc") == 0).then(pl.lit("GP")).otherwise(pl.lit("GO")),
            pl.when(pl.col("_assistant")).then(
                pl.when(pl.col("_disc") == 0).then(pl.lit("CQ")).otherwise(pl.lit("CO"))
            ),
            pl.when(pl.col("_mod59")).then(pl.lit("59")),
            pl.when(pl.col("_kx")).then(pl.lit("KX")),
        ],
        separator=";",
        ignore_nulls=True,
    )
    lines = frame.with_columns(
        pl.format("{}{}", pl.lit(claim_prefix), pl.col("_seq").cast(pl.String).str.zfill(7)).alias("claim_id"),
        pl.format("{}{}", pl.lit(world.patient_prefix), pl.col("_pid").cast(pl.String).str.zfill(8)).alias(
            "patient_id"
        ),
        pl.col("_day").cast(pl.Date).alias("service_date"),
        pl.when(pl.col("_minutes_known")).then(pl.col("_minutes")).alias("minutes"),
        pl.when(~pl.col("_mm")).then(pl.col("_tot")).alias("total_timed_minutes"),
        pl.when(pl.col("_sep") == 1)
        .then(tokens.str.replace_all(";", ",", literal=True))
        .when(pl.col("_sep") == 2)
        .then(tokens.str.replace_all(";", " ", literal=True))
        .otherwise(tokens)
        .alias("modifiers"),
        pl.when(pl.col("_nodot"))
        .then(pl.col("_dx").str.replace_all(".", "", literal=True))
        .otherwise(pl.col("_dx"))
        .alias("diagnosis_codes"),
        pl.col("_start").cast(pl.Datetime("us")).alias("visit_start"),
        pl.col("_end").cast(pl.Datetime("us")).alias("visit_end"),
        pl.when(pl.col("_disc") == 0).then(pl.lit("PT")).otherwise(pl.lit("OT")).alias("provider_specialty"),
        *(
            pl.when(pl.col("_flags_on")).then(pl.col(f"_{e}")).alias(f"{e}_documented")
            for e in ("deficit", "goals", "response")
        ),
        pl.lit(None, pl.Int64).alias("claim_frequency"),
        pl.lit(None, pl.String).alias("original_claim_id"),
    ).select(pl.col(c).cast(t) for c, t in CANONICAL.items())
    return lines, vi


def missing_elements(rng: np.random.Generator, flags_only: np.ndarray) -> np.ndarray:
    """Bitmask (``DOC_BITS``) of what each DOCUMENTATION plant lacks: one element, or two
    (``DOC_TWO_MISSING_P``); in a clinic exporting flags only one of the three flagged elements (no
    note: its technique cannot be read)."""
    m = len(flags_only)
    if m == 0:
        return np.zeros(0, np.int64)
    key = rng.random((m, len(cat.DOC_ELEMENTS)))
    key[flags_only, cat.DOC_ELEMENTS.index("technique")] = np.inf
    bits = np.left_shift(1, np.argsort(key, axis=1))
    two = rng.random(m) < DOC_TWO_MISSING_P
    return bits[:, 0] | np.where(two, bits[:, 1], 0)


def documentation_columns(v: Visits, rng: np.random.Generator, world: World) -> dict:
    """Per visit: the deficit / goals / response flags (``flags_on`` false where the clinic exports
    no flags: the columns are null there), the justification flag, and the note of each visit billing
    97112 in a clinic exporting notes (``notes``, with ``note_of`` = its index or -1).

    Clean data: every patient-day billing 97112 is fully documented (flags true; a note showing a
    deficit, a skilled technique, a measurable goal and the response), so DOCUMENTATION never fires;
    other visits have the flags mostly true. In clinics exporting both, some clean notes lack a
    flagged element whose flag is true (the flag takes precedence: still no finding). A DOCUMENTATION
    plant (``v.doc_missing``) has the flag of each missing flagged element false (and, in a clinic
    exporting both, the note lacking it too half of the time) and, where the clinic exports notes
    only, a note lacking the missing elements; a missing technique is a note without one.
    """
    n = len(v)
    export = world.clinic_doc_export[v.clinic]
    has112 = (v.present & (v.codes == cat.I97112)).any(axis=1)
    pd_key = v.pid * 100_000 + v.day
    full = np.isin(pd_key, pd_key[has112])
    miss = v.doc_missing
    doc: dict = {
        e: (full | (rng.random(n) < 0.92)) & ((miss & DOC_BITS[e]) == 0) for e in ("deficit", "goals", "response")
    }
    doc["flags_on"] = export != DOC_NOTES
    doc["justification"] = np.where(v.dl, rng.random(n) < 0.4, rng.random(n) < 0.8)

    with_note = np.flatnonzero(has112 & (export != DOC_FLAGS))
    m = len(with_note)
    w_export, w_miss = export[with_note], miss[with_note]
    # what each note lacks: the plant's elements (in a clinic exporting both, a flagged one only half
    # of the time), or on a clean visit of such a clinic now and then one flagged element
    note_too = rng.random(m) < DOC_NOTE_TOO_P
    gap = np.left_shift(1, rng.integers(0, 3, m))
    clean_gap = (w_export == DOC_BOTH) & (w_miss == 0) & (rng.random(m) < DOC_CLEAN_NOTE_GAP_P)
    in_both = (w_miss & DOC_BITS["technique"]) | np.where(note_too, w_miss & FLAGGED_BITS, 0)
    lacks = np.where(w_export == DOC_NOTES, w_miss, in_both)
    lacks = lacks | np.where(clean_gap, gap, 0)

    def bank(phrases: tuple[str, ...]) -> pl.Series:
        return pl.Series(list(phrases), dtype=pl.String).gather(rng.integers(0, len(phrases), m))

    sections = {"opening": bank(cat.NOTE_OPENING)}
    for e in cat.DOC_ELEMENTS:
        shows, lacking = bank(cat.NOTE_SHOWS[e]), bank(cat.NOTE_LACKS[e])
        sections[e] = shows.zip_with(pl.Series((lacks & DOC_BITS[e]) == 0), lacking)
    frame = pl.DataFrame(sections).with_columns(
        pl.Series("_t", rng.choice(len(cat.NOTE_TEMPLATES), size=m, p=cat.NOTE_TEMPLATE_P)),
        pl.Series("_lower", rng.random(m) < NOTE_LOWER_P),
    )
    note = pl.when(pl.lit(False)).then(pl.lit(None, pl.String))
    for t, template in enumerate(cat.NOTE_TEMPLATES):
        parts = [pl.when(pl.col(sec) != "").then(pl.format(header, pl.col(sec))) for sec, header in template]
        note = note.when(pl.col("_t") == t).then(pl.concat_str(parts, separator=" ", ignore_nulls=True))
    note = note.otherwise(pl.lit(""))
    lowered = pl.when(pl.col("_lower")).then(note.str.to_lowercase()).otherwise(note)
    doc["notes"] = frame.select(lowered.alias("note")).to_series()
    doc["note_of"] = np.full(n, -1, np.int64)
    doc["note_of"][with_note] = np.arange(m)
    return doc
