"""Providers, ranked by risk_rank with their reasons, filtered like the overview (months, clinics,
payer types, discipline) and searchable by NPI or name, the filters kept in the URL; the ranking
exports as CSV and Excel; clicking a row opens the provider's page."""

from __future__ import annotations

import dash_ag_grid as dag
import polars as pl
from dash import Input, Output, State, ctx, dcc, html, no_update

from dashboards import context, data
from dashboards.data.snapshot import MissingData
from dashboards.pages import guarded
from dashboards.pages.overview import provider_href, range_scores_notice
from dashboards.ui import components, filter_bar, navigation, ranking
from dashboards.ui.view_state import ViewState

PATH = "/providers"


def export_links(state: ViewState) -> html.Div:
    return components.export_links(
        "Export the ranking: ",
        "/export",
        state,
        [("CSV", "ranking.csv", "export-ranking-csv"), ("Excel", "ranking.xlsx", "export-ranking-xlsx")],
    )


def layout(**query):
    state = ViewState.from_params(query)

    def build(snap, viewer):
        if not data.provider_periods(snap):
            raise MissingData("table provider_scores is not in this snapshot")
        opts = data.filter_options(snap)
        known = [] if viewer.sees_patients else context.known_patient_ids(snap)
        notices = []
        if state.period != "all" and data.scores_period(state.period) == "all":
            notices.append(components.notice(range_scores_notice(state.period)))
        try:
            frame = ranking.ranking(snap, viewer, state)
        except MissingData as exc:  # e.g. no scores for the chosen month
            notices.append(components.notice(str(exc), id="providers-problem"))
            frame = pl.DataFrame(schema=dict.fromkeys(("risk_rank", "provider_name", "rendering_npi"), pl.String))
        found = f"{frame.height} provider{'s' if frame.height != 1 else ''}" + (
            f" matching “{state.search}”" if state.search else ""
        )
        return html.Div(
            [
                navigation.page_location("p-go"),
                dcc.Store(id="p-state", data=state.query()),
                components.breadcrumbs(state, ("Providers", None)),
                html.H2("Providers by risk rank"),
                html.P("Rank 1 is reviewed first. Outliers are highlighted; click a row to open the provider."),
                filter_bar.filter_bar("p", opts, state, viewer, known, search=True),
                *notices,
                html.P(found, id="providers-count", className="status"),
                export_links(state),
                dag.AgGrid(
                    id="providers-grid",
                    rowData=components.rows(frame),
                    columnDefs=components.column_defs(frame, wide=("reasons",), pinned=("risk_rank", "provider_name")),
                    defaultColDef={"sortable": True, "filter": True, "resizable": True, "minWidth": 90},
                    getRowId="params.data.rendering_npi",
                    columnSize="autoSize",
                    rowClassRules={"outlier-row": "params.data.outlier == true"},
                    dashGridOptions={"animateRows": False, "suppressColumnVirtualisation": True},
                    style={"height": "560px", "width": "100%"},
                    className="clickable-grid",
                ),
            ]
        )

    return guarded(build)


def register_callbacks(app) -> None:
    @app.callback(
        Output("p-go", "href"),
        *filter_bar.inputs("p", search=True),
        Input("providers-grid", "cellClicked"),
        State("p-state", "data"),
        State("p-go", "href"),
        prevent_initial_call=True,
    )
    def go(first, last, clinics, payers, discipline, search, cell, shown, current):
        """A filter or the search changed (this page, new URL), or a row was clicked (the provider)."""
        state = filter_bar.state_of(first, last, clinics, payers, discipline, search)
        if ctx.triggered_id == "providers-grid":
            npi = (cell or {}).get("rowId")
            return navigation.target(current, provider_href(npi, state)) if npi else no_update
        if state.query() == (shown or ""):
            return no_update
        return navigation.target(current, state.href(PATH))
