"""Scenarios: small hand-shaped cases added to each generated month, each on a therapist-day of its
own (two for the pair scenarios), so that the rules' newer cases are measured too.

Every scenario is a template of claim lines, laid on randomly chosen therapist-days of the month
(never a high-97112 provider's, an assistant's, or a day another plant uses), for new patients, in the
evening (from 21:00, after every scheduled visit) so that its visit times touch no other visit of the
therapist. Each kind raises exactly the findings its key rows name, or none (the negative cases, which
check that a rule stays silent):

- ``untimed_units``: group therapy 97150 billed for 2 units (commercial): UNTIMED_UNITS;
- ``evaluations_same_day``: two PT evaluations 97161 by two therapists of one practice (Medicare):
  DAILY_LIMIT (MUE 1, MAI 2 summed over the practice's claims) and UNTIMED_UNITS;
- ``mue_across_claims``: 97110 x4 (60 minutes) and x3 (45 minutes) on two claims of one practice
  (Medicare, MUE 6, MAI 3): DAILY_LIMIT, though each claim alone is within it;
- ``cotreatment``: two physical therapists of one practice, 97116 x2 each over the same 30 minutes
  with one patient: UNITS_OVER_MINUTES (the 30 minutes count once: 2 units supported, 4 billed);
- ``pt_ot_visit_total``: one claim of a PT line 97110 x2 and an OT line 97530 x2 repeating one visit
  total of 45 minutes: UNITS_OVER_MINUTES (45 minutes support 3 units for both disciplines together);
- ``group_overlap``: a therapist's group session (97150, two patients, 21:00-22:00) and a one-on-one
  97110 visit with another patient at 21:30-22:00: OVERLAP;
- ``unit_only_day``: 14 visits of 97110 x4 with no minutes and no visit total: IMPOSSIBLE_DAY (56 units
  take at least 14 x 53 = 742 minutes) and MINUTES_MISSING on each line;
- negative: ``two_sessions`` (97110 x2 at 21:00 and again at 22:00 on two claims: two services, no
  DUPLICATE), ``replacement`` (97110 x3 on 30 minutes replaced by a claim_frequency 7 claim billing 2:
  no finding), ``void`` (97140 x2 without minutes voided by a claim_frequency 8 claim: no finding).

``scenarios.ndjson`` names every scenario claim (kind, claim_id, patient_id, service_date,
rendering_npi), so that checks of the generator's own plants can leave them aside.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.generate import catalog as cat
from pipelines.ingest.columns import CANONICAL

SCENARIO_RATE = 0.001  # scenarios of each kind, as a share of the month's patient-days (at least 1)
EVENING = 21 * 60  # minutes after midnight: after every scheduled visit
DX = "I63.9"

# One row per template line: which therapist (0 = A, 1 = B), claim and patient (indexes within the
# instance), code, units, minutes, visit total, window (minutes after EVENING; null: none), payer,
# claim frequency and the claim (index) it names.
_T = {
    "who": pl.Int64,
    "claim": pl.Int64,
    "patient": pl.Int64,
    "cpt_code": pl.String,
    "units": pl.Int64,
    "minutes": pl.Int64,
    "total": pl.Int64,
    "start": pl.Int64,
    "end": pl.Int64,
    "payer": pl.String,
    "frequency": pl.Int64,
    "names": pl.Int64,
}


def _template(*rows: tuple) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=_T, orient="row")


M, C = "medicare", "commercial"
TEMPLATES: dict[str, tuple[str, pl.DataFrame]] = {
    # kind: (therapists needed: "A" one PT, "AA" two PTs of one practice, "AQ" a PT and a PT or an
    # assistant (PTA, CQ) of one practice, "AB" a PT and an OT of one practice)
    "untimed_units": ("A", _template((0, 0, 0, "97150", 2, None, None, None, None, C, None, None))),
    "evaluations_same_day": (
        "AA",
        _template(
            (0, 0, 0, "97161", 1, None, None, None, None, M, None, None),
            (1, 1, 0, "97161", 1, None, None, None, None, M, None, None),
        ),
    ),
    "mue_across_claims": (
        "A",
        _template(
            (0, 0, 0, "97110", 4, 60, 60, None, None, M, None, None),
            (0, 1, 0, "97110", 3, 45, 45, None, None, M, None, None),
        ),
    ),
    "cotreatment": (
        "AQ",
        _template(
            (0, 0, 0, "97116", 2, 30, 30, 0, 30, M, None, None),
            (1, 1, 0, "97116", 2, 30, 30, 0, 30, M, None, None),
        ),
    ),
    "pt_ot_visit_total": (
        "AB",
        _template(
            (0, 0, 0, "97110", 2, None, 45, None, None, M, None, None),
            (1, 0, 0, "97530", 2, None, 45, None, None, M, None, None),
        ),
    ),
    "group_overlap": (
        "A",
        _template(
            (0, 0, 0, "97150", 1, None, None, 0, 60, C, None, None),
            (0, 1, 1, "97150", 1, None, None, 0, 60, C, None, None),
            (0, 2, 2, "97110", 2, 30, 30, 30, 60, C, None, None),
        ),
    ),
    "unit_only_day": (
        "A",
        _template(*[(0, i, i, "97110", 4, None, None, None, None, C, None, None) for i in range(14)]),
    ),
    "two_sessions": (
        "A",
        _template(
            (0, 0, 0, "97110", 2, 30, 30, 0, 30, M, None, None),
            (0, 1, 0, "97110", 2, 30, 30, 60, 90, M, None, None),
        ),
    ),
    "replacement": (
        "A",
        _template(
            (0, 0, 0, "97110", 3, 30, 30, None, None, M, None, None),
            (0, 1, 0, "97110", 2, 30, 30, None, None, M, 7, 0),
        ),
    ),
    "void": (
        "A",
        _template(
            (0, 0, 0, "97140", 2, None, None, None, None, M, None, None),
            (0, 1, 0, "97140", 2, None, None, None, None, M, 8, 0),
        ),
    ),
}
KINDS = tuple(TEMPLATES)

# The findings each kind raises: (rule_id, grain) with grain "patient" (patient-day), "patient_npi"
# (patient-day and the therapist the rule attributes it to: the smaller NPI of a tie), "therapist"
# (the therapist-day) or "lines" (each of the kind's lines).
EXPECTED: dict[str, tuple[tuple[str, str], ...]] = {
    "untimed_units": (("UNTIMED_UNITS", "patient"),),
    "evaluations_same_day": (("DAILY_LIMIT", "patient"), ("UNTIMED_UNITS", "patient")),
    "mue_across_claims": (("DAILY_LIMIT", "patient"),),
    "cotreatment": (("UNITS_OVER_MINUTES", "patient_npi"),),
    "pt_ot_visit_total": (("UNITS_OVER_MINUTES", "patient_npi"),),
    "group_overlap": (("OVERLAP", "therapist"),),
    "unit_only_day": (("IMPOSSIBLE_DAY", "therapist"), ("MINUTES_MISSING", "lines")),
    "two_sessions": (),
    "replacement": (),
    "void": (),
}
RECORD_SCHEMA = {
    "kind": pl.String,
    "claim_id": pl.String,
    "patient_id": pl.String,
    "service_date": pl.String,
    "rendering_npi": pl.String,
}


def _therapist_days(lines: pl.DataFrame, key: pl.DataFrame, world) -> pl.DataFrame:
    """The month's therapist-days a scenario may use: not a high-97112 provider's or an assistant's,
    not a day a therapist-day plant uses; one row each with the therapist's practice and names."""
    high = world.th_npi[world.th_high].tolist()
    assistants = world.th_npi[world.th_assistant].tolist()
    taken = key.filter(pl.col("rule_id").is_in(["OVERLAP", "IMPOSSIBLE_DAY"])).select(
        "rendering_npi", pl.col("service_date").str.to_date()
    )
    # a therapist's own practice (a duplicate re-bill may carry another's) and whether it exports flags
    practice = lines.group_by("rendering_npi").agg(pl.col("billing_npi").mode().sort().first())
    flags = lines.group_by("billing_npi").agg(
        pl.col("deficit_documented").is_not_null().any().alias("flags"), pl.col("clinic_name").mode().sort().first()
    )
    return (
        lines.filter(~pl.col("rendering_npi").is_in(high))
        .group_by("rendering_npi", "service_date")
        .agg(pl.col("provider_specialty").first(), pl.col("provider_name").first())
        .join(practice, on="rendering_npi")
        .join(flags, on="billing_npi")
        .with_columns(pl.col("rendering_npi").is_in(assistants).alias("assistant"))
        .join(taken, on=["rendering_npi", "service_date"], how="anti")
        .sort("service_date", "rendering_npi")
    )


