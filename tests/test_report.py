"""The HTML report: one self-contained file, the headline figures and charts, no patient id."""

from __future__ import annotations

import re

import duckdb
import pytest

from dashboards.files.report import write_report


@pytest.fixture(scope="module")
def report_html(snapshot_path, tmp_path_factory):
    out = write_report(snapshot_path, tmp_path_factory.mktemp("report") / "review.html")
    return out.read_text(encoding="utf-8")


def test_report_is_self_contained(report_html):
    assert report_html.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script[^>]+src=", report_html), "every script is inline"
    assert '<script src="http' not in report_html
    assert not re.search(r"<link[^>]+href=[\"']https?:", report_html), "no stylesheet from the network"
    assert "plotly.js v" in report_html or "Plotly" in report_html  # plotly.js is embedded
    assert len(report_html) > 1_000_000


def test_report_has_no_patient_identifier(report_html, fixture_info):
    for patient_id in fixture_info.patient_ids:
        assert patient_id not in report_html
    assert "PHI-PAT" not in report_html


def test_report_has_headlines_figures_and_top_providers(report_html, fixture_info):
    con = duckdb.connect(str(fixture_info.path), read_only=True)
    lines, findings = con.execute(
        "select (select count(*) from claim_lines), (select count(*) from findings)"
    ).fetchone()
    amount = con.execute("select sum(amount_at_risk) from findings").fetchone()[0]
    con.close()
    for label in ("Lines reviewed", "Findings", "Units over", "Amount at risk"):
        assert label in report_html
    assert f"{lines:,}" in report_html and f"{findings:,}" in report_html and f"${amount:,.2f}" in report_html
    assert report_html.count('class="plotly-graph-div"') == 4
    for title in (
        "Findings over time by rule (monthly)",
        "Provider risk map",
        "97112 units per patient-day (daily limit 4)",
        "Findings by rule",
    ):
        assert title in report_html
    assert "peer median" in report_html and "daily limit 4" in report_html
    assert "Top providers" in report_html and fixture_info.flagged_name in report_html
    assert "97112 units per patient-day 4.90 vs peer median" in report_html  # a reason
    assert "Snapshot taken at" in report_html


def test_report_tolerates_a_snapshot_without_scores(fixture_info, tmp_path):
    partial = tmp_path / "partial.duckdb"
    con = duckdb.connect(str(partial))
    con.execute(f"attach '{fixture_info.path}' as src (read_only)")
    con.execute("create table claim_lines as select * from src.claim_lines")
    con.execute("create table findings as select rule_id, service_date, patient_id, detail from src.findings")
    con.execute("detach src")
    con.close()
    html = write_report(partial, tmp_path / "partial.html").read_text()
    assert "Provider risk map unavailable: table provider_scores is not in this snapshot" in html
    assert "Lines reviewed" in html
    assert "PHI-PAT" not in html
