"""One therapist-day: the therapist's visits that date on a timeline (one row per patient, a bar from
each visit's start to its end, the intervals shared with another patient's visit hatched red), the
day's documented timed minutes against its length, the findings dated that day with their
arithmetic (OVERLAP and IMPOSSIBLE_DAY, the therapist-day rules, first), and every visit in a grid (a
row opens its patient-day). Visits without a start or an end cannot go on the timeline: they are
listed apart, with a note.

Patients are named by token for a manager (``privacy.protect``), by id and token for an auditor."""

from __future__ import annotations

import datetime as dt

import dash
import polars as pl
from dash import Input, Output, State, dcc, html, no_update

from dashboards import context, data
from dashboards.access.privacy import protect
from dashboards.data import visits
from dashboards.pages import guarded
from dashboards.ui import components, navigation
from dashboards.ui.evidence_figures import therapist_day_timeline
from dashboards.ui.links import THERAPIST_DAY_RULES, patient_day_href
from dashboards.ui.view_state import ViewState

PATH_TEMPLATE = "/therapist-day/<npi>/<date>"
NO_TIMES = (
    "These visits have no start or no end time: they cannot be placed on the timeline, and the "
    "OVERLAP rule cannot check them."
)


def _clock(t: dt.datetime | None) -> str:
    return t.strftime("%H:%M") if t is not None else "-"


def _findings(snap, viewer, known, npi: str, day: dt.date, query: str = "") -> list:
    """The findings of the provider dated ``day``, the therapist-day rules first, each with its
    arithmetic; a patient's finding links to its patient-day."""
    found = data.provider_findings(snap, npi, day.strftime("%Y-%m"))
    found = protect(found.filter(pl.col("service_date") == day), viewer, known)
    found = found.sort(~pl.col("rule_id").is_in(list(THERAPIST_DAY_RULES)), "rule_id")
    items = []
    for r in found.iter_rows(named=True):
        href = patient_day_href(npi, r.get("patient_ref"), day)
        href = href and href + query
        items.append(
            html.Li(
                [
                    html.Strong(f"{r['rule_id']} ({r.get('severity') or '-'})"),
                    html.Span(f": {r.get('detail') or ''}"),
                    html.Span(
                        f"  [units over {r.get('units_over') or 0:,.0f}, at risk {components.money(r.get('amount_at_risk'))}"
                        + (f", claim {r['claim_id']}" if r.get("claim_id") else "")
                        + "]",
                        className="muted",
                    ),
                    html.Span([" ", dcc.Link(f"patient-day of {r['patient_ref']}", href=href)]) if href else None,
                ],
                className="finding",
            )
        )
    return items or [html.Li("No findings for this therapist-day.")]


def layout(npi: str | None = None, date: str | None = None, **params):
    state = ViewState.from_params(params)  # the filters the day was opened with (breadcrumbs keep them)

    def build(snap, viewer):
        try:
            day = dt.date.fromisoformat(str(date))
        except ValueError:
            return components.notice(f"Not a date: {date}", id="page-problem")
        therapist = context.masked(snap, viewer, data.provider_name(snap, npi) or npi)
        raw = visits.therapist_day_visits(snap, npi, day)
        if raw.height == 0:
            return components.notice(f"No visit of NPI {npi} on {day.isoformat()} in this snapshot.", id="page-problem")
        known = [] if viewer.sees_patients else context.known_patient_ids(snap)
        shown = protect(raw, viewer, known)
        # the timeline's rows: the token for a manager, the id with its token for an auditor
        label = pl.format("{} ({})", "patient_id", "patient_ref") if viewer.sees_patients else pl.col("patient_ref")
        shown = shown.with_columns(label.alias("patient"))
        shared = visits.overlaps(shown, patient="patient")
        totals = visits.day_totals(raw, shared)
        length = totals["day_minutes"]
        title = (
            f"{totals['timed_minutes']:,} timed minutes documented; visits from {_clock(totals['first_start'])} "
            f"to {_clock(totals['last_end'])}" + (f" ({length:,} minutes)" if length is not None else "")
        )
        figure = therapist_day_timeline(visits.placed(shown), shared, "patient", title)
        # a row's id: the visit's claim, then the patient-day it opens (one patient may have two visits)
        day_hrefs = [patient_day_href(npi, t, day) for t in shown["patient_ref"].to_list()]
        row_ids = [
            f"{c}|{h + state.query() if h else ''}" for c, h in zip(shown["claim_id"].to_list(), day_hrefs, strict=True)
        ]
        grid_frame = shown.drop("patient").with_columns(pl.Series("row_id", row_ids, dtype=pl.String))
        on_line, off_line = grid_frame.filter(visits.PLACED), grid_frame.filter(~visits.PLACED)
        parts = [
            navigation.page_location("td-go"),
            components.breadcrumbs(
                state,
                ("Providers", "/providers"),
                (therapist, f"/providers/{npi}"),
                (f"Therapist-day {day.isoformat()}", None),
            ),
            html.H2(f"Therapist-day {day.isoformat()}: {therapist} (NPI {npi})", id="therapist-day-title"),
            html.Div(
                [
                    components.card("Visits", f"{totals['visits']:,}"),
                    components.card("Patients", f"{totals['patients']:,}"),
                    components.card("Timed minutes documented", f"{totals['timed_minutes']:,}", id="td-timed-minutes"),
                    components.card(
                        "Length of the day (first start to last end)",
                        f"{length:,} min" if length is not None else "-",
                        id="td-day-length",
                    ),
                    components.card("Minutes with visits", f"{totals['covered_minutes']:,}"),
                    components.card(
                        "Minutes with two or more patients at once",
                        f"{totals['overlap_minutes']:,}",
                        id="td-overlap-minutes",
                    ),
                ],
                className="cards",
            ),
            html.Div(components.graph("td-timeline", figure), className="panel"),
            html.H3("Findings of the day: the rule's arithmetic"),
            html.Ul(_findings(snap, viewer, known, npi, day, state.query()), id="therapist-day-findings"),
            html.H3(f"Visits ({on_line.height}); a row opens the patient-day"),
            components.grid("td-visits", on_line, row_id="row_id", hidden=("row_id",), clickable=True),
        ]
        if off_line.height:
            parts += [
                html.H3(f"Visits without times ({off_line.height})"),
                html.P(NO_TIMES, className="notice", id="td-no-times-note"),
                components.grid("td-visits-no-times", off_line, row_id="row_id", hidden=("row_id",), clickable=True),
            ]
        return html.Div(parts)

    return guarded(build)


def register_callbacks(app) -> None:
    # the grid of visits without times is there only when some are: an optional input
    @app.callback(
        Output("td-go", "href"),
        Input("td-visits", "cellClicked"),
        Input("td-visits-no-times", "cellClicked", allow_optional=True),
        State("td-go", "href"),
        prevent_initial_call=True,
    )
    def open_patient_day(_placed, _unplaced, current):
        """A visit's row opens its patient-day (the page's one navigation callback)."""
        cell = dash.ctx.triggered[0]["value"] if dash.ctx.triggered else None
        href = str((cell or {}).get("rowId") or "").split("|", 1)[-1]
        return navigation.target(current, href) if href.startswith("/") else no_update
