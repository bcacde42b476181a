"""The review app's sign-in, over HTTP (Flask's test client): where a sign-in may send the browser,
sessions that end (sign-out, removal, demotion, idle and absolute timeouts), the Secure cookie,
sign-in throttling, one hash check per sign-in whatever the name, the key file that keeps links and
sessions across a restart, and local mode refused on an address other machines reach.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import dash
import pytest
from typer.testing import CliRunner

from dashboards import users
from dashboards.access import app_key, sessions
from dashboards.access.privacy import patient_token
from dashboards.access.sessions import SessionPolicy
from dashboards.app import create_app, serve
from pipelines.cli.commands import app as cli

PATIENT = "PHI-PAT-0001"


@pytest.fixture()
def users_file(tmp_path):
    """A users file of this test's own (conftest's is shared): tests here change passwords."""
    path = tmp_path / "users.toml"
    users.add_user(path, "mona", "manager", "manager-pass")
    users.add_user(path, "audrey", "auditor", "auditor-pass")
    return path


@pytest.fixture()
def clock(monkeypatch):
    """The sessions' and throttle's clock, moved by hand: ``clock.now += 60``."""

    class Clock:
        now = 1_800_000_000.0

    c = Clock()
    monkeypatch.setattr(sessions, "clock", lambda: c.now)
    return c


def make_app(snapshot, users_file, tmp_path, **options):
    options.setdefault("secret_key", "security tests")
    return create_app(snapshot, users_file, state_dir=tmp_path / "state", **options)


def sign_in(client, name="mona", password="manager-pass", next_="/providers"):
    return client.post("/login", data={"username": name, "password": password, "next": next_})


def session_cookie(client) -> str:
    return client.get_cookie("session").value


def with_cookie(app, cookie: str):
    client = app.server.test_client()
    client.set_cookie("session", cookie)
    return client


def callback(client):
    """The providers page's filter callback, as the browser posts it (a payer type chosen)."""
    value = {
        "p-from": None,
        "p-to": None,
        "p-clinic": [],
        "p-payer": ["medicare"],
        "p-discipline": None,
        "p-search": "",
    }
    body = {
        "output": "p-go.href",
        "outputs": {"id": "p-go", "property": "href"},
        "inputs": [{"id": i, "property": "value", "value": v} for i, v in value.items()]
        + [{"id": "providers-grid", "property": "cellClicked", "value": None}],
        "changedPropIds": ["p-payer.value"],
        "state": [
            {"id": "p-state", "property": "data", "value": ""},
            {"id": "p-go", "property": "href", "value": "http://localhost/providers"},
        ],
    }
    return client.post("/_dash-update-component", json=body)


def export(client, npi="1000000001"):
    return client.get(f"/export/providers/{npi}/findings.csv")


def refused(client) -> bool:
    """Every kind of route refuses the client: a page, a Dash callback, an export."""
    page = client.get("/providers")
    return (
        page.status_code == 302
        and page.headers["Location"].startswith("/login")
        and callback(client).status_code == 401
        and export(client).status_code == 401
    )


# ---- 1. where a sign-in sends the browser ---------------------------------------------------------

HOSTILE_NEXT = [
    "//evil.example/x",
    "///evil.example/x",
    "////evil.example",
    "/\t/evil.example/x",
    "/\t\t/evil.example",
    "/\r/evil.example",
    "/\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "/ /evil.example",
    "\\\\evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "/\\/evil.example",
    "/%09/evil.example",
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "/%5Cevil.example",
    "/%5C%5Cevil.example",
    "%2F%2Fevil.example",
    "https://evil.example/",
    "http:evil.example",
    "http:/evil.example",
    "https:\\\\evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "@evil.example",
    "/\x00/evil.example",
    "/\x7f/evil.example",
    "\u3000//evil.example",
]


