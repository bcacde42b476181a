"""Sign-in for the review app when a users file is configured: a plain login form, a signed session
cookie holding the user and role, and a guard in front of every other route (pages, Dash's own
endpoints, exports)."""

from __future__ import annotations

import html
from urllib.parse import quote

import flask

from dashboards.context import settings
from dashboards.users import authenticate

OPEN_PATHS = ("/login", "/logout", "/favicon.ico")

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


def _safe_next(target: str | None) -> str:
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login():
    users = settings().users
    if users is None:
        return flask.redirect("/")
    error = ""
    target = _safe_next(flask.request.values.get("next"))
    if flask.request.method == "POST":
        name = flask.request.form.get("username", "")
        role = authenticate(users, name, flask.request.form.get("password", ""))
        if role:
            flask.session.clear()
            flask.session["user"] = name
            flask.session["role"] = role
            return flask.redirect(target)
        error = '<p class="error">Unknown user or wrong password.</p>'
    return LOGIN_PAGE.format(error=error, next=html.escape(target, quote=True)), 200 if not error else 401


def logout():
    flask.session.clear()
    return flask.redirect("/login")


def guard():
    """Before every request: let signed-in users (or local mode) through, send others to /login."""
    if settings().users is None or flask.request.path in OPEN_PATHS:
        return None
    if flask.session.get("user") and flask.session.get("role"):
        return None
    path = flask.request.path
    if path.startswith("/_dash-") or path.startswith("/export/"):
        return flask.Response("sign in first", status=401, mimetype="text/plain")
    full = flask.request.full_path if flask.request.query_string else path
    return flask.redirect("/login?next=" + quote(full, safe="/?=&-_."))


def install(server: flask.Flask) -> None:
    server.add_url_rule("/login", "unitreview_login", login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "unitreview_logout", logout, methods=["GET", "POST"])
    server.before_request(guard)