def _instances(days: pl.DataFrame, rng: np.random.Generator, needs: str, n: int, used: pl.DataFrame) -> pl.DataFrame:
    """``n`` instances: therapist A (and B, of A's practice) on one date, of therapist-days not
    ``used`` yet. A therapist belongs to one practice, so pairs of different (practice, date) never
    share a therapist-day."""
    free = days.join(used, on=["rendering_npi", "service_date"], how="anti")
    free = free[rng.permutation(free.height)]
    pt = free.filter((pl.col("provider_specialty") == "PT") & ~pl.col("assistant"))
    if needs == "A":
        chosen = pt.unique(["rendering_npi"], keep="first", maintain_order=True).head(n)
        return chosen.select(pl.all().name.suffix("_a")).rename({"service_date_a": "service_date"})
    other = {
        "AA": pt,
        "AQ": free.filter(pl.col("provider_specialty") == "PT"),
        "AB": free.filter((pl.col("provider_specialty") == "OT") & ~pl.col("assistant")),
    }[needs]
    pairs = (
        pt.join(other, on=["billing_npi", "service_date"], suffix="_b", maintain_order="left")
        .filter(pl.col("rendering_npi") != pl.col("rendering_npi_b"))
        .unique(["billing_npi", "service_date"], keep="first", maintain_order=True)
        .head(n)
    )
    return pairs.select(
        pl.col("rendering_npi").alias("rendering_npi_a"),
        "service_date",
        pl.col("billing_npi").alias("billing_npi_a"),
        pl.col("provider_specialty").alias("provider_specialty_a"),
        pl.col("provider_name").alias("provider_name_a"),
        pl.col("clinic_name").alias("clinic_name_a"),
        "rendering_npi_b",
        pl.col("billing_npi").alias("billing_npi_b"),
        "provider_specialty_b",
        "provider_name_b",
        "clinic_name_b",
        pl.col("assistant").alias("assistant_a"),
        "assistant_b",
        pl.col("flags").alias("flags_a"),
        "flags_b",
    )


