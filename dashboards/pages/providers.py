"""Providers, ranked by risk_rank with their reasons; clicking a row opens the provider's page."""

from __future__ import annotations

import dash_ag_grid as dag
from dash import Input, Output, State, dcc, html, no_update

from dashboards import components, context, data
from dashboards.pages import guarded
from dashboards.pages.overview import provider_href
from dashboards.privacy import protect, protect_options, unmask_choice
from dashboards.snapshot import MissingData, SnapshotUnavailable

PATH = "/providers"
COLUMNS = ["risk_rank", "provider_name", "reasons", "units_97112_per_patient_day", "share_days_97112_at_limit",
           "findings", "units_over", "amount_at_risk", "risk_score", "outlier", "volume_ok", "discipline", "peer_group",
           "rendering_npi", "patient_days", "patients"]


def _ranked(snap, viewer, period, discipline):
    known = [] if viewer.sees_patients else context.known_patient_ids(snap)
    frame = protect(data.providers_ranked(snap, period, discipline), viewer, known)
    return frame.select([c for c in COLUMNS if c in frame.columns])


def layout(period: str = "all", **_):
    def build(snap, viewer):
        periods = data.provider_periods(snap)
        if not periods:
            raise MissingData("table provider_scores is not in this snapshot")
        chosen = period if period in periods else periods[0]
        opts = data.filter_options(snap)
        frame = _ranked(snap, viewer, chosen, None)
        return html.Div([
            html.H2("Providers by risk rank"),
            html.P("Rank 1 is reviewed first. Outliers are highlighted; click a row to open the provider."),
            html.Div([
                html.Div([html.Label("Period", htmlFor="p-period"),
                          dcc.Dropdown(id="p-period", options=[{"label": "whole review" if p == "all" else p, "value": p}
                                                               for p in periods], value=chosen, clearable=False)],
                         className="filter"),
                html.Div([html.Label("Discipline", htmlFor="p-discipline"),
                          dcc.Dropdown(id="p-discipline", value=None, placeholder="all disciplines",
                                       options=protect_options([{"label": d, "value": d} for d in opts["disciplines"]],
                                                               viewer, context.known_for(snap, viewer)))],
                         className="filter"),
            ], className="filters"),
            dag.AgGrid(
                id="providers-grid", rowData=components.rows(frame),
                columnDefs=components.column_defs(frame, wide=("reasons",), pinned=("risk_rank", "provider_name")),
                defaultColDef={"sortable": True, "filter": True, "resizable": True, "minWidth": 90},
                getRowId="params.data.rendering_npi", columnSize="autoSize",
                rowClassRules={"outlier-row": "params.data.outlier == true"},
                dashGridOptions={"animateRows": False, "suppressColumnVirtualisation": True}, style={"height": "560px", "width": "100%"},
                className="clickable-grid",
            ),
            html.Div(id="providers-problem"),
        ])

    return guarded(build)


def register_callbacks(app) -> None:
    @app.callback(Output("providers-grid", "rowData"), Output("providers-problem", "children"),
                  Input("p-period", "value"), Input("p-discipline", "value"), prevent_initial_call=True)
    def refilter(period, discipline):
        try:
            snap, viewer = context.snapshot(), context.viewer()
            discipline = unmask_choice(discipline, data.filter_options(snap)["disciplines"], viewer,
                                       context.known_for(snap, viewer))
            frame = _ranked(snap, viewer, period or "all", discipline or None)
        except (MissingData, SnapshotUnavailable) as exc:
            return [], components.notice(str(exc))
        return components.rows(frame), None

    @app.callback(Output("nav", "href", allow_duplicate=True), Input("providers-grid", "cellClicked"),
                  State("p-period", "value"), prevent_initial_call=True)
    def open_provider(cell, period):
        if not cell or not cell.get("rowId"):
            return no_update
        return provider_href(cell["rowId"], period)
