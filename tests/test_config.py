"""The configuration: documented defaults, and every key of the example file accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import Config, ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent


def test_the_example_file_is_valid_and_states_the_defaults():
    assert load_config(ROOT / "unitreview.example.toml") == Config()


def test_defaults_follow_the_published_figures():
    reference = Config().reference()
    assert reference.limit("impossible_day_ceiling_minutes") == 12 * 60
    assert reference.limit("oig_reference_day_minutes") == 8 * 60


def test_rule_settings_carry_the_users_values(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[rules]\nimpossible_day_minutes = 600\ndaily_limits = { "97112" = 3 }\n')
    settings = load_config(path).rule_settings()
    assert settings.impossible_day_ceiling_minutes == 600
    assert settings.daily_limit_overrides == {"97112": 3}


def test_a_profile_mapping_to_an_unknown_column_is_refused(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[ingest.profiles.x]\n"Svc" = "service_day"\n')
    with pytest.raises(ConfigError, match="service_day"):
        load_config(path)


def test_invalid_toml_is_refused_with_the_file_name(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[rules\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_the_fingerprint_changes_with_the_configuration(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[rules]\nimpossible_day_minutes = 600\n")
    assert load_config(path).fingerprint() != Config().fingerprint()


def test_only_the_rules_section_and_reference_files_decide_a_full_rules_recompute(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        '[warehouse]\nmemory_limit = "8GB"\n[scores]\nmin_patient_days = 10\n[schedule]\ncron = "0 5 * * *"\n'
    )
    assert load_config(path).rules_fingerprint() == Config().rules_fingerprint()
    path.write_text("[rules]\nimpossible_day_minutes = 600\n")
    assert load_config(path).rules_fingerprint() != Config().rules_fingerprint()
