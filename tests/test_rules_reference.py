"""Seed tables, user overrides, the CMS MUE table, and the settings' defaults."""

from pathlib import Path

import polars as pl
import pytest

from pipelines.rules.reference import Reference, ReferenceError, load_mue_table
from pipelines.rules.settings import RuleSettings


def test_seed_tables_load_with_97112_timed_and_evaluations_untimed() -> None:
    ref = Reference.load()
    timed = set(ref.timed_codes())
    assert {"97110", "97112", "97116", "97140", "97530"} <= timed
    assert not {"97161", "97010", "97150", "G0283", "92507"} & timed


def test_seed_limits_supportive_prefixes_and_payer_methods() -> None:
    ref = Reference.load()
    assert ref.daily_limits.filter(pl.col("cpt_code") == "97112")["max_units_per_day"].to_list() == [4]
    assert ref.limit("impossible_day_ceiling_minutes") == 720
    assert ref.limit("oig_reference_day_minutes") == 480
    assert {"I63", "M253", "Z9181"} <= set(ref.supportive_prefixes())  # upper case, no dot
    methods = dict(ref.payer_methods.iter_rows())
    assert methods["medicare"] == "cms" and methods["commercial"] == "ama"


def test_a_user_file_replaces_a_seed_table(tmp_path: Path) -> None:
    own = tmp_path / "limits.csv"
    own.write_text("cpt_code,max_units_per_day\n97112,6\n97110,8\n")
    ref = Reference.load({"daily_limits": own})
    assert dict(ref.daily_limits.select("cpt_code", "max_units_per_day").iter_rows()) == {"97110": 8, "97112": 6}


def test_a_user_file_missing_a_column_is_refused_by_name(tmp_path: Path) -> None:
    own = tmp_path / "codes.csv"
    own.write_text("code,timed\n97112,true\n")
    with pytest.raises(ReferenceError, match="cpt_code"):
        Reference.load({"cpt_codes": own})


MUE_CSV = """\
"CPT codes, descriptions and other data only are copyright 2023 American Medical Association."
"Applicable FARS/DFARS apply."
HCPCS/CPT Code,Practitioner Services MUE Values,MUE Adjudication Indicator,MUE Rationale
97110,6,3 Date of Service Edit: Clinical,Clinical: Data
97112,5,3 Date of Service Edit: Clinical,Clinical: Data
97161,1,2 Date of Service Edit: Policy,CMS Policy
97140,4,1 Line Edit,Clinical: Data
"""


def test_mue_file_with_preamble_and_published_headers(tmp_path: Path) -> None:
    path = tmp_path / "MCR_MUE_PractitionerServices.csv"
    path.write_text(MUE_CSV)
    mue = load_mue_table(path)
    rows = {r["cpt_code"]: (r["max_units_per_day"], r["mue_indicator"]) for r in mue.iter_rows(named=True)}
    assert rows == {"97110": (6, 3), "97112": (5, 3), "97161": (1, 2), "97140": (4, 1)}


def test_a_newer_mue_file_replaces_the_shipped_table_and_keeps_the_indicator(tmp_path: Path) -> None:
    path = tmp_path / "mue.csv"
    path.write_text("HCPCS/ CPT Code\tMUE Value\tMAI\n97112\t5\t3\n97140\t4\t1\n")
    ref = Reference.load({"mue": path})
    limits = {r["cpt_code"]: (r["max_units_per_day"], r["mue_indicator"]) for r in ref.mue.iter_rows(named=True)}
    assert limits == {"97112": (5, 3), "97140": (4, 1)}
    assert Reference.load().mue.height > 14_000  # without the setting: the shipped 07-01-2024 table


def test_mue_file_without_a_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mue.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ReferenceError, match="no header row"):
        load_mue_table(path)


def test_settings_defaults_follow_the_contract() -> None:
    ref = Reference.load()
    settings = RuleSettings()
    assert settings.daily_limit_overrides == {}
    assert settings.mue_payer_types == ("medicare", "medicare_advantage")
    assert settings.ceiling_minutes(ref) == 720
    assert settings.oig_minutes(ref) == 480
    assert settings.severity("UNITS_OVER_MINUTES") == "high"
    assert RuleSettings(impossible_day_ceiling_minutes=600).ceiling_minutes(ref) == 600


def test_settings_refuse_unknown_methods_and_severities() -> None:
    with pytest.raises(ValueError, match="cms"):
        RuleSettings(payer_name_methods={"Acme Health": "fancy"})
    with pytest.raises(ValueError, match="severity"):
        RuleSettings(severity_overrides={"ALLOCATION": "urgent"})
    with pytest.raises(ValueError, match="unknown rule"):
        RuleSettings(severity_overrides={"NOPE": "low"})
