"""Audit sampling in the app, without a browser: only auditors get the controls and the callbacks;
a draw reads the snapshot and writes only the separate audit file beside it (never the snapshot or
the warehouse); an upload is checked against the sample stored there or in the snapshot."""

from __future__ import annotations

import base64
import hashlib
import json

import duckdb
import flask
import polars as pl
import pytest
from dash._utils import to_json

from dashboards import users
from dashboards.access.privacy import Viewer
from dashboards.app import create_app
from dashboards.data.snapshot import reading
from dashboards.pages import provider
from dashboards.ui import audit
from pipelines.audit import commands
from pipelines.audit import worksheet as sheets
from tests.fixtures_warehouse import PATIENTS, build_fixture_warehouse, publish

NPI = "1000000001"
AUDITOR = Viewer(role="auditor", key=b"k")
MANAGER = Viewer(role="manager", key=b"k")


@pytest.fixture()
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("audit-app")
    info = build_fixture_warehouse(root / "wh.duckdb")
    snapshot = root / "wh.snapshot.duckdb"
    publish(info.path, snapshot)
    users_file = root / "users.toml"
    users.add_user(users_file, "mona", "manager", "manager-pass")
    users.add_user(users_file, "audrey", "auditor", "auditor-pass")
    return info.path, snapshot, users_file


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _draw_payload(size=5, seed=3, strata=None):
    return {
        "output": "..au-download.data...au-draw-result.children..",
        "outputs": [{"id": "au-download", "property": "data"}, {"id": "au-draw-result", "property": "children"}],
        "inputs": [{"id": "au-draw", "property": "n_clicks", "value": 1}],
        "state": [
            {"id": "au-size", "property": "value", "value": size},
            {"id": "au-seed", "property": "value", "value": seed},
            {"id": "au-strata", "property": "value", "value": strata},
            {"id": "au-sizes", "property": "value", "value": None},
            {"id": "pv-npi", "property": "data", "value": NPI},
            {"id": "pv-period", "property": "value", "value": "all"},
        ],
        "changedPropIds": ["au-draw.n_clicks"],
    }


def _client(app, name, password):
    client = app.server.test_client()
    client.post("/login", data={"username": name, "password": password, "next": "/"})
    return client


def test_audit_file_sits_beside_the_snapshot(tmp_path):
    assert audit.audit_store_path(tmp_path / "wh.snapshot.duckdb") == tmp_path / "wh.audit.duckdb"
    assert audit.audit_store_path(tmp_path / "snapshot.duckdb") == tmp_path / "snapshot.audit.duckdb"


def test_only_auditors_see_the_controls(site):
    _, snapshot, users_file = site
    app = create_app(snapshot, users_file, secret_key="t")
    for role, expected in (("manager", False), ("auditor", True)):
        with app.server.test_request_context("/"):
            flask.session["user"], flask.session["role"] = "someone", role
            text = to_json(provider.layout(npi=NPI))
        assert ("au-draw" in text) is expected and ("au-upload" in text) is expected


def test_a_manager_cannot_draw_even_by_calling_the_callback(site):
    _, snapshot, users_file = site
    app = create_app(snapshot, users_file, secret_key="t")
    r = _client(app, "mona", "manager-pass").post("/_dash-update-component", json=_draw_payload())
    body = r.get_json()["response"]
    assert "au-download" not in body and "only auditors" in json.dumps(body)
    assert not any(p in r.get_data(as_text=True) for p in PATIENTS)
    assert not audit.audit_store_path(snapshot).exists()
    with reading(snapshot) as snap, pytest.raises(PermissionError):
        audit.draw_from_snapshot(snap, MANAGER, audit.audit_store_path(snapshot), NPI, "all", size=5, seed=1)
    with reading(snapshot) as snap, pytest.raises(PermissionError):
        audit.appraise_upload(snap, MANAGER, audit.audit_store_path(snapshot), "data:;base64,AAAA", "x.xlsx")


def test_auditor_draw_writes_only_the_audit_file(site):
    warehouse, snapshot, users_file = site
    before = (_sha(warehouse), _sha(snapshot))
    app = create_app(snapshot, users_file, secret_key="t")
    r = _client(app, "audrey", "auditor-pass").post("/_dash-update-component", json=_draw_payload(size=6, seed=77))
    download = r.get_json()["response"]["au-download"]["data"]
    body = base64.b64decode(download["content"])
    assert download["filename"].startswith(f"audit-{NPI}-S-") and download["filename"].endswith(".xlsx")
    assert (_sha(warehouse), _sha(snapshot)) == before  # neither the warehouse nor the snapshot is written
    ws = sheets.read_worksheet(body)
    with duckdb.connect(str(audit.audit_store_path(snapshot)), read_only=True) as con:
        stored = con.execute(
            "select count(*), min(seed), min(source_database) from audit_samples where sample_id = ?", [ws.sample_id]
        ).fetchall()[0]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert (
            con.execute("select count(*) from audit_samples where sample_id = ?", [ws.sample_id]).fetchall()[0][0] == 0
        )
    assert stored[0] == 6 and stored[1] == 77 and stored[2].startswith("snapshot ")
    # the same draw from the warehouse itself gives the same items (the snapshot is a faithful copy)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        from pipelines.audit import draw as draws

        again = draws.draw(con, commands.make_request(NPI, seed=77, size=6))
    assert again.items["patient_id"].to_list() == ws.items["patient_id"].to_list()


def test_upload_of_a_cli_sample_published_in_the_snapshot(site, tmp_path):
    warehouse, snapshot, _ = site
    out = tmp_path / "cli.xlsx"
    summary = commands.draw_sample(warehouse, NPI, seed=5, size=6, out=out)
    publish(warehouse, snapshot)  # the sample travels with the next snapshot
    sample = pl.read_excel(out, sheet_name="sample", schema_overrides=dict.fromkeys(sheets.ENTRY_COLUMNS, pl.String))
    filled = sheets.fill_worksheet(
        out, {int(i): e for i, e in zip(sample["sample_item"], sample["examined_amount"], strict=True)}
    )
    contents = "data:application/octet-stream;base64," + base64.b64encode(filled).decode()
    with reading(snapshot) as snap:
        result, notes = audit.appraise_upload(
            snap, AUDITOR, audit.audit_store_path(snapshot), contents, "cli.xlsx", NPI
        )
    assert result.sample_id == summary.draw.sample_id and "the snapshot" in notes[0]
    assert result.overall.estimate == 0 and result.overall.standard_error == 0  # everything supported
    assert "no overpayment is demonstrated" in result.statement()
    view = to_json(audit.appraisal_view(result, notes))
    assert "au-statement" in view