def lands_on_this_site(location: str) -> bool:
    """A Location a browser resolves on this site: a path, never a host (after it drops tab, CR and
    LF and reads a backslash as a slash, as browsers do)."""
    seen = location.replace("\t", "").replace("\r", "").replace("\n", "").replace("\\", "/")
    return seen.startswith("/") and not seen.startswith("//")


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_sign_in_never_sends_the_browser_off_site(snapshot_path, users_file, tmp_path, target):
    client = make_app(snapshot_path, users_file, tmp_path).server.test_client()
    r = sign_in(client, next_=target)
    assert r.status_code == 302 and r.headers["Location"] == "/", (target, r.headers["Location"])


def test_the_tab_trick_of_the_browser_test_is_refused_in_the_query_string(snapshot_path, users_file, tmp_path):
    client = make_app(snapshot_path, users_file, tmp_path).server.test_client()
    page = client.get("/login?next=/%09/127.0.0.2:8061/phish")
    assert b'name="next" value="/"' in page.data  # the form carries no hostile target on
    r = client.post("/login?next=/%09/127.0.0.2:8061/phish", data={"username": "mona", "password": "manager-pass"})
    assert (
        r.status_code == 302 and lands_on_this_site(r.headers["Location"]) and "127.0.0.2" not in r.headers["Location"]
    )


@pytest.mark.parametrize(
    "target",
    [
        "/providers?period=2026-01",
        "/providers/1000000001",
        "/",
        "/providers#top",
        "/?payer=Acme%20Health&clinic=1111111111",
    ],
)
def test_sign_in_returns_to_a_page_of_this_site(snapshot_path, users_file, tmp_path, target):
    client = make_app(snapshot_path, users_file, tmp_path).server.test_client()
    assert sign_in(client, next_=target).headers["Location"] == target


def test_a_page_asked_for_before_sign_in_is_where_sign_in_returns(snapshot_path, users_file, tmp_path):
    client = make_app(snapshot_path, users_file, tmp_path).server.test_client()
    r = client.get("/providers/1000000001?period=2026-01&x=1")
    target = parse_qs(urlsplit(r.headers["Location"]).query)["next"][0]
    assert sign_in(client, next_=target).headers["Location"] == "/providers/1000000001?period=2026-01&x=1"


# ---- 3. sessions end: sign-out, removal, demotion, password change, timeouts ------------------------


def test_a_cookie_kept_from_before_sign_out_is_refused_everywhere(snapshot_path, users_file, tmp_path):
    app = make_app(snapshot_path, users_file, tmp_path)
    client = app.server.test_client()
    sign_in(client)
    old = session_cookie(client)
    kept = with_cookie(app, old)
    assert kept.get("/providers").status_code == 200 and callback(kept).status_code == 200
    assert export(kept).status_code == 200  # the cookie works while signed in
    client.get("/logout")
    assert refused(with_cookie(app, old))


def test_a_user_removed_from_the_users_file_is_refused_on_the_next_request(snapshot_path, users_file, tmp_path):
    app = make_app(snapshot_path, users_file, tmp_path)
    client = app.server.test_client()
    sign_in(client)
    assert callback(client).status_code == 200
    remaining = users.load_users(users_file)
    del remaining["mona"]
    users.save_users(users_file, remaining)  # no restart
    assert refused(client)
    assert sign_in(client).status_code == 401


def test_an_auditor_demoted_to_manager_sees_the_managers_view_on_the_next_request(snapshot_path, users_file, tmp_path):
    app = make_app(snapshot_path, users_file, tmp_path)
    client = app.server.test_client()
    sign_in(client, "audrey", "auditor-pass")
    assert PATIENT in export(client).get_data(as_text=True)
    assert b"audrey (auditor)" in client.get("/_dash-layout").data
    entries = users.load_users(users_file)
    entries["audrey"]["role"] = "manager"  # same password: the session stays, its role changes
    users.save_users(users_file, entries)
    body = export(client).get_data(as_text=True)
    assert "PHI-PAT-" not in body and "pt-" in body
    assert b"audrey (manager)" in client.get("/_dash-layout").data
    assert "PHI-PAT-" not in callback(client).get_data(as_text=True)


