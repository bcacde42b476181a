"""One patient-day: every line with its minutes, billed and expected units and method, each
therapist's 8-minute-rule arithmetic, every finding's arithmetic in words (findings.detail) and, for
an auditor, the day's treatment notes with the spans the DOCUMENTATION check found highlighted
(deficit, goals, response, technique).

The patient is named in the URL by an opaque token, never by the patient id; a manager sees the
token only, an auditor sees the id as well. Notes are PHI: a manager's page never carries them, nor
the spans a DOCUMENTATION detail quotes (``privacy.protect`` withholds them)."""

from __future__ import annotations

import datetime as dt

import polars as pl
from dash import html

from dashboards import context, data
from dashboards.access.privacy import protect
from dashboards.pages import guarded
from dashboards.ui import components, glossary
from dashboards.ui.view_state import ViewState
from pipelines.notes.detector import ELEMENTS, LABELS, highlight_segments

PATH_TEMPLATE = "/patient-day/<npi>/<token>/<date>"
LINE_COLUMNS = [
    "cpt_code",
    "minutes",
    "units_billed",
    "expected_units",
    "method",
    "group_timed_minutes",
    "group_supported_units",
    "expected_basis",
    "expected_units_min",
    "expected_units_max",
    "total_timed_minutes",
    "modifiers",
    "claim_id",
    "line_number",
    "provider_name",
    "rendering_npi",
    "payer_type",
    "payer_name",
    "diagnosis_codes",
    "allowed_amount",
    "visit_start",
    "visit_end",
    "deficit_documented",
    "goals_documented",
    "response_documented",
    "note_text",
]
MARK_COLORS = {"deficit": "#ffe08a", "goals": "#bfe3ff", "response": "#c9f0c1", "technique": "#f1cdfb"}
MANAGER_NOTES = "Treatment notes, and the spans the documentation check found in them, are shown to auditors only."


def _mark(text: str, element: str) -> html.Mark:
    return html.Mark(
        text,
        title=LABELS[element],
        className=f"doc-span doc-{element}",
        style={"backgroundColor": MARK_COLORS[element], "padding": "0 2px"},
    )


def _notes(lines: pl.DataFrame, viewer) -> list:
    """The day's distinct notes, each with the detected spans marked: for auditors only (a manager
    gets a sentence, and no note text ever reaches the browser)."""
    if not viewer.sees_patients:
        return [html.P(MANAGER_NOTES, className="muted", id="patient-day-notes")]
    if "note_text" not in lines.columns:
        return [html.P("This snapshot carries no note text.", className="muted", id="patient-day-notes")]
    notes = (
        lines.select("claim_id", pl.col("note_text").str.strip_chars())
        .filter(pl.col("note_text").str.len_chars() > 0)
        .unique(maintain_order=True)
    )
    if notes.height == 0:
        return [html.P("No treatment note for this day in the extracts.", className="muted", id="patient-day-notes")]
    legend = html.P(
        ["Highlighted: "] + [part for e in ELEMENTS for part in (_mark(LABELS[e], e), " ")], className="muted"
    )
    items = []
    for claim_id, note in notes.iter_rows():
        pieces = [_mark(text, element) if element else text for text, element in highlight_segments(note)]
        items.append(
            html.Div(
                [html.Div(f"claim {claim_id}", className="muted"), html.P(pieces, className="note")],
                className="finding",
            )
        )
    return [html.Div([legend, *items], id="patient-day-notes")]


def export_links(npi: str, token: str, day: dt.date, state: ViewState) -> html.Div:
    return components.export_links(
        "Export this patient-day: ",
        f"/export/patient-day/{npi}/{token}/{day.isoformat()}",
        state,
        [
            ("lines (CSV)", "lines.csv", "export-day-lines-csv"),
            ("findings (CSV)", "findings.csv", "export-day-findings-csv"),
            ("lines and findings (Excel)", "day.xlsx", "export-day-xlsx"),
        ],
    )


