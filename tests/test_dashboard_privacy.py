"""Roles: a manager never sees a patient identifier (data layer, pages, exports); an auditor does;
sign-in guards every route when a users file is configured."""

from __future__ import annotations

import io
import sys

import flask
import polars as pl
import pytest
from dash._utils import to_json

from dashboards import context, data, users
from dashboards.access.privacy import Viewer, patient_token, protect, scrub_text
from dashboards.app import create_app
from dashboards.data.snapshot import reading
from dashboards.pages import overview, patient_day, provider, providers

KEY = b"test-key"
MANAGER = Viewer(role="manager", key=KEY)
AUDITOR = Viewer(role="auditor", key=KEY)


def assert_no_patient_ids(text: str, patient_ids) -> None:
    leaked = [p for p in patient_ids if p in text]
    assert not leaked, f"patient identifiers visible: {leaked[:3]}"


# ---- data layer ------------------------------------------------------------------------------


def test_token_is_stable_keyed_and_opaque():
    t = patient_token(KEY, "PHI-PAT-0001")
    assert t == patient_token(KEY, "PHI-PAT-0001") and t.startswith("pt-") and len(t) == 19
    assert t != patient_token(b"other key", "PHI-PAT-0001")
    assert "PHI" not in t and "0001" not in t


def test_scrub_text_replaces_whole_ids_only():
    tokens = {"PHI-PAT-0001": "pt-a", "PHI-PAT-00011": "pt-b", "12": "pt-c"}
    assert scrub_text("PHI-PAT-0001 and PHI-PAT-00011", tokens) == "pt-a and pt-b"
    assert scrub_text("12 units, 112 minutes", tokens) == "pt-c units, 112 minutes"
    assert scrub_text(None, tokens) is None


def test_protect_masks_for_managers_only():
    frame = pl.DataFrame(
        {
            "patient_id": ["PHI-PAT-0007", None],
            "detail": ["overlaps PHI-PAT-0008's visit", "no patient here"],
            "note_text": ["PHI-PAT-0007 said ...", "x"],
            "reasons": [["PHI-PAT-0008 twice"], []],
            "units": [1, 2],
        }
    )
    known = ["PHI-PAT-0007", "PHI-PAT-0008"]
    shown = protect(frame, MANAGER, known)
    assert "patient_id" not in shown.columns and "note_text" not in shown.columns
    assert shown["patient_ref"].to_list() == [patient_token(KEY, "PHI-PAT-0007"), None]
    assert shown["detail"][0] == f"overlaps {patient_token(KEY, 'PHI-PAT-0008')}'s visit"
    assert_no_patient_ids(shown.write_csv(), known)
    full = protect(frame, AUDITOR, known)
    assert full["patient_id"].to_list() == ["PHI-PAT-0007", None] and "note_text" in full.columns
    assert full.columns.index("patient_ref") == full.columns.index("patient_id") + 1


def test_protect_withholds_quoted_note_spans_from_managers():
    detail = (
        "97112 billed for 2 units; the documentation does not show: measurable goals (none found in the note). "
        "Shown: functional deficit (note \u201cimpaired balance PHI-PAT-0007\u201d), skilled technique (flag)."
    )
    frame = pl.DataFrame({"patient_id": ["PHI-PAT-0007"], "detail": [detail], "note_text": ["impaired balance ..."]})
    shown = protect(frame, MANAGER, ["PHI-PAT-0007"])
    assert shown["detail"][0] == detail.replace("\u201cimpaired balance PHI-PAT-0007\u201d", "\u201c\u2026\u201d")
    assert "impaired balance" not in shown.write_csv() and "note_text" not in shown.columns
    assert protect(frame, AUDITOR)["detail"][0] == detail  # auditors read the span


def test_every_provider_frame_is_clean_for_managers(snapshot_path, fixture_info):
    with reading(snapshot_path) as snap:
        known = data.all_patient_ids(snap)
        assert set(fixture_info.patient_ids) <= set(known)
        for npi in fixture_info.npis:
            for frame in (data.provider_findings(snap, npi), data.provider_lines(snap, npi)):
                assert_no_patient_ids(protect(frame, MANAGER, known).write_csv(), fixture_info.patient_ids)
        overlap = protect(data.provider_findings(snap, "1000000003"), MANAGER, known)
        detail = overlap.filter(pl.col("rule_id") == "OVERLAP")["detail"][0]
        assert patient_token(KEY, "PHI-PAT-0007") in detail  # free text named patients: scrubbed to tokens


# ---- pages, rendered as a signed-in manager ----------------------------------------------------


@pytest.fixture(scope="module")
def app(snapshot_path, users_file):
    return create_app(snapshot_path, users_file, secret_key="test secret")


