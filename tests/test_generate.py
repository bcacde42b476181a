"""The synthetic extract generator: contract-valid columns, clean data that breaks no rule, planted
findings that do break theirs, determinism, formats and the committed sample set.

The checks here re-derive the billing rules independently of the generator (chart, CMS allocation
with ties, AMA per code, overlaps, daily limits, 97112 diagnoses) from the reference seed files.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.generate import DEFAULT_RATES, generate_extract, is_valid_npi, write_samples
from pipelines.generate import catalog as cat
from pipelines.generate.npi import make_npis
from pipelines.generate.units import chart, cms_allocation, cms_max_units
from pipelines.ingest.columns import CANONICAL, OPTIONAL, PAYER_TYPES, REQUIRED

REFERENCE = Path(__file__).resolve().parent.parent / "pipelines" / "reference"
LINES, SEED, START, MONTHS = 5000, 11, "2026-01", 3
RULES = (
    "UNITS_OVER_MINUTES",
    "ALLOCATION",
    "DAILY_LIMIT",
    "MINUTES_MISSING",
    "DX_SUPPORT",
    "DUPLICATE",
    "OVERLAP",
    "IMPOSSIBLE_DAY",
    "DOCUMENTATION",
)
GRAIN = {
    "UNITS_OVER_MINUTES": {"patient_id", "service_date", "rendering_npi"},
    "ALLOCATION": {"patient_id", "service_date", "rendering_npi"},
    "DAILY_LIMIT": {"patient_id", "service_date"},
    "DUPLICATE": {"patient_id", "service_date"},
    "MINUTES_MISSING": {"claim_id", "line_number"},
    "DX_SUPPORT": {"claim_id", "line_number"},
    "OVERLAP": {"rendering_npi", "service_date"},
    "IMPOSSIBLE_DAY": {"rendering_npi", "service_date"},
    "DOCUMENTATION": {"patient_id", "service_date", "rendering_npi"},
    "UNTIMED_UNITS": {"patient_id", "service_date"},  # planted by the scenarios only
}
KEY_FIELDS = ("rendering_npi", "patient_id", "service_date", "claim_id", "line_number")


# The vendor profile's headers, as a vendor writes them (the header_profiles seed maps them).
VENDOR_HEADERS = {
    "Claim Number",
    "Line No",
    "Member ID",
    "Rendering Provider NPI",
    "Date of Service",
    "CPT",
    "Units",
    "Payer Type",
    "Billing Provider NPI",
    "Dx Codes",
    "Minutes",
}


def _reference_csv(name: str) -> list[dict[str, str]]:
    with open(REFERENCE / name, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


TIMED = sorted(r["cpt_code"] for r in _reference_csv("cpt_codes.csv") if r["timed"] == "true")
CMS_PAYERS = sorted(r["payer_type"] for r in _reference_csv("payer_methods.csv") if r["method"] == "cms")
SUPPORTIVE = (
    "^(?:"
    + "|".join(sorted(r["icd10_prefix"].replace(".", "") for r in _reference_csv("dx_97112_supportive.csv")))
    + ")"
)


def load(files: list[Path]) -> pl.DataFrame:
    """CSV extracts in the contract's types (strict: a value that does not parse fails the test)."""
    frames = []
    for path in files:
        text = pl.read_csv(path, infer_schema=False)
        frames.append(text.with_columns(pl.lit(path.name).alias("source_file")))
    text = pl.concat(frames)
    casts = []
    for col, dtype in CANONICAL.items():
        c = pl.col(col)
        if dtype == pl.Date:
            casts.append(c.str.to_date("%Y-%m-%d", strict=True))
        elif isinstance(dtype, pl.Datetime):
            casts.append(c.str.to_datetime("%Y-%m-%dT%H:%M:%S", time_unit="us", strict=True))
        elif dtype == pl.Boolean:
            casts.append(pl.when(c == "true").then(True).when(c == "false").then(False).alias(col))
        else:
            casts.append(c.cast(dtype, strict=True))
    return text.with_columns(casts)


def read_key(path: Path) -> pl.DataFrame:
    schema = {
        "rule_id": pl.String,
        "rendering_npi": pl.String,
        "patient_id": pl.String,
        "service_date": pl.String,
        "claim_id": pl.String,
        "line_number": pl.Int64,
        "plant": pl.String,
        "missing": pl.List(pl.String),
    }
    return pl.read_ndjson(path, schema=schema).with_columns(pl.col("service_date").str.to_date())