def scenarios_per_kind(patient_days: float, rate: float = SCENARIO_RATE) -> int:
    """How many scenarios of each kind a month of about ``patient_days`` patient-days gets."""
    return 0 if rate <= 0 else max(1, round(rate * patient_days))


def add_scenarios(
    lines: pl.DataFrame, key: pl.DataFrame, world, rng: np.random.Generator, year: int, month: int, n: int
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The month's lines and key with ``n`` scenarios of each kind added (fewer where the month has
    too few free therapist-days), and the scenarios' record."""
    if n <= 0 or lines.height == 0:
        return lines, key, pl.DataFrame(schema=RECORD_SCHEMA)
    days = _therapist_days(lines, key, world)
    used = days.clear().select("rendering_npi", "service_date")
    new_lines, new_keys, records = [], [], []
    stamp = f"{year % 100:02d}{month:02d}"
    for k, kind in enumerate(KINDS):
        needs, template = TEMPLATES[kind]
        inst = _instances(days, rng, needs, n, used)
        if inst.height == 0:
            continue
        taken = [inst.select(pl.col("rendering_npi_a").alias("rendering_npi"), "service_date")]
        if "rendering_npi_b" in inst.columns:
            taken.append(inst.select(pl.col("rendering_npi_b").alias("rendering_npi"), "service_date"))
        used = pl.concat([used, *taken])
        rows = _lay(inst.with_row_index("inst"), template, kind, k, stamp, world)
        new_lines.append(rows)
        new_keys.append(_key(rows, kind))
        records.append(
            rows.select(
                pl.lit(kind).alias("kind"),
                "claim_id",
                "patient_id",
                pl.col("service_date").dt.strftime("%Y-%m-%d"),
                "rendering_npi",
            ).unique(maintain_order=True)
        )
    if not new_lines:
        return lines, key, pl.DataFrame(schema=RECORD_SCHEMA)
    added = pl.concat(new_lines)
    kept = _trim(lines, key, added.height, rng)
    return (
        pl.concat([kept, added.select(lines.columns)]),
        pl.concat([key, *new_keys]).cast(key.schema),
        pl.concat(records).cast(RECORD_SCHEMA),
    )


