"""One provider: why it is flagged (``dashboards.ui.why_flagged``: each metric that adds to its risk
score against the peers, and the days behind it), metrics against peers, the monthly trend, its
findings (a row opens the patient-day, or the therapist-day for OVERLAP and IMPOSSIBLE_DAY) and the
exports of its findings and lines; for auditors, the audit sample controls (``dashboards.ui.audit``:
draw, download the worksheet, upload it back, see the appraisal).

The period and the filters come from the URL (``dashboards.ui.view_state``) and stay in every link:
breadcrumbs, exports, the days its findings open."""

from __future__ import annotations

import dash_ag_grid as dag
import polars as pl
from dash import Input, Output, State, ctx, dcc, html, no_update

from dashboards import context, data
from dashboards.access.privacy import protect
from dashboards.data.snapshot import MissingData
from dashboards.pages import guarded
from dashboards.ui import audit, components, figures, navigation, why_flagged
from dashboards.ui.links import finding_href
from dashboards.ui.view_state import ViewState, period_text

PATH_TEMPLATE = "/providers/<npi>"
FINDING_COLUMNS = [
    "service_date",
    "rule_id",
    "detail",
    "units_over",
    "amount_at_risk",
    "severity",
    "patient_ref",
    "patient_id",
    "claim_id",
    "line_number",
    "payer_type",
]


def export_links(npi: str, state: ViewState) -> html.Div:
    return components.export_links(
        "Export: ",
        f"/export/providers/{npi}",
        state,
        [
            ("findings (CSV)", "findings.csv", "export-findings-csv"),
            ("lines (CSV)", "lines.csv", "export-lines-csv"),
            ("findings and lines (Excel)", "review.xlsx", "export-xlsx"),
        ],
    )


def findings_frame(snap, viewer, npi: str, period: str, state: ViewState | None = None) -> pl.DataFrame:
    known = [] if viewer.sees_patients else context.known_patient_ids(snap)
    frame = protect(data.provider_findings(snap, npi, period), viewer, known)
    query = (state or ViewState()).query()  # the day keeps the filters (breadcrumbs)
    hrefs = [
        h and h + query
        for h in (
            finding_href(npi, r, t, d)
            for r, t, d in zip(
                frame["rule_id"].to_list(),
                frame["patient_ref"].to_list() if "patient_ref" in frame.columns else [None] * frame.height,
                frame["service_date"].to_list(),
                strict=True,
            )
        )
    ]
    frame = frame.with_columns(
        pl.Series("row_id", [f"{fid}|{h or ''}" for fid, h in zip(frame["finding_id"].to_list(), hrefs, strict=True)])
    )
    return frame.select([c for c in FINDING_COLUMNS if c in frame.columns] + ["row_id"])


