"""Overview (for managers): the report's figures, filtered by months (from / to), clinics, payer
types and discipline, the filters kept in the URL (``dashboards.ui.view_state``). Clicking a provider
(grid row or map point) opens its page with the same filters."""

from __future__ import annotations

import dash_ag_grid as dag
from dash import Input, Output, State, ctx, dcc, html, no_update

from dashboards import context, data
from dashboards.access.privacy import protect
from dashboards.data.coverage import coverage_notices
from dashboards.data.snapshot import MissingData
from dashboards.pages import guarded
from dashboards.ui import components, figures, filter_bar, navigation
from dashboards.ui.view_state import ViewState, period_text

PATH = "/"
TOP_COLUMNS = [
    "risk_rank",
    "provider_name",
    "reasons",
    "units_97112_per_patient_day",
    "findings",
    "units_over",
    "amount_at_risk",
    "outlier",
    "discipline",
    "rendering_npi",
    "patient_days",
]


def content(snap, viewer, filters: data.Filters) -> dict:
    """Everything the overview shows for one choice of filters."""
    # a check that could not run (e.g. DOCUMENTATION without flags or notes) is said first
    out: dict = {"notices": coverage_notices(snap)}
    changes = data.review_changes_text(data.review_changes(snap))
    if changes:
        out["notices"].append(changes)
    try:
        head = data.headline(snap, filters)
        out["cards"] = [
            components.card("Lines reviewed", f"{head['lines_reviewed']:,}", id="card-lines"),
            components.card("Findings", f"{head['findings']:,}", id="card-findings"),
            components.card("Units over", f"{head['units_over']:,.0f}", id="card-units-over"),
            components.card("Amount at risk", components.money(head["amount_at_risk"]), id="card-amount"),
        ]
        known = context.known_for(snap, viewer)
        out["by_rule"] = figures.findings_by_rule(protect(head["by_rule"], viewer, known))
        out["monthly"] = figures.findings_over_time(protect(data.findings_monthly(snap, filters), viewer, known))
    except MissingData as exc:
        out["cards"] = [components.notice(f"Headline figures unavailable: {exc}")]
        out["by_rule"] = figures.empty(str(exc), "Findings by rule")
        out["monthly"] = figures.empty(str(exc), "Findings over time by rule (monthly)")
    try:
        known = [] if viewer.sees_patients else context.known_patient_ids(snap)
        providers = protect(data.provider_map(snap, filters), viewer, known)
        out["map"] = figures.risk_map(providers)
        top = providers.select([c for c in TOP_COLUMNS if c in providers.columns]).head(data.TOP_PROVIDERS)
        out["top"] = components.rows(top)
        out["top_columns"] = components.column_defs(top, wide=("reasons",), pinned=("risk_rank",))
        if filters.period != "all" and data.scores_period(filters.period) == "all":
            out["notices"].append(range_scores_notice(filters.period))
        if filters.clinic or filters.payer_type:
            out["notices"].append(
                "Provider scores cover each provider's whole practice; the clinic and payer filters choose "
                "which providers are shown."
            )
    except MissingData as exc:
        out["map"] = figures.empty(str(exc), "Provider risk map")
        out["top"], out["top_columns"] = [], []
        out["notices"].append(f"Provider scores unavailable: {exc}")
    try:
        out["dist"] = figures.units_97112_distribution(
            data.units_97112_per_patient_day(snap, filters), data.daily_limit_97112(snap)
        )
    except MissingData as exc:
        out["dist"] = figures.empty(str(exc), "97112 units per patient-day")
    status = data.ingest_status(snap)
    if status:
        files = ", ".join(f"{n} {s}" for s, n in status.get("files", {}).items()) or "none logged"
        out["status"] = (
            f"Files: {files}. Rows read {status.get('rows_read', 0):,}, loaded {status.get('rows_loaded', 0):,}, "
            f"quarantined {status.get('rows_quarantined', status.get('quarantine_rows', 0)):,}."
        )
    else:
        out["status"] = "No ingest log in this snapshot."
    # every sentence made of the snapshot's text, masked for a manager as the grids are
    out["notices"] = [context.masked(snap, viewer, n) for n in out["notices"]]
    out["status"] = context.masked(snap, viewer, out["status"])
    return out


def range_scores_notice(period: str) -> str:
    return (
        f"Provider scores are computed per month and over the whole review: for {period_text(period)} the "
        "ranking shows the whole review's scores of the providers with lines in those months."
    )


def layout(**query):
    state = ViewState.from_params(query)

    def build(snap, viewer):
        data.prefetch(snap)  # what the filters read, built in the background while the page is read
        opts = data.filter_options(snap)
        known = context.known_for(snap, viewer)
        # a manager's URL holds masked values (as the dropdowns show them): the real ones filter
        c = content(snap, viewer, filter_bar.unmasked(state, opts, viewer, known).filters())
        return html.Div(
            [
                navigation.page_location("ov-go"),
                dcc.Store(id="ov-state", data=state.query()),
                components.breadcrumbs(state),
                html.H2("Overview"),
                filter_bar.filter_bar("f", opts, state, viewer, known),
                html.Div(c["cards"], className="cards", id="ov-cards"),
                html.Div([components.notice(n) for n in c["notices"]], id="ov-notices"),
                html.Div(
                    [
                        html.Div(components.graph("ov-by-rule", c["by_rule"]), className="panel"),
                        html.Div(components.graph("ov-monthly", c["monthly"]), className="panel"),
                    ],
                    className="grid2",
                ),
                html.Div(components.graph("ov-map", c["map"]), className="panel"),
                html.Div(components.graph("ov-dist", c["dist"]), className="panel"),
                html.H3("Top providers (click a row to open the provider)"),
                _top_grid(c),
                html.P(c["status"], id="ov-status", className="status"),
            ]
        )

    return guarded(build)


def _top_grid(c):
    return dag.AgGrid(
        id="ov-top",
        rowData=c["top"],
        columnDefs=c["top_columns"],
        defaultColDef={"sortable": True, "filter": True, "resizable": True, "minWidth": 90},
        getRowId="params.data.rendering_npi",
        columnSize="autoSize",
        rowClassRules={"outlier-row": "params.data.outlier == true"},
        dashGridOptions={"animateRows": False, "suppressColumnVirtualisation": True, "domLayout": "autoHeight"},
        style={"width": "100%"},
        className="clickable-grid",
    )


def register_callbacks(app) -> None:
    @app.callback(
        Output("ov-go", "href"),
        *filter_bar.inputs("f"),
        Input("ov-top", "cellClicked"),
        Input("ov-map", "clickData"),
        State("ov-state", "data"),
        State("ov-go", "href"),
        prevent_initial_call=True,
    )
    def go(first, last, clinics, payers, discipline, cell, click, shown, current):
        """The one way out of the overview: a filter changed (the same page, new URL), a provider
        row or a map point clicked (its page, with the filters)."""
        state = filter_bar.state_of(first, last, clinics, payers, discipline)
        trigger = ctx.triggered_id
        if trigger == "ov-top":
            npi = (cell or {}).get("rowId")
            return navigation.target(current, provider_href(npi, state)) if npi else no_update
        if trigger == "ov-map":
            points = (click or {}).get("points") or [{}]
            custom = points[0].get("customdata")
            return navigation.target(current, provider_href(custom[0], state)) if custom else no_update
        if state.query() == (shown or ""):
            return no_update
        return navigation.target(current, state.href("/"))


def provider_href(npi: str, state: ViewState | None = None) -> str:
    """The provider's page, keeping the filters of the page it is opened from."""
    return (state or ViewState()).href(f"/providers/{npi}")
