"""Overview (for managers): the report's figures, interactive, filtered by period, clinic,
discipline and payer type. Clicking a provider (grid row or map point) opens its page."""

from __future__ import annotations

import dash_ag_grid as dag
from dash import Input, Output, State, dcc, html, no_update

from dashboards import components, context, data, figures
from dashboards.coverage import coverage_notices
from dashboards.pages import guarded
from dashboards.privacy import protect, protect_options, unmask_choice
from dashboards.snapshot import MissingData, SnapshotUnavailable

PATH = "/"
TOP_COLUMNS = ["risk_rank", "provider_name", "reasons", "units_97112_per_patient_day", "findings", "units_over",
               "amount_at_risk", "outlier", "discipline", "rendering_npi", "patient_days"]


def _filters(period, clinic, discipline, payer, snap=None, viewer=None) -> data.Filters:
    if snap is not None and not viewer.sees_patients:  # a manager's dropdowns send masked values back
        opts, known = data.filter_options(snap), context.known_for(snap, viewer)
        clinic = unmask_choice(clinic, [c for c, _ in opts["clinics"]], viewer, known)
        discipline = unmask_choice(discipline, opts["disciplines"], viewer, known)
        payer = unmask_choice(payer, opts["payer_types"], viewer, known)
    return data.Filters(period=period or "all", clinic=clinic or None, discipline=discipline or None,
                        payer_type=payer or None)


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


def _dropdown(id, options, value, placeholder, clearable=True):
    return html.Div(
        [html.Label(placeholder, htmlFor=id),
         dcc.Dropdown(id=id, options=options, value=value, clearable=clearable, placeholder=f"all {placeholder.lower()}s")],
        className="filter",
    )


def layout(**_):
    def build(snap, viewer):
        data.prefetch(snap)  # what the filters read, built in the background while the page is read
        opts = data.filter_options(snap)
        known = context.known_for(snap, viewer)
        filters = data.Filters()
        c = content(snap, viewer, filters)
        return html.Div([
            html.H2("Overview"),
            html.Div([
                _dropdown("f-period", [{"label": "whole review", "value": "all"}]
                          + [{"label": p, "value": p} for p in opts["periods"]], "all", "Period", clearable=False),
                _dropdown("f-clinic", protect_options([{"label": label, "value": v} for v, label in opts["clinics"]],
                                                      viewer, known), None, "Clinic"),
                _dropdown("f-discipline", protect_options([{"label": d, "value": d} for d in opts["disciplines"]],
                                                          viewer, known), None, "Discipline"),
                _dropdown("f-payer", protect_options([{"label": p, "value": p} for p in opts["payer_types"]],
                                                     viewer, known), None, "Payer type"),
            ], className="filters"),
            html.Div(c["cards"], className="cards", id="ov-cards"),
            html.Div([components.notice(n) for n in c["notices"]], id="ov-notices"),
            html.Div([
                html.Div(components.graph("ov-by-rule", c["by_rule"]), className="panel"),
                html.Div(components.graph("ov-monthly", c["monthly"]), className="panel"),
            ], className="grid2"),
            html.Div(components.graph("ov-map", c["map"]), className="panel"),
            html.Div(components.graph("ov-dist", c["dist"]), className="panel"),
            html.H3("Top providers (click a row to open the provider)"),
            _top_grid(c),
            html.P(c["status"], id="ov-status", className="status"),
        ])

    return guarded(build)


def _top_grid(c):
    return dag.AgGrid(
        id="ov-top", rowData=c["top"], columnDefs=c["top_columns"],
        defaultColDef={"sortable": True, "filter": True, "resizable": True, "minWidth": 90},
        getRowId="params.data.rendering_npi", columnSize="autoSize",
        rowClassRules={"outlier-row": "params.data.outlier == true"},
        dashGridOptions={"animateRows": False, "suppressColumnVirtualisation": True, "domLayout": "autoHeight"},
        style={"width": "100%"}, className="clickable-grid",
    )


def register_callbacks(app) -> None:
    @app.callback(
        Output("ov-cards", "children"), Output("ov-notices", "children"), Output("ov-by-rule", "figure"),
        Output("ov-monthly", "figure"), Output("ov-map", "figure"), Output("ov-dist", "figure"),
        Output("ov-top", "rowData"), Output("ov-top", "columnDefs"), Output("ov-status", "children"),
        Input("f-period", "value"), Input("f-clinic", "value"), Input("f-discipline", "value"),
        Input("f-payer", "value"),
        prevent_initial_call=True,
    )
    def refilter(period, clinic, discipline, payer):
        try:
            snap = context.snapshot()
        except SnapshotUnavailable:
            return (no_update,) * 9
        viewer = context.viewer()
        c = content(snap, viewer, _filters(period, clinic, discipline, payer, snap, viewer))
        return (c["cards"], [components.notice(n) for n in c["notices"]], c["by_rule"], c["monthly"], c["map"],
                c["dist"], c["top"], c["top_columns"], c["status"])

    @app.callback(Output("nav", "href", allow_duplicate=True), Input("ov-top", "cellClicked"),
                  State("f-period", "value"), prevent_initial_call=True)
    def open_from_grid(cell, period):
        if not cell or not cell.get("rowId"):
            return no_update
        return provider_href(cell["rowId"], period)

    @app.callback(Output("nav", "href", allow_duplicate=True), Input("ov-map", "clickData"),
                  State("f-period", "value"), prevent_initial_call=True)
    def open_from_map(click, period):
        if not click or not click.get("points"):
            return no_update
        custom = click["points"][0].get("customdata")
        return provider_href(custom[0], period) if custom else no_update


def provider_href(npi: str, period: str | None = None) -> str:
    return f"/providers/{npi}" + (f"?period={period}" if period and period != "all" else "")
