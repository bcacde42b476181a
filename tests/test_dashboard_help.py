"""Plain words: the help page explains every rule the review registers and every metric scoring
computes, with its source; grids and figures name them the same way (one mapping,
``dashboards.ui.glossary``); an unknown address is a 404, for a browser and for a script."""

from __future__ import annotations

import json

import polars as pl
import pytest
from dash._utils import to_json

from dashboards.app import create_app
from dashboards.pages import help_page
from dashboards.ui import components, figures, glossary
from pipelines.rules.registry import RULES
from pipelines.scores.peers import metric_specs
from pipelines.scores.score import EVIDENCE_COLUMNS, METRIC_COLUMNS_OUT
from pipelines.scores.settings import ScoreSettings

METRICS = [m.name for m in metric_specs(list(RULES), ScoreSettings())]
STATISTICS = [
    c for c in METRIC_COLUMNS_OUT if c not in ("period", "rendering_npi", "metric", "label")
] + EVIDENCE_COLUMNS


def text_of(node) -> str:
    """The words a component tree shows (its strings, in order)."""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return " ".join(text_of(n) for n in node)
    if isinstance(node, dict):
        return text_of(node.get("props", {}).get("children"))
    return ""


def entries(layout) -> dict[str, str]:
    """The help page's entries by key (their id is ``help-<key>``), each as its text."""
    found: dict[str, str] = {}

    def walk(node):
        if isinstance(node, dict):
            props = node.get("props", {})
            if str(props.get("id", "")).startswith("help-") and props.get("className") == "help-entry":
                found[props["id"][len("help-") :]] = text_of(node)
            for value in props.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(to_json(layout)))
    return found


@pytest.fixture(scope="module")
def help_entries():
    return entries(help_page.layout())


@pytest.mark.parametrize("key", [*RULES, *METRICS, *STATISTICS])
def test_the_help_page_explains_each_rule_and_metric_with_its_source(help_entries, key):
    text = help_entries.get(key)
    assert text is not None, f"{key} is not on the help page"
    term = {**glossary.RULES, **glossary.METRICS, **glossary.STATISTICS}[key]
    assert term.name in text and term.meaning in text and "Source: " in text and term.source in text
    assert term.name != key and len(term.meaning) > 30  # plain words, not the identifier again
    if key in RULES:
        module = RULES[key].__module__.replace(".", "/") + ".py"
        assert module in term.source  # where the rule's code is


def test_grid_headers_and_figures_use_the_plain_names():
    frame = pl.DataFrame(
        {
            "units_97112_per_patient_day": [1.0],
            "rate_daily_limit": [0.1],
            "rule_id": ["OVERLAP"],
            "risk_rank": [1],
            "claim_ids": [["C1", "C2"]],
        }
    )
    headers = {d["field"]: d["headerName"] for d in components.column_defs(frame)}
    assert headers == {
        "units_97112_per_patient_day": "97112 units per patient-day",
        "rate_daily_limit": "97112 over the daily limit: findings per patient-day",
        "rule_id": "Rule",
        "risk_rank": "Risk rank",
        "claim_ids": "Claims",
    }
    assert all(d.get("headerTooltip") for d in components.column_defs(frame))
    metric = components.column_defs(pl.DataFrame({"metric": ["share_days_over_8h"]}))[0]
    assert "Working days over 8 timed hours" in metric["valueFormatter"]["function"]  # the cell shows the name
    by_rule = figures.findings_by_rule(
        pl.DataFrame(
            {
                "rule_id": ["DX_SUPPORT", "OVERLAP"],
                "findings": [3, 1],
                "units_over": [3.0, 1.0],
                "amount_at_risk": [1.0, 2.0],
            }
        )
    )
    assert [y.replace("<br>", " ") for y in by_rule.data[0].y] == [
        "Overlapping one-on-one visits",
        "97112 without a supporting diagnosis",
    ]
    peers = figures.provider_vs_peers(
        pl.DataFrame(
            {
                "metric": ["minutes_per_timed_unit"],
                "robust_z": [-3.2],
                "value": [9.0],
                "peer_median": [15.0],
                "significant": [True],
            }
        )
    )
    assert peers.data[0].y[0].replace("<br>", " ") == "Documented minutes per timed unit"
    monthly = figures.findings_over_time(
        pl.DataFrame({"month": ["2026-01"], "rule_id": ["IMPOSSIBLE_DAY"], "findings": [2]})
    )
    assert monthly.data[0].name == "Impossible day (too many timed hours)"


def test_an_unknown_address_answers_404_and_known_pages_200(snapshot_path):
    client = create_app(snapshot_path, None, secret_key="x").server.test_client()
    for path in ("/", "/providers", "/providers/1000000001", "/help", "/patient-day/1000000001/pt-0/2026-01-05"):
        assert client.get(path).status_code == 200, path
    for path in ("/nope", "/provider", "/patient-day/1/2", "/help/me/please", "/export", "/not-found"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"_dash-renderer" in response.data or path == "/export"  # the app still shows its own page
    assert client.get("/_dash-layout").status_code == 200 and client.get("/assets/style.css").status_code == 200