@pytest.fixture(scope="module")
def full_extract(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("extract")
    summary = generate_extract(out, LINES, SEED, start_month=START, months=MONTHS)
    scenarios = pl.read_ndjson(out / "scenarios.ndjson")
    return summary, load(list(summary.files)), read_key(summary.answer_key), scenarios


@pytest.fixture(scope="module")
def extract(full_extract):
    """The generator's own plants and clean data: the scenario claims (scenarios.py), hand-shaped to
    break some of the clean data's invariants on purpose, left aside (checked on their own below)."""
    summary, lines, key, scenarios = full_extract
    lines = lines.join(scenarios.select("claim_id").unique(), on="claim_id", how="anti")
    return summary, lines, key.filter(~pl.col("plant").str.starts_with("scenario_"))


def planted_days(key: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """Every patient-day touched by a patient-day or line plant."""
    by_day = key.filter(pl.col("patient_id").is_not_null()).select("patient_id", "service_date")
    by_line = lines.join(key.filter(pl.col("claim_id").is_not_null()).select("claim_id"), on="claim_id", how="semi")
    return pl.concat([by_day, by_line.select("patient_id", "service_date")]).unique()


def planted_therapist_days(key: pl.DataFrame) -> pl.DataFrame:
    return (
        key.filter(pl.col("rule_id").is_in(["OVERLAP", "IMPOSSIBLE_DAY"]))
        .select("rendering_npi", "service_date")
        .unique()
    )


def clean_lines(lines: pl.DataFrame, key: pl.DataFrame) -> pl.DataFrame:
    return lines.join(planted_days(key, lines), on=["patient_id", "service_date"], how="anti")


def chart_expr(minutes: pl.Expr) -> pl.Expr:
    return pl.when(minutes >= 8).then((minutes + 7) // 15).otherwise(0)


def units_check(lines: pl.DataFrame) -> pl.DataFrame:
    """Per timed line: the range of units a correct allocation allows (CMS: blocks first, leftover to
    the largest remaining minutes, ties open the range; AMA: the chart per code), and the claim's
    billed and supported totals. Lines without per-line minutes only get the claim-level totals."""
    timed = lines.filter(pl.col("cpt_code").is_in(TIMED)).with_columns(
        pl.col("payer_type").is_in(CMS_PAYERS).alias("cms")
    )
    m = pl.col("minutes")
    blocks, rest = m // 15, m % 15
    per_claim = ["claim_id"]
    timed = timed.with_columns(
        pl.col("total_timed_minutes").alias("total"),
        pl.col("units_billed").sum().over(per_claim).alias("billed"),
        (m // 15).sum().over(per_claim).alias("blocks_sum"),
        rest.alias("rest"),
    ).with_columns(
        pl.when(pl.col("cms"))
        .then(chart_expr(pl.col("total")))
        .otherwise(chart_expr(m).sum().over(per_claim))
        .alias("supported"),
    )
    leftover = pl.col("supported") - pl.col("blocks_sum")
    ahead = pl.col("rest").rank("min", descending=True).over(per_claim) - 1
    level = pl.len().over("claim_id", "rest")
    return timed.with_columns(
        pl.when(pl.col("cms"))
        .then(blocks + (ahead + level <= leftover).cast(pl.Int64))
        .otherwise(chart_expr(m))
        .alias("lo"),
        pl.when(pl.col("cms")).then(blocks + (ahead < leftover).cast(pl.Int64)).otherwise(chart_expr(m)).alias("hi"),
    )


# --- columns ----------------------------------------------------------------------------------------------


def test_one_file_per_month_with_every_contract_column(full_extract):
    summary, lines, _, _ = full_extract
    assert [p.name for p in summary.files] == ["claims_2026_01.csv", "claims_2026_02.csv", "claims_2026_03.csv"]
    assert summary.total_lines == LINES == lines.height
    for path in summary.files:
        with open(path, encoding="utf-8") as stream:
            header = stream.readline().strip().split(",")
        assert header == list(CANONICAL)
        assert set(REQUIRED) <= set(header) and set(OPTIONAL) <= set(header)
    assert (summary.out_dir / "answer_key.ndjson").exists()
    assert not list(summary.out_dir.glob("answer_key.csv"))


def test_required_columns_are_valid(extract):
    _, lines, _ = extract
    assert lines["claim_id"].str.len_chars().min() > 0
    assert lines["patient_id"].str.len_chars().min() > 0
    assert lines["line_number"].min() >= 1
    assert lines.select("claim_id", "line_number").is_unique().all()
    for col in ("rendering_npi", "billing_npi"):
        npis = lines[col].unique().to_list()
        assert all(is_valid_npi(n) for n in npis), col
    first, last = dt.date(2026, 1, 1), dt.date(2026, 3, 31)
    assert lines["service_date"].min() >= first and lines["service_date"].max() <= last
    assert lines["service_date"].dt.weekday().max() <= 5  # clinics are closed on weekends
    assert lines["cpt_code"].str.contains(r"^([0-9]{5}|[A-Z][0-9]{4})$").all()
    assert lines["units_billed"].min() >= 0
    assert set(lines["payer_type"].unique()) <= set(PAYER_TYPES)
    assert {"medicare", "medicare_advantage", "medicaid", "commercial"} <= set(lines["payer_type"].unique())
    assert lines["minutes"].drop_nulls().is_between(0, 720).all()
    assert lines["total_timed_minutes"].drop_nulls().is_between(0, 1440).all()
    assert (lines["visit_end"] > lines["visit_start"]).all()
    assert (lines["visit_start"].dt.date() == lines["service_date"]).all()
    assert (lines["visit_end"].dt.date() == lines["service_date"]).all()
    for col in ("charge_amount", "allowed_amount", "paid_amount"):
        assert lines[col].min() >= 0
    assert lines["modifiers"].str.contains(r"^(GP|GO)([;, ](CQ|CO|59|KX)){0,3}$").all()
    icd = r"[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?"
    assert lines["diagnosis_codes"].str.contains(f"^{icd}(;{icd})*$").all()
    assert set(lines["provider_specialty"].unique()) == {"PT", "OT"}


def test_rows_are_not_sorted(extract):
    summary, _, _ = extract
    first = pl.read_csv(summary.files[0], infer_schema=False)
    assert not first["claim_id"].is_sorted()


def test_visits_carry_one_total_and_one_set_of_diagnoses(extract):
    _, lines, _ = extract
    per_claim = lines.group_by("claim_id").agg(
        pl.col("total_timed_minutes").n_unique().alias("totals"),
        pl.col("diagnosis_codes").n_unique().alias("dx"),
        pl.col("visit_start").n_unique().alias("starts"),
        pl.col("cpt_code").n_unique().alias("codes"),
        pl.len().alias("n"),
    )
    assert per_claim["totals"].max() == 1 and per_claim["dx"].max() == 1 and per_claim["starts"].max() == 1
    assert (per_claim["codes"] == per_claim["n"]).all()  # a code appears once per claim
    assert per_claim["n"].max() <= 4


# --- clean data breaks no rule ---------------------------------------------------------------------------------------


def test_clean_units_match_the_payers_method(extract):
    _, lines, key = extract
    checked = units_check(clean_lines(lines, key))
    # claim level: billed timed units equal the units the documented minutes support
    claims = checked.group_by("claim_id").agg(
        pl.col("billed").first(), pl.col("supported").first(), pl.col("cms").first()
    )
    assert claims.height > 1000
    assert (claims["billed"] == claims["supported"]).all()
    assert claims["cms"].any() and (~claims["cms"]).any()
    # line level, where per-code minutes exist: inside the allowed range (ties open it)
    per_line = checked.filter(pl.col("minutes").is_not_null())
    bad = per_line.filter((pl.col("units_billed") < pl.col("lo")) | (pl.col("units_billed") > pl.col("hi")))
    assert bad.height == 0, bad.select("claim_id", "cpt_code", "minutes", "units_billed", "lo", "hi")
    # the visit total is the sum of its timed minutes; zero-unit timed lines keep their minutes
    sums = per_line.group_by("claim_id").agg(pl.col("minutes").sum(), pl.col("total").first())
    assert (sums["minutes"] == sums["total"]).all()
    zero = checked.filter(pl.col("units_billed") == 0)
    assert zero.height > 0 and zero.filter(pl.col("minutes").is_null() & pl.col("total").is_null()).height == 0


def test_minutes_are_documented_on_clean_lines(extract):
    _, lines, key = extract
    timed = clean_lines(lines, key).filter(pl.col("cpt_code").is_in(TIMED) & (pl.col("units_billed") > 0))
    assert timed.filter(pl.col("minutes").is_null() & pl.col("total_timed_minutes").is_null()).height == 0
    # some clinics export the visit total only (Medicare notes must record it; per-code minutes are voluntary)
    assert timed.filter(pl.col("minutes").is_null()).height > 0


def test_no_overlap_among_unplanted_visits(extract):
    _, lines, key = extract
    visits = (
        lines.filter(pl.col("cpt_code").is_in(TIMED) & (pl.col("units_billed") > 0))
        .join(planted_therapist_days(key), on=["rendering_npi", "service_date"], how="anti")
        .select("rendering_npi", "service_date", "patient_id", "visit_start", "visit_end")
        .unique()
        .sort("rendering_npi", "service_date", "visit_start")
    )
    earlier_end = pl.col("visit_end").cum_max().shift(1).over("rendering_npi", "service_date")
    clash = visits.filter(pl.col("visit_start") < earlier_end)
    assert clash.height == 0, clash
    # back-to-back visits (one ends when the next starts) exist and are not overlaps
    touching = visits.filter(
        pl.col("visit_start") == pl.col("visit_end").shift(1).over("rendering_npi", "service_date")
    )
    assert touching.height > 0


def test_a_patient_is_in_one_place_at_a_time(extract):
    _, lines, key = extract
    visits = (
        lines.join(
            key.filter(pl.col("rule_id") == "DUPLICATE").select("patient_id", "service_date"),
            on=["patient_id", "service_date"],
            how="anti",
        )
        .select("patient_id", "service_date", "claim_id", "visit_start", "visit_end")
        .unique()
        .sort("patient_id", "service_date", "visit_start")
    )
    earlier_end = pl.col("visit_end").cum_max().shift(1).over("patient_id", "service_date")
    assert visits.filter(pl.col("visit_start") < earlier_end).height == 0
    # some patients have PT and OT the same day: two 8-minute-rule groups
    both = lines.group_by("patient_id", "service_date").agg(pl.col("provider_specialty").n_unique().alias("n"))
    assert both.filter(pl.col("n") == 2).height > 0


def test_every_clean_97112_claim_has_a_supportive_diagnosis(extract):
    _, lines, key = extract
    dx_claims = key.filter(pl.col("rule_id") == "DX_SUPPORT")["claim_id"]
    billed_112 = (pl.col("cpt_code") == "97112") & (pl.col("units_billed") > 0)
    claims = lines.filter(billed_112).select("claim_id", "diagnosis_codes").unique()
    codes = pl.col("diagnosis_codes").str.replace_all(".", "", literal=True).str.split(";")
    supported = codes.list.eval(pl.element().str.contains(SUPPORTIVE)).list.any()
    claims = claims.with_columns(supported.alias("ok"))
    clean = claims.filter(~pl.col("claim_id").is_in(dx_claims.to_list()))
    assert clean.height > 50 and clean["ok"].all()
    planted = claims.filter(pl.col("claim_id").is_in(dx_claims.to_list()))
    assert planted.height > 0 and not planted["ok"].any()


def test_daily_97112_units_stay_within_the_limit_unless_planted(extract):
    _, lines, key = extract
    per_day = (
        lines.filter(pl.col("cpt_code") == "97112")
        .group_by("patient_id", "service_date")
        .agg(pl.col("units_billed").sum())
    )
    planted = key.filter(pl.col("rule_id") == "DAILY_LIMIT").select("patient_id", "service_date")
    assert per_day.join(planted, on=["patient_id", "service_date"], how="anti")["units_billed"].max() <= 4
    over = per_day.join(planted, on=["patient_id", "service_date"], how="semi")
    assert over.height == planted.height and over["units_billed"].min() >= 5


def test_therapist_days_stay_under_the_ceiling_unless_planted(extract):
    _, lines, key = extract
    timed = lines.filter(pl.col("cpt_code").is_in(TIMED))
    per_visit = timed.group_by("rendering_npi", "service_date", "claim_id").agg(pl.col("total_timed_minutes").first())
    days = per_visit.group_by("rendering_npi", "service_date").agg(pl.col("total_timed_minutes").sum().alias("m"))
    impossible = key.filter(pl.col("rule_id") == "IMPOSSIBLE_DAY").select("rendering_npi", "service_date")
    clean = days.join(impossible, on=["rendering_npi", "service_date"], how="anti")
    # clean days stay under ~9 hours, even counting a duplicate re-bill's minutes twice
    assert clean["m"].max() <= 720
    assert days.join(impossible, on=["rendering_npi", "service_date"], how="semi")["m"].min() > 720


def test_no_service_is_billed_twice_unless_planted(extract):
    _, lines, key = extract
    services = (
        lines.filter(pl.col("units_billed") > 0)
        .group_by("patient_id", "service_date", "rendering_npi", "cpt_code", "units_billed")
        .agg(pl.col("claim_id").n_unique().alias("claims"))
        .filter(pl.col("claims") > 1)
        .select("patient_id", "service_date")
        .unique()
    )
    planted = key.filter(pl.col("rule_id") == "DUPLICATE").select("patient_id", "service_date")
    assert services.sort(pl.all()).equals(planted.sort(pl.all()))


# --- plants ----------------------------------------------------------------------------------------------------------


def test_every_rule_is_planted_and_keyed_on_its_grain(extract):
    summary, _, key = extract
    assert set(key["rule_id"]) == set(RULES)
    full = read_key(summary.answer_key)  # with the scenarios' rows
    for rule in (*RULES, "UNTIMED_UNITS"):
        assert summary.planted[rule] == full.filter(pl.col("rule_id") == rule).height >= 1
    for row in full.iter_rows(named=True):
        filled = {f for f in KEY_FIELDS if row[f] is not None}
        assert filled == GRAIN[row["rule_id"]], row
    # no finding is listed twice
    assert full.select("rule_id", *KEY_FIELDS).is_unique().all()


def test_every_scenario_is_laid_and_keyed_as_its_kind_says(full_extract):
    from pipelines.generate.scenarios import EXPECTED, KINDS, TEMPLATES

    _, lines, key, scenarios = full_extract
    # the pair kinds need two therapists of one practice working that day: a small extract may lack them
    single = {kind for kind, (needs, _) in TEMPLATES.items() if needs == "A"}
    assert single <= set(scenarios["kind"]) <= set(KINDS)
    claims = lines.join(scenarios.select("claim_id", "kind").unique(), on="claim_id")
    for kind in set(scenarios["kind"]):
        rows = key.filter(pl.col("plant") == f"scenario_{kind}")
        assert set(rows["rule_id"]) == {rule for rule, _ in EXPECTED[kind]}, kind
    # negative kinds: the same service twice at two times, a replacement, a void
    sessions = (
        claims.filter(pl.col("kind") == "two_sessions")
        .group_by("patient_id")
        .agg(pl.col("visit_start").n_unique().alias("starts"), pl.col("claim_id").n_unique().alias("claims"))
    )
    assert (sessions["starts"] == 2).all() and (sessions["claims"] == 2).all()
    replaced = claims.filter(pl.col("kind").is_in(["replacement", "void"]) & pl.col("claim_frequency").is_not_null())
    assert set(replaced["claim_frequency"]) == {7, 8}
    assert replaced["original_claim_id"].is_in(claims["claim_id"].to_list()).all()
    # co-treatment: two clinicians, one patient, one window; a PT and an OT line under one visit total
    co = (
        claims.filter(pl.col("kind") == "cotreatment")
        .group_by("patient_id")
        .agg(pl.col("rendering_npi").n_unique(), pl.col("visit_start").n_unique())
    )
    assert (co["rendering_npi"] == 2).all() and (co["visit_start"] == 1).all()
    ptot = (
        claims.filter(pl.col("kind") == "pt_ot_visit_total")
        .group_by("claim_id")
        .agg(  # (when laid)
            pl.col("modifiers").sort().str.join(","), pl.col("total_timed_minutes").n_unique()
        )
    )
    assert (ptot["modifiers"] == "GO,GP").all() and (ptot["total_timed_minutes"] == 1).all()


def test_plants_break_their_rule(extract):
    _, lines, key = extract
    checked = units_check(lines)
    claims = checked.group_by("patient_id", "service_date", "rendering_npi", "claim_id").agg(
        pl.col("billed").first(),
        pl.col("supported").first(),
        (pl.col("units_billed") > pl.col("hi")).any().alias("over_code"),
    )
    day_npi = ["patient_id", "service_date", "rendering_npi"]
    uo = key.filter(pl.col("rule_id") == "UNITS_OVER_MINUTES").join(claims, on=day_npi)
    assert uo.height == key.filter(pl.col("rule_id") == "UNITS_OVER_MINUTES").height
    assert (uo["billed"] > uo["supported"]).all()
    alloc = key.filter(pl.col("rule_id") == "ALLOCATION").join(claims, on=day_npi)
    assert (alloc["billed"] == alloc["supported"]).all() and alloc["over_code"].all()
    missing = key.filter(pl.col("rule_id") == "MINUTES_MISSING").join(lines, on=["claim_id", "line_number"])
    assert missing.height == key.filter(pl.col("rule_id") == "MINUTES_MISSING").height
    assert missing["minutes"].is_null().all() and missing["total_timed_minutes"].is_null().all()
    assert (missing["units_billed"] > 0).all() and missing["cpt_code"].is_in(TIMED).all()
    dx = key.filter(pl.col("rule_id") == "DX_SUPPORT").join(lines, on=["claim_id", "line_number"])
    assert (dx["cpt_code"] == "97112").all() and (dx["units_billed"] > 0).all()
    # OVERLAP: two visits of different patients overlap on each planted therapist-day
    visits = (
        lines.filter(pl.col("cpt_code").is_in(TIMED) & (pl.col("units_billed") > 0))
        .join(
            key.filter(pl.col("rule_id") == "OVERLAP").select("rendering_npi", "service_date"),
            on=["rendering_npi", "service_date"],
        )
        .select("rendering_npi", "service_date", "patient_id", "visit_start", "visit_end")
        .unique()
        .sort("rendering_npi", "service_date", "visit_start")
        .with_columns(
            (
                pl.col("visit_start") < pl.col("visit_end").cum_max().shift(1).over("rendering_npi", "service_date")
            ).alias("clash")
        )
    )
    assert visits.group_by("rendering_npi", "service_date").agg(pl.col("clash").any())["clash"].all()


def test_plants_sit_on_distinct_days(extract):
    _, lines, key = extract
    day_rules = key.filter(pl.col("patient_id").is_not_null()).select("rule_id", "patient_id", "service_date")
    line_rules = (
        key.filter(pl.col("claim_id").is_not_null())
        .select("rule_id", "claim_id")
        .join(lines.select("claim_id", "patient_id", "service_date").unique(), on="claim_id")
        .select("rule_id", "patient_id", "service_date")
    )
    both = pl.concat([day_rules, line_rules]).unique()
    per_day = both.group_by("patient_id", "service_date").len()
    assert both.null_count().sum_horizontal().item() == 0
    assert per_day["len"].max() == 1, per_day.filter(pl.col("len") > 1)
    tds = planted_therapist_days(key)
    assert tds.height == key.filter(pl.col("rule_id").is_in(["OVERLAP", "IMPOSSIBLE_DAY"])).height


def test_plant_rates_follow_the_patient_days(extract):
    summary, lines, _ = extract
    patient_days = lines.select("patient_id", "service_date").n_unique()
    rate = summary.planted["DUPLICATE"] / patient_days
    assert 0.5 * DEFAULT_RATES["DUPLICATE"] < rate < 2 * DEFAULT_RATES["DUPLICATE"]


def test_high_97112_providers_bill_far_more_97112_within_the_rules(extract):
    summary, lines, _ = extract
    providers = [json.loads(x)["rendering_npi"] for x in summary.planted_providers.read_text().splitlines()]
    assert providers == list(summary.high_97112_providers) and len(providers) >= 1
    assert all(json.loads(x)["kind"] == "high_97112" for x in summary.planted_providers.read_text().splitlines())
    days = (
        lines.filter(pl.col("provider_specialty") == "PT")
        .group_by("rendering_npi", "patient_id", "service_date")
        .agg(pl.col("units_billed").filter(pl.col("cpt_code") == "97112").sum().alias("u"))
        .with_columns(pl.col("rendering_npi").is_in(providers).alias("high"))
    )
    means = dict(days.group_by("high").agg(pl.col("u").mean()).iter_rows())
    assert means[True] > 2.0 and means[False] < 0.6


# --- DOCUMENTATION: flags, notes and their gaps ------------------------------------------------------------------

DAY = ["patient_id", "service_date", "rendering_npi"]
ELEMENTS = ("deficit", "goals", "response", "technique")
FLAG_OF = {"deficit": "deficit_documented", "goals": "goals_documented", "response": "response_documented"}


@pytest.fixture(scope="module")
def doc_extract(tmp_path_factory: pytest.TempPathFactory):
    """A larger extract, for enough DOCUMENTATION plants of every export kind."""
    out = tmp_path_factory.mktemp("doc_extract")
    summary = generate_extract(out, 40_000, 23, start_month="2026-02", months=2)
    return summary, load(list(summary.files)), read_key(summary.answer_key)


def doc_days(lines: pl.DataFrame) -> pl.DataFrame:
    """Per patient-day with its therapist billing 97112: the flags and notes of its 97112 visits."""
    billed = (
        lines.filter((pl.col("cpt_code") == "97112") & (pl.col("units_billed") > 0)).select(*DAY, "claim_id").unique()
    )
    visits = lines.join(billed, on=[*DAY, "claim_id"], how="semi")
    return visits.group_by(DAY).agg(
        *(pl.col(f).drop_nulls().unique().alias(f) for f in FLAG_OF.values()),
        pl.col("note_text").drop_nulls().unique().alias("notes"),
    )


def shows(note: str, element: str) -> bool:
    """The note carries one of the catalog's phrases showing the element (independent of the rule)."""
    low = note.lower()
    return any(p.lower() in low for p in cat.NOTE_SHOWS[element])


def test_documentation_plants_lack_what_the_key_says(doc_extract):
    _, lines, key = doc_extract
    plants = key.filter(pl.col("rule_id") == "DOCUMENTATION").join(doc_days(lines), on=DAY, how="left")
    assert plants.height >= 30 and plants["notes"].null_count() == 0
    for row in plants.iter_rows(named=True):
        missing = set(row["missing"])
        assert 1 <= len(missing) <= 2 and missing <= set(ELEMENTS), row["missing"]
        flags_on = any(row[f] for f in FLAG_OF.values())
        note = row["notes"][0] if row["notes"] else None
        assert len(row["notes"]) <= 1
        assert flags_on or note is not None
        for element, flag in FLAG_OF.items():
            if flags_on:
                assert row[flag] == ([False] if element in missing else [True]), (element, row)
            elif element in missing:
                assert not shows(note, element), (element, note)
            else:
                assert shows(note, element), (element, note)
        if "technique" in missing:
            assert note is not None and not shows(note, "technique"), note
        elif note is not None:
            assert shows(note, "technique"), note
        assert (
            row["plant"]
            == {
                (True, False): "documentation_flags",
                (False, True): "documentation_notes",
                (True, True): "documentation_both",
            }[(flags_on, note is not None)]
        )


def test_clean_97112_days_are_fully_documented(doc_extract):
    _, lines, key = doc_extract
    planted = key.filter(pl.col("rule_id") == "DOCUMENTATION").select(DAY)
    clean = doc_days(lines).join(planted, on=DAY, how="anti")
    assert clean.height > 1000
    precedence = 0
    for row in clean.iter_rows(named=True):
        flags_on = any(row[f] for f in FLAG_OF.values())
        for flag in FLAG_OF.values():
            assert row[flag] in ([True], []), row
        for note in row["notes"]:
            assert shows(note, "technique"), note
            for element in FLAG_OF:
                if not shows(note, element):
                    assert flags_on, (element, note)  # only a (true) flag may cover a gap in the note
                    precedence += 1
    assert precedence > 0  # clean notes whose gap the flag covers: the flag takes precedence


def test_clinics_export_flags_notes_or_both(doc_extract):
    summary, lines, key = doc_extract
    days = doc_days(lines).with_columns(
        pl.any_horizontal(pl.col(f).list.len() > 0 for f in FLAG_OF.values()).alias("flags"),
        (pl.col("notes").list.len() > 0).alias("note"),
    )
    kinds = set(days.select("flags", "note").unique().iter_rows())
    assert kinds == {(True, False), (False, True), (True, True)}
    plants = key.filter(pl.col("rule_id") == "DOCUMENTATION")
    assert set(plants["plant"]) == {"documentation_flags", "documentation_notes", "documentation_both"}
    assert summary.planted["DOCUMENTATION"] == plants.height
    # notes are written for 97112 visits only; flags of a clinic are all filled or all empty
    claims_112 = lines.filter(pl.col("cpt_code") == "97112").select("claim_id").unique()
    assert (
        lines.join(claims_112, on="claim_id", how="anti")["note_text"].null_count()
        == lines.join(claims_112, on="claim_id", how="anti").height
    )
    per_clinic = lines.group_by("billing_npi").agg(pl.col("deficit_documented").is_null().mean().alias("null_share"))
    assert set(per_clinic["null_share"].round(6)) <= {0.0, 1.0}


def test_notes_vary_abbreviate_and_misspell(doc_extract):
    _, lines, _ = doc_extract
    notes = lines["note_text"].drop_nulls().unique()
    assert notes.len() > 300
    text = "\n".join(notes.to_list())
    for abbreviation in ("pt", "SLS", "BOS", "LOB", "DGI", "TUG", "NMR", "PNF"):
        assert re.search(rf"\b{abbreviation}\b", text, re.IGNORECASE), abbreviation
    for typo in ("balnce", "toleratd", "perturbaton", "proprioceptoin"):
        assert typo in text.lower(), typo
    for header in ("S: ", "Deficit: ", "Assessment: ", "Plan: "):
        assert header.lower() in text.lower(), header
    assert (notes.str.to_lowercase() == notes).any() and (notes.str.to_lowercase() != notes).any()


def test_documentation_plant_rate_follows_the_97112_patient_days(doc_extract):
    summary, lines, _ = doc_extract
    days_112 = lines.filter((pl.col("cpt_code") == "97112") & (pl.col("units_billed") > 0)).select(DAY).n_unique()
    rate = summary.planted["DOCUMENTATION"] / days_112
    assert 0.5 * DEFAULT_RATES["DOCUMENTATION"] < rate < 1.5 * DEFAULT_RATES["DOCUMENTATION"]


def test_every_note_phrase_states_at_most_its_own_element():
    """The detector the DOCUMENTATION rule uses finds exactly the element each catalog phrase is for,
    and nothing in the phrases that lack one (catalog.py's promise)."""
    from pipelines.notes.detector import detect, load_vocabulary

    rows = [(p, {e}) for e, phrases in cat.NOTE_SHOWS.items() for p in phrases]
    rows += [(p, set()) for phrases in cat.NOTE_LACKS.values() for p in phrases]
    rows += [(p, set()) for p in cat.NOTE_OPENING]
    found = pl.DataFrame({"n": [p for p, _ in rows]}).select(**detect(pl.col("n"), load_vocabulary()))
    for (phrase, want), got in zip(rows, found.iter_rows(named=True), strict=True):
        assert {e for e, span in got.items() if span is not None} == want, (phrase, got)


# --- determinism, formats, arguments -------------------------------------------------------------------------------------


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_same_bytes(tmp_path):
    a = generate_extract(tmp_path / "a", 2000, 5, start_month="2026-04", months=2)
    b = generate_extract(tmp_path / "b", 2000, 5, start_month="2026-04", months=2)
    c = generate_extract(tmp_path / "c", 2000, 6, start_month="2026-04", months=2)
    assert _digests(a.out_dir) == _digests(b.out_dir)
    assert _digests(a.out_dir) != _digests(c.out_dir)


@pytest.mark.parametrize("fmt", ["csv.gz", "parquet", "xlsx"])
def test_other_formats_hold_the_same_lines(tmp_path, fmt):
    ref = generate_extract(tmp_path / "csv", 1500, 9, start_month="2026-06", months=1)
    other = generate_extract(tmp_path / fmt, 1500, 9, start_month="2026-06", months=1, fmt=fmt)
    path = other.files[0]
    assert path.name == f"claims_2026_06.{fmt}"
    if fmt == "csv.gz":
        with gzip.open(path, "rb") as stream:
            frame = pl.read_csv(stream.read(), infer_schema=False)
    elif fmt == "parquet":
        frame = pl.read_parquet(path)
        assert frame.schema["service_date"] == pl.Date and frame.schema["units_billed"] == pl.Int64
    else:
        frame = pl.read_excel(path, infer_schema_length=0)
    base = pl.read_csv(ref.files[0], infer_schema=False)
    assert frame.columns == base.columns
    assert frame["claim_id"].cast(pl.String).to_list() == base["claim_id"].to_list()
    assert (tmp_path / fmt / "answer_key.ndjson").read_bytes() == (tmp_path / "csv" / "answer_key.ndjson").read_bytes()


def test_vendor_headers(tmp_path):
    summary = generate_extract(tmp_path, 800, 3, start_month="2026-08", months=1, vendor_headers=True)
    frame = pl.read_csv(summary.files[0], infer_schema=False)
    assert set(frame.columns) >= VENDOR_HEADERS
    assert "service_date" not in frame.columns and "payer_name" in frame.columns
    assert frame["Date of Service"].str.contains(r"^08/\d{2}/2026$").all()


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="past"):
        generate_extract(tmp_path, 100, 1, start_month="2099-01", months=1)
    with pytest.raises(ValueError, match="fmt"):
        generate_extract(tmp_path, 100, 1, start_month="2026-01", months=1, fmt="json")
    with pytest.raises(ValueError, match="YYYY-MM"):
        generate_extract(tmp_path, 100, 1, start_month="January", months=1)


def test_rates_can_switch_plants_off(tmp_path):
    summary = generate_extract(
        tmp_path, 1500, 4, start_month="2026-05", months=1, rates=dict.fromkeys(RULES, 0.0), scenario_rate=0.0
    )
    assert sum(summary.planted.values()) == 0 and summary.answer_key.read_text() == ""


# --- units and NPIs ------------------------------------------------------------------------------------------------------


def test_chart():
    minutes = np.array([0, 7, 8, 22, 23, 37, 38, 52, 53, 67, 68, 82, 83, 97, 98, 112, 113, 127])
    assert chart(minutes).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8]


def test_manual_examples():
    present = np.ones((1, 2), bool)
    # 24 min 97112 + 23 min 97110 = 47 min = 3 units: 2 x 97112, 1 x 97110
    assert cms_allocation(np.array([[24, 23]]), present, np.zeros((1, 2))).tolist() == [[2, 1]]
    # 33 min 97110 + 7 min 97140 = 40 min = 3 units: 2 x 97110, 1 x 97140
    assert cms_allocation(np.array([[33, 7]]), present, np.zeros((1, 2))).tolist() == [[2, 1]]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=70), min_size=1, max_size=3), st.randoms(use_true_random=False))
