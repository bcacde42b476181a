"""HTTP status 404 for an address the app has no page for.

Dash answers every unknown path with its page shell (status 200) and shows the ``not_found_404``
page in the browser; a link checker, a proxy log or a script would read that as a page. After the
request, a page-shell answer whose path matches no registered page gets status 404 (the body is the
same shell, so the browser still shows "Page not found")."""

from __future__ import annotations

import flask
from dash import _pages  # the registry Dash's own router reads, so that both agree on what exists

CATCH_ALL = "/<path:path>"  # Dash's endpoint for every path without a route of its own


def known_page(path: str) -> bool:
    page, _ = _pages._path_to_page(path.strip("/"))
    return bool(page) and not str(page.get("module", "")).endswith("not_found_404")


def _status(response: flask.Response) -> flask.Response:
    request = flask.request
    if request.endpoint == CATCH_ALL and response.status_code == 200 and not known_page(request.path):
        response.status_code = 404
    return response


def install(server: flask.Flask) -> None:
    server.after_request(_status)