def _trim(lines: pl.DataFrame, key: pl.DataFrame, excess: int, rng: np.random.Generator) -> pl.DataFrame:
    """``lines`` without about ``excess`` lines of whole clean claims (none of a planted patient-day,
    line or therapist-day), chosen at random: the month keeps its size with the scenarios in it."""
    dated = key.with_columns(pl.col("service_date").str.to_date())
    planted = pl.concat(
        [
            lines.join(
                dated.filter(pl.col("patient_id").is_not_null()).select("patient_id", "service_date"),
                on=["patient_id", "service_date"],
                how="semi",
            ).select("claim_id"),
            lines.join(dated.filter(pl.col("claim_id").is_not_null()).select("claim_id"), on="claim_id", how="semi")
            .select("patient_id", "service_date")
            .join(lines, on=["patient_id", "service_date"])
            .select("claim_id"),
            lines.join(
                dated.filter(pl.col("patient_id").is_null() & pl.col("claim_id").is_null()).select(
                    "rendering_npi", "service_date"
                ),
                on=["rendering_npi", "service_date"],
                how="semi",
            ).select("claim_id"),
        ]
    ).unique()
    sizes = lines.join(planted, on="claim_id", how="anti").group_by("claim_id").len().sort("claim_id")
    if sizes.height == 0 or excess <= 0:
        return lines
    sizes = sizes[rng.permutation(sizes.height)]
    n_lines = sizes["len"].to_numpy()
    first = int(np.searchsorted(np.cumsum(n_lines), excess, side="right"))
    drop = sizes["claim_id"][:first].to_list()
    rest = excess - int(n_lines[:first].sum())
    singles = sizes[first:].filter(pl.col("len") == 1)["claim_id"][:rest].to_list()
    return lines.filter(~pl.col("claim_id").is_in(drop + singles))