def test_cms_allocation_properties(minutes, rnd):
    m = np.array([minutes + [0] * (3 - len(minutes))])
    present = np.arange(3)[None, :] < len(minutes)
    tiebreak = np.array([[rnd.random() for _ in range(3)]])
    units = cms_allocation(m, present, tiebreak)
    top = cms_max_units(m, present)
    assert units.sum() == chart(m.sum(axis=1))[0]
    assert (units >= m // 15).all() and (units <= top).all()
    assert (units[~present] == 0).all()


def test_npis():
    assert is_valid_npi("1234567893") and not is_valid_npi("1234567890")
    assert not is_valid_npi("123456789") and not is_valid_npi("12345678AB")
    npis = make_npis(np.random.default_rng(0), 500, 3)
    assert len(set(npis)) == 500 and all(is_valid_npi(n) for n in npis)


# --- the committed sample set ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("samples")
    return write_samples(out)


def test_sample_files(samples):
    names = sorted(p.name for p in samples.out_dir.iterdir())
    assert names == sorted(
        [
            "claims_2026_09.csv",
            "claims_2026_10_vendor.xlsx",
            "claims_2026_10_bad_rows.csv",
            "claims_truncated.parquet",
            "answer_key.ndjson",
            "planted_providers.ndjson",
            "quarantine_key.ndjson",
            "ingest_key.ndjson",
            "scenarios.ndjson",
        ]
    )
    assert 3000 <= samples.total_lines <= 4000
    assert len(samples.high_97112_providers) == 2
    key = read_key(samples.answer_key)
    assert set(key["rule_id"]) == {*RULES, "UNTIMED_UNITS"}


def test_sample_vendor_workbook(samples):
    frame = pl.read_excel(samples.out_dir / "claims_2026_10_vendor.xlsx", infer_schema_length=0)
    assert set(frame.columns) >= VENDOR_HEADERS
    assert not {"claim_id", "service_date", "cpt_code"} & set(frame.columns)
    assert frame["Date of Service"].str.contains(r"^10/\d{2}/2026$").all()
    assert frame.height == samples.lines_per_file["claims_2026_10_vendor.xlsx"]


def is_invalid(column: str, value: str | None) -> bool:
    """Whether a quarantined row's first-reason cell breaks its column's rule of the input contract."""
    cell = value or ""
    checks = {
        "claim_id": lambda: value is None,
        "patient_id": lambda: value is None,
        "line_number": lambda: not cell.isdigit() or int(cell) < 1,
        "rendering_npi": lambda: not is_valid_npi(cell),
        "billing_npi": lambda: not is_valid_npi(cell),
        "cpt_code": lambda: not re.fullmatch(r"[0-9]{5}|[A-Z][0-9]{4}", cell),
        "units_billed": lambda: not cell.isdigit(),
        "payer_type": lambda: value not in PAYER_TYPES,
        "minutes": lambda: not cell.isdigit() or int(cell) > 720,
        "total_timed_minutes": lambda: not cell.isdigit() or int(cell) > 1440,
        "charge_amount": lambda: cell.startswith("-"),
        "allowed_amount": lambda: cell.startswith("-"),
        "paid_amount": lambda: not re.fullmatch(r"\d+(\.\d+)?", cell),
        "deficit_documented": lambda: value not in ("true", "false"),
    }
    return checks[column]()


def test_sample_bad_rows_and_hostile_text(samples):
    path = samples.out_dir / "claims_2026_10_bad_rows.csv"
    text = pl.read_csv(path, infer_schema=False).with_row_index("source_row", offset=1)
    quarantine = pl.read_ndjson(samples.quarantine_key)
    assert quarantine.height == 50 and 90 <= text.height - 50 <= 110
    assert set(quarantine["source_file"]) == {"claims_2026_10_bad_rows.csv"}
    bad = text.join(quarantine.with_columns(pl.col("source_row").cast(pl.UInt32)), on="source_row")
    date_ok = pl.col("service_date").str.to_date("%Y-%m-%d", strict=False)
    for row in bad.iter_rows(named=True):
        for reason in row["reasons"]:
            assert reason in CANONICAL, reason
        value = row[row["reasons"][0]]
        first = row["reasons"][0]
        if first == "service_date":
            parsed = pl.Series([value], dtype=pl.String).str.to_date("%Y-%m-%d", strict=False)[0]
            assert parsed is None or parsed > dt.date.today() or parsed < dt.date(2000, 1, 1)
        elif first == "visit_start":
            with pytest.raises(ValueError):
                dt.datetime.fromisoformat(row["visit_start"])
        elif first == "visit_end":
            start, end = dt.datetime.fromisoformat(row["visit_start"]), dt.datetime.fromisoformat(row["visit_end"])
            assert end <= start or end.date() != start.date()
        else:
            assert is_invalid(first, value), (first, value)
    valid = text.join(quarantine.with_columns(pl.col("source_row").cast(pl.UInt32)), on="source_row", how="anti")
    assert valid["claim_id"].str.len_chars().min() > 0
    assert valid.select(date_ok.is_not_null().all()).item()
    names = set(valid["payer_name"].to_list())
    for hostile in ('=HYPERLINK("http://x","y")', "+1+1", "@SUM(A1)", "x'); drop table claim_lines; --"):
        assert hostile in names
    assert valid.filter(pl.col("note_text").str.starts_with("=")).height >= 1


def test_sample_truncated_parquet_is_unreadable(samples):
    path = samples.out_dir / "claims_truncated.parquet"
    assert path.stat().st_size > 0
    with pytest.raises(pl.exceptions.PolarsError):
        pl.read_parquet(path)
    ingest = [json.loads(x) for x in (samples.out_dir / "ingest_key.ndjson").read_text().splitlines()]
    assert {r["source_file"]: r["status"] for r in ingest}["claims_truncated.parquet"] == "rejected"


def test_sample_answer_key_names_lines_in_the_files(samples):
    key = read_key(samples.answer_key)
    sept = load([samples.out_dir / "claims_2026_09.csv"])
    octo = pl.read_excel(samples.out_dir / "claims_2026_10_vendor.xlsx", infer_schema_length=0)
    claims = set(sept["claim_id"]) | set(octo["Claim Number"])
    patients = set(sept["patient_id"]) | set(octo["Member ID"])
    assert set(key["claim_id"].drop_nulls()) <= claims
    assert set(key["patient_id"].drop_nulls()) <= patients
    assert key["service_date"].min() >= dt.date(2026, 9, 1) and key["service_date"].max() <= dt.date(2026, 10, 31)


def test_samples_are_reproducible(samples, tmp_path):
    again = write_samples(tmp_path)
    assert _digests(again.out_dir) == _digests(samples.out_dir)
