"""The app's pages. Each module has ``layout(**path_and_query_variables)`` and, when it has
callbacks, ``register_callbacks(app)``: callbacks are registered on the app (never globally), so
that several apps (tests) can be created in one process."""

from __future__ import annotations

from dash import html

from dashboards import context
from dashboards.data.snapshot import MissingData, SnapshotUnavailable
from dashboards.ui import components


def guarded(build):
    """Run ``build(snap, viewer)`` for a page; a missing snapshot, table or column becomes a notice
    on the page instead of an error."""
    try:
        snap = context.snapshot()
    except SnapshotUnavailable as exc:
        return html.Div([components.snapshot_line(None, str(exc)), components.notice(str(exc), id="page-problem")])
    try:
        body = build(snap, context.viewer())
    except MissingData as exc:
        body = components.notice(f"This page cannot be shown from this snapshot: {exc}", id="page-problem")
    return html.Div([components.snapshot_line(snap), body])