def test_a_changed_password_ends_the_users_sessions(snapshot_path, users_file, tmp_path):
    app = make_app(snapshot_path, users_file, tmp_path)
    client = app.server.test_client()
    sign_in(client)
    users.add_user(users_file, "mona", "manager", "a new pass")
    assert refused(client)


def test_a_session_ends_after_the_idle_timeout(snapshot_path, users_file, tmp_path, clock):
    app = make_app(snapshot_path, users_file, tmp_path, session_policy=SessionPolicy(idle_minutes=5, session_hours=8))
    client = app.server.test_client()
    sign_in(client)
    for _ in range(3):  # used every 4 minutes: still signed in after 12
        clock.now += 4 * 60
        assert callback(client).status_code == 200
    clock.now += 5 * 60 + 1
    assert refused(client)


def test_a_session_ends_after_the_absolute_timeout_however_busy(snapshot_path, users_file, tmp_path, clock):
    app = make_app(snapshot_path, users_file, tmp_path, session_policy=SessionPolicy(idle_minutes=30, session_hours=1))
    client = app.server.test_client()
    sign_in(client)
    for _ in range(5):
        clock.now += 11 * 60
        assert client.get("/providers").status_code == 200
    clock.now += 6 * 60  # 61 minutes after signing in, 6 after the last request
    assert refused(client)


def test_the_default_timeouts_are_30_minutes_idle_and_12_hours(snapshot_path, users_file, tmp_path, clock):
    app = make_app(snapshot_path, users_file, tmp_path)
    client = app.server.test_client()
    sign_in(client)
    clock.now += 29 * 60
    assert callback(client).status_code == 200
    clock.now += 30 * 60 + 1
    assert refused(client)


# ---- 4. the Secure cookie ------------------------------------------------------------------------


def set_cookie_header(response) -> str:
    return "; ".join(v for k, v in response.headers.items() if k == "Set-Cookie")


def test_the_cookie_is_not_secure_on_plain_http_and_is_over_https(snapshot_path, users_file, tmp_path):
    app = make_app(snapshot_path, users_file, tmp_path)
    plain = set_cookie_header(sign_in(app.server.test_client()))
    assert "session=" in plain and "Secure" not in plain and "HttpOnly" in plain and "SameSite=Lax" in plain
    https = set_cookie_header(
        app.server.test_client().post(
            "/login", data={"username": "mona", "password": "manager-pass"}, base_url="https://review.example"
        )
    )
    assert "session=" in https and "Secure" in https


def test_a_trusted_proxy_saying_https_makes_the_cookie_secure_an_untrusted_one_does_not(
    snapshot_path, users_file, tmp_path
):
    behind = make_app(snapshot_path, users_file, tmp_path, trusted_proxies=1).server.test_client()
    r = behind.post(
        "/login",
        data={"username": "mona", "password": "manager-pass"},
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"},
    )
    assert "Secure" in set_cookie_header(r)
    direct = make_app(snapshot_path, users_file, tmp_path).server.test_client()
    r = direct.post(
        "/login", data={"username": "mona", "password": "manager-pass"}, headers={"X-Forwarded-Proto": "https"}
    )
    assert "session=" in set_cookie_header(r) and "Secure" not in set_cookie_header(r)


# ---- 5. sign-in throttling ------------------------------------------------------------------------


