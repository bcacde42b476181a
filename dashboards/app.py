"""The review app (Dash): overview, providers, provider, patient-day, therapist-day, exports.

``create_app(snapshot, users_file)`` builds it over a *published snapshot* (never the live
warehouse), opened read-only per request; ``serve(...)`` runs it on 127.0.0.1 by default.

Roles: with a users file (see ``dashboards.users``) everyone signs in, and a manager never sees a
patient identifier; without one the app runs in single-user local mode, as an auditor, and only on
a loopback address (``serve`` refuses another).

The key that signs the session cookie and keys the patient tokens comes from ``secret_key``,
``UNITREVIEW_SECRET_KEY`` or a key file made once in the state folder (``dashboards.access.app_key``);
sessions live in that folder too (``dashboards.access.sessions``).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import sqlite3
from pathlib import Path

import dash
import flask
from dash import dcc, html
from werkzeug.middleware.proxy_fix import ProxyFix

from dashboards import context, not_found
from dashboards.access import app_key, auth
from dashboards.access.sessions import FILE_NAME as SESSIONS_FILE
from dashboards.access.sessions import SessionPolicy, SessionStore
from dashboards.access.throttle import LoginLimits, LoginThrottle
from dashboards.files import exports
from dashboards.pages import help_page, not_found_404, overview, patient_day, provider, providers, therapist_day
from dashboards.users import UsersFile

log = logging.getLogger("unitreview.dashboard")

TITLE = "unitreview"
PAGES = [
    # module, path, path_template, name
    (overview, "/", None, "Overview"),
    (providers, "/providers", None, "Providers"),
    (provider, None, provider.PATH_TEMPLATE, "Provider"),
    (patient_day, None, patient_day.PATH_TEMPLATE, "Patient-day"),
    (therapist_day, None, therapist_day.PATH_TEMPLATE, "Therapist-day"),
    (help_page, help_page.PATH, None, "Help"),
    (not_found_404, not_found_404.PATH, None, "Page not found"),
]


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return hmac.new(secret, purpose, hashlib.sha256).digest()


def _shell():
    """The frame around every page, rebuilt on each page load: navigation, who is signed in."""
    if flask.has_request_context():
        s = context.settings()
        v = context.viewer()
        who = "local mode (auditor)" if s.local_mode else f"{v.name} ({v.role})"
        sign_out = None if s.local_mode else html.A("sign out", href="/logout", id="sign-out")
    else:
        who, sign_out = "", None
    return html.Div(
        [
            html.Header(
                [
                    html.Span("unitreview", className="brand"),
                    dcc.Link("Overview", href="/", id="nav-overview"),
                    dcc.Link("Providers", href="/providers", id="nav-providers"),
                    dcc.Link("Help", href="/help", id="nav-help"),
                    html.Span(who, id="who", className="who"),
                    sign_out,
                ],
                className="topbar",
            ),
            html.Main(dash.page_container, className="content"),
        ]
    )


def create_app(
    snapshot: Path,
    users_file: Path | None = None,
    *,
    secret_key: str | bytes | None = None,
    state_dir: Path | None = None,
    session_policy: SessionPolicy | None = None,
    login_limits: LoginLimits | None = None,
    trusted_proxies: int = 0,
) -> dash.Dash:
    """The Dash app over the published snapshot at ``snapshot``.

    ``users_file``: TOML of users and roles, re-read when it changes (None: single-user local mode as
    auditor). ``secret_key`` (else ``UNITREVIEW_SECRET_KEY``, else the key file in ``state_dir``)
    keys sessions and the patient tokens in URLs. ``state_dir`` (default: the snapshot's folder)
    holds the key file and the sessions. ``session_policy``: idle and absolute timeouts (30 minutes,
    12 hours). ``login_limits``: sign-in throttling (5 failures per user, 20 per address in 15
    minutes). ``trusted_proxies``: how many reverse proxies in front of the app to believe about the
    client's address and scheme (``X-Forwarded-For`` / ``-Proto``); 0 believes none."""
    snapshot = Path(snapshot).resolve()
    folder = Path(state_dir) if state_dir is not None else snapshot.parent
    if state_dir is not None:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret, _ = app_key.app_secret(secret_key, folder)
    users = UsersFile(Path(users_file)) if users_file else None
    sessions = None
    if users is not None:
        sessions = SessionStore(_sessions_file(folder), session_policy or SessionPolicy())

    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder="",
        title=TITLE,
        suppress_callback_exceptions=True,
        serve_locally=True,
    )
    server: flask.Flask = app.server
    server.secret_key = _derive(secret, b"unitreview session")
    policy = session_policy or SessionPolicy()
    server.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=False,  # set per request: Secure whenever it came over HTTPS (auth.SessionCookie)
        PERMANENT_SESSION_LIFETIME=int(policy.absolute_seconds),
        **{
            context.CONFIG_KEY: context.AppSettings(
                snapshot=snapshot,
                users=users,
                token_key=_derive(secret, b"unitreview patient token"),
                sessions=sessions,
                throttle=LoginThrottle(login_limits),
            )
        },
    )
    if trusted_proxies:
        n = int(trusted_proxies)
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)
    auth.install(server)
    exports.install(server)
    not_found.install(server)
    server.teardown_appcontext(context.close_snapshot)

    for module, path, template, name in PAGES:
        kwargs = {"path": path} if path else {"path_template": template}
        dash.register_page(module.__name__, name=name, title=f"{TITLE}: {name}", layout=module.layout, **kwargs)
        if hasattr(module, "register_callbacks"):
            module.register_callbacks(app)
    app.layout = _shell
    return app


def _sessions_file(folder: Path) -> Path | None:
    """The sessions' file beside the key file; in memory (ending with the app) when the folder
    cannot be written."""
    path = folder / SESSIONS_FILE
    try:
        sqlite3.connect(str(path)).close()
        path.chmod(0o600)
        return path
    except (OSError, sqlite3.Error) as exc:
        log.warning("cannot keep sessions in %s (%s): they end when the app stops", path, exc)
        return None


class UnsafeBind(ValueError):
    """Local mode (no users file) asked to listen on an address other machines reach."""


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or "localhost"."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, users_file: Path | None) -> None:
    """Refuse local mode (every visitor an auditor, no sign-in) on a non-loopback address."""
    if users_file is None and not is_loopback(host):
        raise UnsafeBind(
            f"refusing to serve {host} without a users file: local mode signs nobody in and shows patient "
            f"identifiers, so it listens on 127.0.0.1 only (give --users to serve other machines)"
        )


def serve(snapshot: Path, host: str = "127.0.0.1", port: int = 8050, users_file: Path | None = None, **options) -> None:
    """Run the app (Flask's threaded server); ``options`` go to ``create_app``. Raises
    ``UnsafeBind`` for local mode on a non-loopback ``host``."""
    check_bind(host, users_file)
    app = create_app(snapshot, users_file, **options)
    app.run(host=host, port=port, debug=False)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m dashboards.app", description="Serve the review app.")
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("users_file", type=Path, nargs="?")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8050)
    args = parser.parse_args(argv)
    try:
        serve(args.snapshot, host=args.host, port=args.port, users_file=args.users_file)
    except (UnsafeBind, app_key.KeyFileError) as exc:
        print(f"unitreview: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # python -m dashboards.app SNAPSHOT [USERS_FILE] [--host H] [--port P]
    raise SystemExit(main())
