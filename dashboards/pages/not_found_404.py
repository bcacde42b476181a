"""The page for an address the app does not have (Dash shows a page module named ``not_found_404``
for unknown paths; ``dashboards.app`` answers those requests with HTTP status 404)."""

from __future__ import annotations

from dash import dcc, html

PATH = "/not-found"


def layout(**_):
    return html.Div(
        [
            html.H2("Page not found", id="not-found-title"),
            html.P(
                "There is no page at this address. It may have been mistyped, or come from another version of the app."
            ),
            html.P(
                [
                    dcc.Link("Overview", href="/"),
                    " · ",
                    dcc.Link("Providers", href="/providers"),
                    " · ",
                    dcc.Link("Help", href="/help"),
                ]
            ),
        ],
        id="not-found",
    )