def layout(npi: str | None = None, **query):
    state = ViewState.from_params(query)

    def build(snap, viewer):
        periods = data.provider_periods(snap)
        chosen = state.period  # the findings' period; the scores are its month's or the whole review's
        scored = data.scores_period(chosen)
        if scored not in periods:
            chosen = scored = "all" if (not periods or "all" in periods) else periods[0]
        profile = data.provider_profile(snap, npi, scored) if periods else None
        known = [] if viewer.sees_patients else context.known_patient_ids(snap)
        name = context.masked(
            snap, viewer, (profile or {}).get("provider_name") or data.provider_name(snap, npi) or "unknown provider"
        )
        shown = state.with_period(chosen)
        parts = [
            navigation.page_location("pv-go"),
            dcc.Store(id="pv-state", data=shown.query()),
            components.breadcrumbs(shown, ("Providers", "/providers"), (name, None)),
            html.H2(f"{name} (NPI {npi})", id="provider-title"),
        ]
        if scored != chosen:
            parts.append(
                components.notice(
                    f"Scores are computed per month and over the whole review: the scores shown are the whole "
                    f"review's; the findings and exports cover {period_text(chosen)}."
                )
            )
        if profile:
            reasons = protect(pl.DataFrame({"reasons": [str(profile.get("reasons") or "")]}), viewer, known)["reasons"][
                0
            ]
            parts += [
                html.P(
                    [
                        html.Span(
                            context.masked(
                                snap,
                                viewer,
                                f"{profile.get('discipline') or ''} · peer group "
                                f"{profile.get('peer_group') or '-'} · risk rank {profile.get('risk_rank')} ",
                            )
                        ),
                        html.Span("OUTLIER", className="badge") if profile.get("outlier") else None,
                    ]
                ),
                html.P(f"Reasons: {reasons}", id="provider-reasons", className="reasons"),
                html.Div(
                    [
                        components.card("Patient-days", f"{profile.get('patient_days') or 0:,}"),
                        components.card(
                            "97112 units / patient-day", f"{profile.get('units_97112_per_patient_day') or 0:.2f}"
                        ),
                        components.card("Findings", f"{profile.get('findings') or 0:,}"),
                        components.card("Units over", f"{profile.get('units_over') or 0:,.0f}"),
                        components.card("Amount at risk", components.money(profile.get("amount_at_risk"))),
                    ],
                    className="cards",
                ),
            ]
        else:
            parts.append(components.notice(f"No provider score for NPI {npi} in period {scored}."))
        choices = periods + ([chosen] if chosen not in periods else [])
        parts.append(
            html.Div(
                [
                    html.Label("Period", htmlFor="pv-period"),
                    dcc.Dropdown(
                        id="pv-period",
                        options=[{"label": period_text(p), "value": p} for p in choices],
                        value=chosen,
                        clearable=False,
                    ),
                    dcc.Store(id="pv-npi", data=npi),
                ],
                className="filter",
                style={"width": "260px"},
            )
        )
        if profile:
            parts.append(why_flagged.section(snap, viewer, npi, scored, query=shown.query()))
        try:
            metrics = protect(data.provider_metrics(snap, npi, scored), viewer, known)
            parts += [
                html.Div(
                    [
                        html.Div(components.graph("pv-peers", figures.provider_vs_peers(metrics)), className="panel"),
                        html.Div(
                            components.graph("pv-trend", figures.provider_trend(data.provider_trend(snap, npi))),
                            className="panel",
                        ),
                    ],
                    className="grid2",
                )
            ]
            parts.append(components.grid("pv-metrics", metrics.drop("peer_group")))
        except MissingData as exc:
            parts.append(components.notice(f"Peer metrics unavailable: {exc}"))
        parts.append(export_links(npi, shown))
        findings = findings_frame(snap, viewer, npi, chosen, shown)
        parts += [
            html.H3(f"Findings ({findings.height}); click a row to open the patient-day"),
            dag.AgGrid(
                id="pv-findings",
                rowData=components.rows(findings),
                columnDefs=components.column_defs(findings, hidden=("row_id",), wide=("detail",)),
                defaultColDef={"sortable": True, "filter": True, "resizable": True, "minWidth": 90},
                getRowId="params.data.row_id",
                columnSize="autoSize",
                dashGridOptions={
                    "animateRows": False,
                    "suppressColumnVirtualisation": True,
                    "pagination": findings.height > 100,
                    "paginationPageSize": 100,
                },
                style={"height": "520px", "width": "100%"},
                className="clickable-grid",
            ),
        ]
        if viewer.sees_patients:  # managers never get the audit controls (the callbacks refuse them too)
            parts.append(audit.panel(npi, chosen))
        return html.Div(parts)

    return guarded(build)


def register_callbacks(app) -> None:
    audit.register_callbacks(app)

    @app.callback(
        Output("pv-go", "href"),
        Input("pv-findings", "cellClicked"),
        why_flagged.DAYS_CLICKED,
        Input("pv-period", "value"),
        State("pv-npi", "data"),
        State("pv-state", "data"),
        State("pv-go", "href"),
        prevent_initial_call=True,
    )
    def go(cell, _day_cells, period, npi, shown, current):
        """A findings row opens its patient-day, a why-flagged day its day; another period shows this
        provider over it."""
        if isinstance(ctx.triggered_id, dict) and ctx.triggered_id.get("type") == why_flagged.DAYS_GRID:
            href = why_flagged.clicked_href(ctx.triggered[0]["value"] if ctx.triggered else None)
            return navigation.target(current, href) if href else no_update
        if ctx.triggered_id == "pv-findings":
            href = str((cell or {}).get("rowId") or "").split("|", 1)[-1]
            return navigation.target(current, href) if href else no_update
        state = ViewState.from_search(shown).with_period(period)
        if not npi or state.query() == (shown or ""):
            return no_update
        return navigation.target(current, state.href(f"/providers/{npi}"))