def test_five_failures_lock_the_user_even_against_the_right_password(
    snapshot_path, users_file, tmp_path, clock, caplog
):
    client = make_app(snapshot_path, users_file, tmp_path).server.test_client()
    caplog.set_level(logging.INFO, logger="unitreview.dashboard")
    for i in range(5):
        assert sign_in(client, password=f"guess-{i}").status_code == 401
    r = sign_in(client)  # the right password
    assert r.status_code == 429 and "Too many failed sign-ins; try again in 15 minutes." in r.get_data(as_text=True)
    assert int(r.headers["Retry-After"]) == 15 * 60
    assert "session=" not in set_cookie_header(r)
    clock.now += 10 * 60
    assert "try again in 5 minutes" in sign_in(client).get_data(as_text=True)
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "unitreview.dashboard"]
    assert len(lines) == 1, lines  # one line, when the lock is set
    assert "'mona'" in lines[0] and "127.0.0.1" in lines[0] and "guess-" not in lines[0]
    assert sign_in(client, "audrey", "auditor-pass").status_code == 302  # another user is not locked
    clock.now += 5 * 60 + 1
    assert sign_in(client).status_code == 302  # the window has passed


def client_from(app, address: str):
    client = app.server.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_twenty_failures_from_one_address_lock_that_address(snapshot_path, users_file, tmp_path, clock, caplog):
    app = make_app(snapshot_path, users_file, tmp_path)
    attacker = client_from(app, "198.51.100.7")
    caplog.set_level(logging.INFO, logger="unitreview.dashboard")
    for i in range(20):  # four names, five failures each would lock the names; spread over twenty
        assert sign_in(attacker, f"user{i}", "guess").status_code == 401
    r = sign_in(attacker, "mona", "manager-pass")
    assert r.status_code == 429 and "try again in 15 minutes" in r.get_data(as_text=True)
    assert any("198.51.100.7" in rec.getMessage() for rec in caplog.records)
    elsewhere = client_from(app, "198.51.100.8")
    assert sign_in(elsewhere, "mona", "manager-pass").status_code == 302


# ---- 6. one hash check per sign-in, whether or not the name exists ------------------------------------


def test_an_unknown_name_costs_one_check_against_a_hash_of_the_same_kind(users_file, monkeypatch):
    current = users.UsersFile(users_file).current()  # the app reads the file so, and precomputes then
    real = users.check_password_hash
    checked: list[str] = []
    monkeypatch.setattr(users, "check_password_hash", lambda h, p: checked.append(h) or real(h, p))

    def no_hashing(*args, **kwargs):
        raise AssertionError("a sign-in computed a new password hash")

    monkeypatch.setattr(users, "generate_password_hash", no_hashing)
    method = current["mona"]["password_hash"].split("$", 1)[0]
    assert method.startswith("scrypt:")
    for name, password in (("nobody", "manager-pass"), ("mona", "wrong"), ("mona", "manager-pass")):
        checked.clear()
        users.authenticate(current, name, password)
        assert len(checked) == 1, (name, checked)
        assert checked[0].split("$", 1)[0] == method, name  # same method and parameters
    assert users.authenticate(current, "nobody", "manager-pass") is None


# ---- 7. local mode only on a loopback address -----------------------------------------------------------


def test_the_dashboard_command_refuses_local_mode_on_a_network_address(tmp_path):
    result = CliRunner().invoke(cli, ["dashboard", "--warehouse", str(tmp_path / "w.duckdb"), "--host", "0.0.0.0"])
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert message.startswith("unitreview: refusing to serve 0.0.0.0 without a users file") and "\n" not in message
    assert "--users" in message


def test_serve_itself_refuses_local_mode_on_a_network_address(snapshot_path, users_file, monkeypatch):
    served = []
    monkeypatch.setattr(dash.Dash, "run", lambda self, **kw: served.append(kw))
    for host in ("0.0.0.0", "::", "192.0.2.10", "myhost.example", "127.0.0.1.nip.io"):
        with pytest.raises(ValueError, match="without a users file"):
            serve(snapshot_path, host=host)
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        serve(snapshot_path, host=host)  # loopback: local mode is allowed
    serve(snapshot_path, host="0.0.0.0", users_file=users_file, secret_key="x")  # with sign-in: allowed
    assert [kw["host"] for kw in served] == ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "0.0.0.0"]


