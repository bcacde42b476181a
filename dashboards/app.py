"""The review app (Dash): overview, providers, provider, patient-day, therapist-day, exports.

``create_app(snapshot, users_file)`` builds it over a *published snapshot* (never the live
warehouse), opened read-only per request; ``serve(...)`` runs it on 127.0.0.1 by default.

Roles: with a users file (see ``dashboards.users``) everyone signs in, and a manager never sees a
patient identifier; without one the app runs in single-user local mode, as an auditor.
Set ``UNITREVIEW_SECRET_KEY`` to keep sessions and patient-day links valid across restarts
(otherwise a random key is drawn at start-up).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import dash
import flask
from dash import dcc, html

from dashboards import auth, context, exports, not_found
from dashboards.pages import help_page, not_found_404, overview, patient_day, provider, providers, therapist_day
from dashboards.users import load_users

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
    return html.Div([
        html.Header([
            html.Span("unitreview", className="brand"),
            dcc.Link("Overview", href="/", id="nav-overview"),
            dcc.Link("Providers", href="/providers", id="nav-providers"),
            dcc.Link("Help", href="/help", id="nav-help"),
            html.Span(who, id="who", className="who"),
            sign_out,
        ], className="topbar"),
        dcc.Location(id="nav", refresh="callback-nav"),
        html.Main(dash.page_container, className="content"),
    ])


def create_app(snapshot: Path, users_file: Path | None = None, *, secret_key: str | bytes | None = None) -> dash.Dash:
    """The Dash app over the published snapshot at ``snapshot``. ``users_file``: TOML of users and
    roles (None: single-user local mode as auditor). ``secret_key`` (or ``UNITREVIEW_SECRET_KEY``)
    keys sessions and the patient tokens in URLs."""
    secret = secret_key or os.environ.get("UNITREVIEW_SECRET_KEY") or secrets.token_hex(32)
    secret = secret.encode() if isinstance(secret, str) else secret
    users = load_users(Path(users_file)) if users_file else None

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
    server.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        **{context.CONFIG_KEY: context.AppSettings(
            snapshot=Path(snapshot).resolve(), users=users, token_key=_derive(secret, b"unitreview patient token"),
        )},
    )
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


def serve(snapshot: Path, host: str = "127.0.0.1", port: int = 8050, users_file: Path | None = None) -> None:
    """Run the app (Flask's threaded server; local use)."""
    app = create_app(snapshot, users_file)
    app.run(host=host, port=port, debug=False)


if __name__ == "__main__":  # python -m dashboards.app SNAPSHOT [USERS_FILE]
    import sys

    serve(Path(sys.argv[1]), users_file=Path(sys.argv[2]) if len(sys.argv) > 2 else None)