def render_pages_as(app, role: str, fixture, npis=None) -> str:
    """Every page's layout (and the overview under each filter) as JSON, for one role."""
    out = []
    with app.server.test_request_context("/"):
        flask.session["user"], flask.session["role"] = "someone", role
        key = context.settings().token_key
        out.append(to_json(overview.layout()))
        snap = context.snapshot()
        opts = data.filter_options(snap)
        for period in ["all", *opts["periods"]]:
            for clinic in [None, *[c for c, _ in opts["clinics"]]]:
                out.append(
                    to_json(overview.content(snap, context.viewer(), data.Filters(period=period, clinic=clinic)))
                )
        out.append(to_json(providers.layout()))
        for npi in npis or fixture.npis:
            out.append(to_json(provider.layout(npi=npi)))
            for row in data.provider_findings(snap, npi).select("patient_id", "service_date").unique().iter_rows():
                if row[0] is not None:
                    out.append(to_json(patient_day.layout(npi=npi, token=patient_token(key, row[0]), date=str(row[1]))))
        context.close_snapshot()
    return "\n".join(out)


def test_manager_pages_show_no_patient_identifier(app, fixture_info):
    text = render_pages_as(app, "manager", fixture_info)
    assert "Patient-day" in text and "Snapshot taken at" in text and fixture_info.flagged_name in text
    assert_no_patient_ids(text, fixture_info.patient_ids)
    assert "pt-" in text  # patients are referred to by token
    assert "HYPERLINK" not in text  # note_text is not shown to managers


def test_auditor_pages_show_patient_identifiers(app, fixture_info):
    text = render_pages_as(app, "auditor", fixture_info, npis=[fixture_info.flagged_npi])
    assert "PHI-PAT-0001" in text


# ---- sign-in and exports over HTTP ---------------------------------------------------------------


def login(client, name, password):
    return client.post("/login", data={"username": name, "password": password, "next": "/providers"})


def test_every_route_needs_sign_in(app):
    client = app.server.test_client()
    r = client.get("/providers/1000000001")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=/providers/1000000001")
    assert client.get("/_dash-layout").status_code == 401
    assert client.post("/_dash-update-component", json={}).status_code == 401
    assert client.get("/export/providers/1000000001/findings.csv").status_code == 401
    assert client.get("/login").status_code == 200
    assert login(client, "mona", "wrong").status_code == 401
    assert login(client, "nobody", "manager-pass").status_code == 401
    r = login(client, "mona", "manager-pass")
    assert r.status_code == 302 and r.headers["Location"] == "/providers"
    assert client.get("/_dash-layout").status_code == 200
    client.get("/logout")
    assert client.get("/_dash-layout").status_code == 401


def test_login_never_redirects_off_site(app):
    client = app.server.test_client()
    r = client.post("/login", data={"username": "mona", "password": "manager-pass", "next": "//evil.example/x"})
    assert r.headers["Location"] == "/"


@pytest.mark.parametrize("what", ["findings.csv", "lines.csv", "review.xlsx"])
def test_manager_exports_are_masked_auditor_exports_are_not(app, fixture_info, what):
    manager = app.server.test_client()
    login(manager, "mona", "manager-pass")
    body = manager.get(f"/export/providers/{fixture_info.flagged_npi}/{what}").data
    auditor = app.server.test_client()
    login(auditor, "audrey", "auditor-pass")
    full = auditor.get(f"/export/providers/{fixture_info.flagged_npi}/{what}").data
    if what.endswith(".xlsx"):
        body = b"".join(
            pl.read_excel(io.BytesIO(body), sheet_id=0)[s].write_csv().encode() for s in ("findings", "lines")
        )
        full = b"".join(
            pl.read_excel(io.BytesIO(full), sheet_id=0)[s].write_csv().encode() for s in ("findings", "lines")
        )
    assert_no_patient_ids(body.decode("utf-8"), fixture_info.patient_ids)
    assert b"pt-" in body
    assert b"PHI-PAT-0001" in full


def test_local_mode_is_a_single_auditor(snapshot_path):
    local = create_app(snapshot_path, None, secret_key="x")
    client = local.server.test_client()
    assert client.get("/_dash-layout").status_code == 200
    assert b"local mode (auditor)" in client.get("/_dash-layout").data
    assert client.get("/login").status_code == 302


# ---- the users command ----------------------------------------------------------------------------


def test_users_command_writes_a_password_hash(tmp_path, monkeypatch):
    path = tmp_path / "users.toml"
    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret-pass\n"))
    assert users.main(["add", "carol", "--role", "auditor", "--file", str(path), "--password-stdin"]) == 0
    text = path.read_text()
    assert "s3cret-pass" not in text and "[users.carol]" in text and 'role = "auditor"' in text
    loaded = users.load_users(path)
    assert users.authenticate(loaded, "carol", "s3cret-pass") == "auditor"
    assert users.authenticate(loaded, "carol", "nope") is None
    assert users.main(["add", "bad name", "--role", "auditor", "--file", str(path), "--password-stdin"]) == 1
    with pytest.raises(SystemExit):
        users.main(["add", "dave", "--role", "owner", "--file", str(path)])


def test_pages_say_when_no_snapshot_is_published(tmp_path):
    app = create_app(tmp_path / "not-yet.duckdb", None, secret_key="x")
    with app.server.test_request_context("/"):
        for layout in (
            overview.layout(),
            providers.layout(),
            provider.layout(npi="1"),
            patient_day.layout(npi="1", token="pt-0", date="2026-01-01"),
        ):
            assert "no snapshot has been published" in to_json(layout)
    assert app.server.test_client().get("/export/providers/1/findings.csv").status_code == 503
