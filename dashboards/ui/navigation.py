"""Moving to another page from a callback, one history entry per move.

Each page that navigates from a callback (a grid row, a map point, a filter) holds its own
``dcc.Location`` (``page_location``) written by ONE callback of that page: an output shared by several
callbacks (``allow_duplicate=True``) fires when its page is shown despite ``prevent_initial_call``, and
the extra history entry makes Back seem to do nothing.

The location is set to an absolute URL (``target``): after the push the browser's URL and the
component's ``href`` are then the same text, so no second push follows.
"""

from __future__ import annotations

from urllib.parse import urljoin

from dash import dcc


def page_location(id: str) -> dcc.Location:
    """The page's own location: setting its ``href`` opens that page without reloading the app."""
    return dcc.Location(id=id, refresh="callback-nav")


def target(current_href: str | None, path: str) -> str:
    """``path`` (``/providers/...?from=...``) as an absolute URL on the page's origin."""
    return urljoin(current_href or "", path)
