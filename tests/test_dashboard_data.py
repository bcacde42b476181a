"""The dashboards' data layer against the fixture snapshot: figures add up, filters narrow,
findings reach the right provider, and a snapshot missing tables or columns is told, not crashed."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from dashboards import data
from dashboards.data.snapshot import MissingData, reading
from dashboards.ui import figures


@pytest.fixture()
def snap(snapshot_path):
    with reading(snapshot_path) as s:
        yield s


def test_headline_matches_the_tables(snap):
    head = data.headline(snap, data.Filters())
    lines, findings, units, amount = snap.rows(
        "select (select count(*) from claim_lines), count(*), sum(units_over), sum(amount_at_risk) from findings"
    )[0]
    assert head["lines_reviewed"] == lines and head["findings"] == findings
    assert head["units_over"] == pytest.approx(units) and head["amount_at_risk"] == pytest.approx(amount)
    assert head["by_rule"]["findings"].sum() == findings


def test_filters_narrow_every_figure(snap):
    everything = data.headline(snap, data.Filters())
    january = data.headline(snap, data.Filters(period="2026-01"))
    clinic = data.headline(snap, data.Filters(clinic="1111111111"))
    pt_medicare = data.headline(snap, data.Filters(discipline="PT", payer_type="medicare"))
    for part in (january, clinic, pt_medicare):
        assert 0 < part["lines_reviewed"] < everything["lines_reviewed"]
        assert 0 < part["findings"] < everything["findings"]
    months = data.findings_monthly(snap, data.Filters(period="2026-02"))["month"].unique().to_list()
    assert months == ["2026-02"]
    # every finding gets a clinic, also those whose rule leaves the therapist or the patient empty
    by_clinic = sum(data.headline(snap, data.Filters(clinic=c))["findings"] for c in ("1111111111", "2222222222"))
    assert by_clinic == everything["findings"]


def test_97112_distribution_counts_patient_days(snap):
    per_day = data.units_97112_per_patient_day(snap, data.Filters())
    days = snap.rows("select count(distinct (patient_id, service_date)) from claim_lines where cpt_code = '97112'")[0][
        0
    ]
    assert per_day["patient_days"].sum() == days
    over = per_day.filter(pl.col("units") > 4)["patient_days"].sum()
    assert over == snap.rows("select count(*) from findings where rule_id = 'DAILY_LIMIT'")[0][0]
    assert data.daily_limit_97112(snap) == 4


def test_provider_map_and_top_providers(snap, fixture_info):
    providers = data.provider_map(snap, data.Filters())
    assert providers["risk_rank"].to_list() == sorted(providers["risk_rank"].to_list())
    top = data.top_providers(snap, data.Filters(), n=3)
    assert top.height == 3 and top["rendering_npi"][0] == fixture_info.flagged_npi and top["reasons"][0]
    only_hillcrest = data.provider_map(snap, data.Filters(clinic="2222222222"))
    assert fixture_info.flagged_npi not in only_hillcrest["rendering_npi"].to_list()
    with pytest.raises(MissingData, match="no rows for period 1999-01"):
        data.provider_map(snap, data.Filters(period="1999-01"))


def test_provider_findings_include_patient_day_findings_without_a_therapist(snap, fixture_info):
    findings = data.provider_findings(snap, fixture_info.flagged_npi)
    rules = set(findings["rule_id"].to_list())
    assert {"UNITS_OVER_MINUTES", "DAILY_LIMIT", "IMPOSSIBLE_DAY"} <= rules
    casey = data.provider_findings(snap, "1000000003")
    assert "MINUTES_MISSING" in casey["rule_id"].to_list()  # line grain, therapist taken from the line
    assert "DAILY_LIMIT" not in data.provider_findings(snap, "1000000005")["rule_id"].to_list()
    january = data.provider_findings(snap, fixture_info.flagged_npi, "2026-01")
    assert 0 < january.height < findings.height
    assert january["service_date"].max() <= dt.date(2026, 1, 31)


def test_patient_day_lines_carry_expected_units_and_method(snap, fixture_info):
    row = (
        data.provider_findings(snap, fixture_info.flagged_npi)
        .filter(pl.col("rule_id") == "UNITS_OVER_MINUTES")
        .row(0, named=True)
    )
    lines = data.patient_day_lines(snap, row["patient_id"], row["service_date"])
    assert lines.height >= 2
    assert set(lines["method"].to_list()) <= {"cms", "ama"}
    assert lines["expected_units"].null_count() == 0 and lines["minutes"].null_count() == 0
    found = data.patient_day_findings(snap, row["patient_id"], row["service_date"])
    assert "UNITS_OVER_MINUTES" in found["rule_id"].to_list()
    assert any("8-minute rule" in d for d in found["detail"].to_list())


def test_provider_metrics_and_trend(snap, fixture_info):
    metrics = data.provider_metrics(snap, fixture_info.flagged_npi, "all")
    assert "units_97112_per_patient_day" in metrics["metric"].to_list()
    trend = data.provider_trend(snap, fixture_info.flagged_npi)
    assert trend["month"].to_list() == ["2026-01", "2026-02", "2026-03"]
    assert (trend["units_97112_per_patient_day"] > trend["peer_median"]).all()


def test_figures_build_from_the_frames(snap, fixture_info):
    f = data.Filters()
    built = [
        figures.findings_by_rule(data.findings_by_rule(snap, f)),
        figures.findings_over_time(data.findings_monthly(snap, f)),
        figures.risk_map(data.provider_map(snap, f)),
        figures.units_97112_distribution(data.units_97112_per_patient_day(snap, f), 4),
        figures.provider_vs_peers(data.provider_metrics(snap, fixture_info.flagged_npi, "all")),
        figures.provider_trend(data.provider_trend(snap, fixture_info.flagged_npi)),
    ]
    assert all(len(fig.data) >= 1 for fig in built)
    risk = built[2]
    assert any(tr.name.endswith("outlier") for tr in risk.data)
    assert any("peer median" in (tr.name or "") for tr in risk.data)  # each peer group's median, in the legend
    dist = built[3]
    assert any(shape.x0 == 4.5 for shape in dist.layout.shapes)
    empty = figures.findings_over_time(
        pl.DataFrame(schema={"month": pl.String, "rule_id": pl.String, "findings": pl.Int64})
    )
    assert "No dated findings" in empty.layout.annotations[0].text


def test_older_snapshot_without_tables_or_columns(tmp_path, fixture_info):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(f"attach '{fixture_info.path}' as src (read_only)")
    con.execute("create table claim_lines as select * exclude (billing_npi, clinic_name) from src.claim_lines")
    con.execute("create table findings as select rule_id, patient_id, service_date, detail from src.findings")
    con.execute("detach src")
    con.close()
    with reading(path) as old:
        head = data.headline(old, data.Filters())
        assert head["findings"] > 0 and head["units_over"] == 0
        assert data.filter_options(old)["clinics"] == []
        with pytest.raises(MissingData, match="provider_scores is not in this snapshot"):
            data.provider_map(old, data.Filters())
        with pytest.raises(MissingData, match="provider_metrics"):
            data.provider_metrics(old, "1000000001", "all")
        assert data.provider_lines(old, "1000000001").height > 0
        assert data.ingest_status(old) == {}
        assert old.info().taken_at is None


@pytest.mark.slow  # a subprocess or a Dagster run
def test_the_app_and_report_import_neither_ingest_nor_rules():
    import subprocess
    import sys

    code = (
        "import sys, dashboards.app, dashboards.files.report, dashboards.files.exports; "
        "bad = sorted(m for m in sys.modules if m.startswith(('pipelines.ingest', 'pipelines.rules', 'dagster'))); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