def _arithmetic(lines: pl.DataFrame) -> list:
    """Each therapist's timed minutes, the units they support, and the timed units billed."""
    timed = lines.filter(pl.col("is_timed").fill_null(pl.col("minutes").is_not_null()))
    if timed.height == 0:
        return [html.Li("No timed lines this day.")]
    out = []
    for (npi, name), part in timed.group_by(["rendering_npi", "provider_name"], maintain_order=True):
        minutes = part["group_timed_minutes"].drop_nulls()
        minutes = int(minutes.max()) if minutes.len() else int(part["minutes"].fill_null(0).sum())
        supported = part["group_supported_units"].drop_nulls()
        billed = int(part["units_billed"].sum())
        methods = ", ".join(sorted({m for m in part["method"].to_list() if m})) or "unknown method"
        if supported.len():
            s = int(supported.max())
            verdict = f"{billed - s} over" if billed > s else "supported"
            text = (
                f"{name or npi}: {minutes} timed minutes support {s} unit(s) under {methods.upper()}; "
                f"{billed} timed unit(s) billed: {verdict}."
            )
        else:
            text = f"{name or npi}: {minutes} timed minutes documented; {billed} timed unit(s) billed ({methods})."
        out.append(html.Li(text))
    return out


def layout(npi: str | None = None, token: str | None = None, date: str | None = None, **query):
    state = ViewState.from_params(query)

    def build(snap, viewer):
        try:
            day = dt.date.fromisoformat(str(date))
        except ValueError:
            return components.notice(f"Not a date: {date}", id="page-problem")
        pid = data.patient_of_token(snap, viewer.key, npi, token, day)
        if pid is None:
            return components.notice(
                "No patient-day matches this link in the current snapshot (links change when the app's key changes).",
                id="page-problem",
            )
        known = [] if viewer.sees_patients else context.known_patient_ids(snap)
        lines = data.patient_day_lines(snap, pid, day)
        findings = data.patient_day_findings(snap, pid, day)
        masked_lines = protect(lines, viewer, known)
        shown_lines = masked_lines.select([c for c in LINE_COLUMNS if c in masked_lines.columns])
        shown_findings = protect(findings, viewer, known)
        who = f"patient {pid} ({token})" if viewer.sees_patients else f"patient {token}"
        therapist = context.masked(snap, viewer, data.provider_name(snap, npi) or npi)
        finding_items = [
            html.Li(
                [
                    html.Strong(
                        f"{r['rule_id']} ({r.get('severity') or '-'})", title=glossary.rule_label(r["rule_id"])
                    ),
                    html.Span(f": {r.get('detail') or ''}"),
                    html.Span(
                        f"  [units over {r.get('units_over') or 0:,.0f}, at risk {components.money(r.get('amount_at_risk'))}"
                        + (f", claim {r['claim_id']} line {r['line_number']}" if r.get("claim_id") else "")
                        + "]",
                        className="muted",
                    ),
                ],
                className="finding",
            )
            for r in shown_findings.iter_rows(named=True)
        ] or [html.Li("No findings for this patient-day.")]
        return html.Div(
            [
                components.breadcrumbs(
                    state,
                    ("Providers", "/providers"),
                    (therapist, f"/providers/{npi}"),
                    (f"Patient-day {day.isoformat()}", None),
                ),
                html.H2(f"Patient-day {day.isoformat()}", id="patient-day-title"),
                html.P(
                    f"{who} · seen by {therapist} (NPI {npi}) and any other therapist billing that day",
                    id="patient-day-who",
                ),
                export_links(npi, token, day, state),
                html.H3("Findings: the rule's arithmetic"),
                html.Ul(finding_items, id="patient-day-findings"),
                html.H3("Treatment notes (documentation of 97112)"),
                *_notes(lines, viewer),
                html.H3("8-minute rule, per therapist"),
                html.Ul(_arithmetic(masked_lines), id="patient-day-arithmetic"),
                html.H3(f"Lines ({lines.height})"),
                components.grid("pd-lines", shown_lines, wide=("expected_basis",)),
            ]
        )

    return guarded(build)
