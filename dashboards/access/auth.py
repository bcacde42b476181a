"""Sign-in for the review app when a users file is configured: a plain login form, a server-side
session (``dashboards.access.sessions``) named by a signed cookie, and a guard in front of every other
route (pages, Dash's own endpoints, exports).

On every request the guard finds the cookie's session (refused when signed out, idle or too old),
then the user in the users file as it is now (refused when removed or the password changed) and
takes the role from there (a demotion shows on the next request). Sign-in is throttled per user
name and per address (``dashboards.access.throttle``). The cookie is ``Secure`` whenever the request came
over HTTPS (as told by a trusted proxy's ``X-Forwarded-Proto`` when the app is configured to trust
one).
"""

from __future__ import annotations

import html
import logging
import math
import re
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import flask
from flask.sessions import SecureCookieSessionInterface

from dashboards.access.sessions import credential_fingerprint
from dashboards.access.throttle import minutes_text
from dashboards.context import settings
from dashboards.users import authenticate

log = logging.getLogger("unitreview.dashboard")
OPEN_PATHS = ("/login", "/logout", "/favicon.ico")
SESSION_KEY = "sid"

LOGIN_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>unitreview: sign in</title>
<style>body{{font-family:"DejaVu Sans",Arial,sans-serif;background:#f6f7f9;display:flex;justify-content:center;padding-top:10vh}}
form{{background:#fff;padding:28px 32px;border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.15);min-width:300px}}
h1{{font-size:20px;margin-top:0}} label{{display:block;margin:12px 0 4px}} input{{width:100%;padding:6px;box-sizing:border-box}}
button{{margin-top:18px;padding:8px 18px;background:#1f3b57;color:#fff;border:0;border-radius:4px}} .error{{color:#b00020}}</style>
</head><body><form method="post" action="/login">
<h1>unitreview</h1><p>Sign in to review timed therapy billing.</p>{error}
<input type="hidden" name="next" value="{next}">
<label for="username">User</label><input id="username" name="username" autocomplete="username" autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password">
<button type="submit" id="login-button">Sign in</button></form></body></html>"""

# Characters a browser drops from a URL (tab, CR, LF) or reads as a slash (backslash), any other
# control character, and a space: a "next" holding one is not followed.
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")
_UNSAFE_DECODED = re.compile(r"[\x00-\x1f\x7f\\]")


def safe_next(target: str | None) -> str:
    """``target`` when it is a path on this site ("/providers?period=2026-01"), else "/".

    Only a relative reference with an absolute path is followed: no scheme, no host, not
    scheme-relative ("//host", "///host"), no backslash or character a browser would strip; and its
    path percent-decoded must be such a path too (so that "/%2F/host" or "/%09/host" is refused)."""
    if (
        not target
        or len(target) > 2000
        or _UNSAFE.search(target)
        or not target.startswith("/")
        or target.startswith("//")
    ):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return "/"
    path = unquote(parts.path)
    if path.startswith("//") or _UNSAFE_DECODED.search(path):
        return "/"
    return urlunsplit(("", "", parts.path, parts.query, parts.fragment))


def _page(error: str, target: str, status: int):
    body = LOGIN_PAGE.format(
        error=f'<p class="error" id="login-error">{html.escape(error)}</p>' if error else "",
        next=html.escape(target, quote=True),
    )
    response = flask.make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def login():
    s = settings()
    if s.users is None:
        return flask.redirect("/")
    target = safe_next(flask.request.values.get("next"))
    if flask.request.method != "POST":
        return _page("", target, 200)
    name = flask.request.form.get("username", "")[:200]
    address = flask.request.remote_addr or "unknown"
    wait = s.throttle.wait(name, address)
    if wait > 0:  # refused before the password is looked at: a right one is refused too
        response = _page(f"Too many failed sign-ins; try again in {minutes_text(wait)}.", target, 429)
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    users = s.users.current()
    role = authenticate(users, name, flask.request.form.get("password", ""))
    if not role:
        s.throttle.failed(name, address)
        return _page("Unknown user or wrong password.", target, 401)
    s.throttle.succeeded(name)
    old = flask.session.get(SESSION_KEY)
    s.sessions.end(old)
    flask.session.clear()  # a new session id at each sign-in (no fixation)
    flask.session[SESSION_KEY] = s.sessions.start(name, credential_fingerprint(users[name]["password_hash"]))
    return flask.redirect(target)


def logout():
    s = settings()
    if s.sessions is not None:
        s.sessions.end(flask.session.get(SESSION_KEY))
    flask.session.clear()
    return flask.redirect("/login")


def signed_in_user() -> tuple[str, str] | None:
    """(name, role) of the request's live session, the role as the users file gives it now."""
    s = settings()
    session = s.sessions.get(flask.session.get(SESSION_KEY))
    if session is None:
        return None
    entry = s.users.current().get(session.user)
    if entry is None or credential_fingerprint(entry["password_hash"]) != session.credential:
        s.sessions.end(flask.session.get(SESSION_KEY))  # removed, or the password changed
        return None
    return session.user, entry["role"]


def guard():
    """Before every request: let signed-in users (or local mode) through, send others to /login."""
    if settings().users is None or flask.request.path in OPEN_PATHS:
        return None
    user = signed_in_user()
    if user is not None:
        flask.g.unitreview_user = user
        return None
    if SESSION_KEY in flask.session:
        flask.session.clear()  # the browser drops the dead cookie
    path = flask.request.path
    if path.startswith("/_dash-") or path.startswith("/export/"):
        return flask.Response("sign in first", status=401, mimetype="text/plain")
    full = flask.request.full_path if flask.request.query_string else path
    return flask.redirect("/login?next=" + quote(full, safe="/"))


class SessionCookie(SecureCookieSessionInterface):
    """Flask's signed cookie, ``Secure`` when the request came over HTTPS."""

    def get_cookie_secure(self, app: flask.Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (flask.has_request_context() and flask.request.is_secure)


def install(server: flask.Flask) -> None:
    server.session_interface = SessionCookie()
    server.add_url_rule("/login", "unitreview_login", login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "unitreview_logout", logout, methods=["GET", "POST"])
    server.before_request(guard)