@pytest.mark.slow  # a subprocess or a Dagster run
def test_python_m_dashboards_app_refuses_it_too(snapshot_path):
    done = subprocess.run(
        [sys.executable, "-m", "dashboards.app", str(snapshot_path), "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("unitreview: refusing to serve 0.0.0.0 without a users file")


# ---- the key file: links and sessions survive a restart ------------------------------------------------


def test_two_starts_share_the_key_file_so_links_and_sessions_survive(snapshot_path, users_file, tmp_path, monkeypatch):
    monkeypatch.delenv(app_key.ENV, raising=False)
    first = create_app(snapshot_path, users_file, state_dir=tmp_path / "state")
    client = first.server.test_client()
    sign_in(client)
    cookie = session_cookie(client)
    key_file = tmp_path / "state" / app_key.FILE_NAME
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600 and len(key_file.read_bytes()) == 32
    second = create_app(snapshot_path, users_file, state_dir=tmp_path / "state")  # a restart
    token = lambda app: patient_token(app.server.config["UNITREVIEW"].token_key, PATIENT)
    assert token(first) == token(second)
    kept = with_cookie(second, cookie)
    assert kept.get("/providers").status_code == 200 and callback(kept).status_code == 200
    monkeypatch.setenv(app_key.ENV, "set by hand")  # the variable still wins
    third = create_app(snapshot_path, users_file, state_dir=tmp_path / "state")
    assert token(third) != token(first)


def test_by_default_the_key_file_is_beside_the_snapshot(snapshot_path, tmp_path, monkeypatch):
    monkeypatch.delenv(app_key.ENV, raising=False)
    snapshot = tmp_path / "warehouse" / "unitreview.snapshot.duckdb"
    snapshot.parent.mkdir()
    snapshot.write_bytes(snapshot_path.read_bytes())
    a, b = create_app(snapshot, None), create_app(snapshot, None)
    assert (snapshot.parent / app_key.FILE_NAME).exists()
    assert a.server.config["UNITREVIEW"].token_key == b.server.config["UNITREVIEW"].token_key


def test_a_folder_that_cannot_be_written_falls_back_to_a_key_for_this_run(snapshot_path, tmp_path, monkeypatch, caplog):
    monkeypatch.delenv(app_key.ENV, raising=False)

    def read_only(*args, **kwargs):  # tests run as root, whom chmod does not stop
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(app_key.os, "open", read_only)
    caplog.set_level(logging.WARNING, logger="unitreview.dashboard")
    a = create_app(snapshot_path, None, state_dir=tmp_path / "ro")
    b = create_app(snapshot_path, None, state_dir=tmp_path / "ro")
    assert not (tmp_path / "ro" / app_key.FILE_NAME).exists()
    assert a.server.config["UNITREVIEW"].token_key != b.server.config["UNITREVIEW"].token_key
    assert any("drew a key for this run only" in r.getMessage() for r in caplog.records)


def test_a_key_file_others_may_read_is_refused(snapshot_path, tmp_path, monkeypatch):
    monkeypatch.delenv(app_key.ENV, raising=False)
    create_app(snapshot_path, None, state_dir=tmp_path / "state")
    os.chmod(tmp_path / "state" / app_key.FILE_NAME, 0o644)
    with pytest.raises(app_key.KeyFileError, match="may be read by others"):
        create_app(snapshot_path, None, state_dir=tmp_path / "state")


def test_the_session_file_holds_no_session_id_a_cookie_carries(snapshot_path, users_file, tmp_path):
    app = make_app(snapshot_path, users_file, tmp_path)
    client = app.server.test_client()
    sign_in(client)
    sid = app.server.session_interface.get_signing_serializer(app.server).loads(session_cookie(client))["sid"]
    stored = (tmp_path / "state" / sessions.FILE_NAME).read_bytes() + b"".join(
        p.read_bytes() for p in (tmp_path / "state").glob(sessions.FILE_NAME + "-wal")
    )
    assert sid.encode() not in stored and b"mona" in stored
    assert stat.S_IMODE(os.stat(tmp_path / "state" / sessions.FILE_NAME).st_mode) == 0o600