def _lay(inst: pl.DataFrame, template: pl.DataFrame, kind: str, k: int, stamp: str, world) -> pl.DataFrame:
    """The template's lines for every instance, in the contract's columns."""
    two = "rendering_npi_b" in inst.columns
    rows = inst.join(template.with_row_index("tline"), how="cross")
    side = lambda c: (
        pl.when(pl.col("who") == 1).then(pl.col(f"{c}_b")).otherwise(pl.col(f"{c}_a")) if two else pl.col(f"{c}_a")
    )
    fee = pl.col("cpt_code").replace_strict(cat.FEE, default=30.0, return_dtype=pl.Float64)
    claim = pl.format(
        "{}{}S{}{}{}",
        pl.lit(world.claim_prefix),
        pl.lit(stamp),
        pl.lit(f"{k:02d}"),
        pl.col("inst").cast(pl.String).str.zfill(5),
        pl.col("claim").cast(pl.String),
    )
    at = lambda offset: pl.col("service_date").cast(pl.Datetime("us")) + pl.duration(minutes=EVENING + offset)
    disc = side("provider_specialty")
    rows = rows.with_columns(
        claim.alias("claim_id"),
        pl.format(
            "{}S{}{}{}{}",
            pl.lit(world.patient_prefix),
            pl.lit(stamp),
            pl.lit(f"{k:02d}"),
            pl.col("inst").cast(pl.String).str.zfill(5),
            pl.col("patient").cast(pl.String),
        ).alias("patient_id"),
        side("rendering_npi").alias("rendering_npi"),
        side("billing_npi").alias("billing_npi"),
        side("provider_name").alias("provider_name"),
        side("clinic_name").alias("clinic_name"),
        disc.alias("provider_specialty"),
        pl.concat_str(
            pl.when(disc == "OT").then(pl.lit("GO")).otherwise(pl.lit("GP")),
            pl.when(side("assistant")).then(pl.when(disc == "OT").then(pl.lit("CO")).otherwise(pl.lit("CQ"))),
            separator=";",
            ignore_nulls=True,
        ).alias("modifiers"),
        pl.col("units").alias("units_billed"),
        pl.col("total").alias("total_timed_minutes"),
        pl.col("payer").alias("payer_type"),
        pl.when(pl.col("payer") == M).then(pl.lit("Medicare Part B")).otherwise(pl.lit("Aetna")).alias("payer_name"),
        pl.lit(DX).alias("diagnosis_codes"),
        (fee * pl.col("units") * 1.6).round(0).alias("charge_amount"),
        (fee * pl.col("units")).round(2).alias("allowed_amount"),
        (fee * pl.col("units") * 0.8).round(2).alias("paid_amount"),
        pl.when(pl.col("start").is_not_null()).then(at(pl.col("start"))).alias("visit_start"),
        pl.when(pl.col("end").is_not_null()).then(at(pl.col("end"))).alias("visit_end"),
        pl.col("frequency").alias("claim_frequency"),
        *(pl.when(side("flags")).then(pl.lit(True)).alias(f"{e}_documented") for e in ("deficit", "goals", "response")),
        pl.when(pl.col("names").is_not_null())
        .then(
            pl.format(
                "{}{}S{}{}{}",
                pl.lit(world.claim_prefix),
                pl.lit(stamp),
                pl.lit(f"{k:02d}"),
                pl.col("inst").cast(pl.String).str.zfill(5),
                pl.col("names").cast(pl.String),
            )
        )
        .alias("original_claim_id"),
    )
    rows = rows.with_columns(pl.int_range(pl.len()).over("claim_id").add(1).cast(pl.Int64).alias("line_number"))
    return rows.select(
        [(pl.col(c) if c in rows.columns else pl.lit(None)).cast(t).alias(c) for c, t in CANONICAL.items()]
    ).with_columns(pl.lit(kind).alias("_kind"), rows["inst"].alias("_inst"))


def _key(rows: pl.DataFrame, kind: str) -> pl.DataFrame:
    """The answer-key rows the kind's instances raise (KEY_SCHEMA of ``month.py``)."""
    from pipelines.generate.answer_key import KEY_SCHEMA

    date = pl.col("service_date").dt.strftime("%Y-%m-%d")
    first_patient = (
        rows.sort("_inst", "claim_id", "line_number")
        .group_by("_inst", maintain_order=True)
        .agg(
            pl.col("patient_id").first(),
            pl.col("service_date").first(),
            pl.col("rendering_npi").min().alias("_npi"),
            pl.col("rendering_npi").first().alias("_therapist"),
        )
    )
    frames = []
    for rule, grain in EXPECTED[kind]:
        if grain == "lines":
            part = rows.select(
                pl.lit(rule).alias("rule_id"),
                pl.lit(None, pl.String).alias("rendering_npi"),
                pl.lit(None, pl.String).alias("patient_id"),
                pl.lit(None, pl.String).alias("service_date"),
                "claim_id",
                "line_number",
            )
        else:
            part = first_patient.select(
                pl.lit(rule).alias("rule_id"),
                (
                    pl.col("_npi")
                    if grain == "patient_npi"
                    else pl.col("_therapist")
                    if grain == "therapist"
                    else pl.lit(None, pl.String)
                ).alias("rendering_npi"),
                (pl.lit(None, pl.String) if grain == "therapist" else pl.col("patient_id")).alias("patient_id"),
                date.alias("service_date"),
                pl.lit(None, pl.String).alias("claim_id"),
                pl.lit(None, pl.Int64).alias("line_number"),
            )
        frames.append(
            part.with_columns(
                pl.lit(f"scenario_{kind}").alias("plant"), pl.lit(None, KEY_SCHEMA["missing"]).alias("missing")
            )
        )
    if not frames:
        return pl.DataFrame(schema=KEY_SCHEMA)
    return pl.concat(frames).cast(KEY_SCHEMA).unique(maintain_order=True)
