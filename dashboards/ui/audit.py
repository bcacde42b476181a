"""Audit sampling on the provider page, for auditors only (``pipelines.audit``).

An auditor draws a random sample of the provider's beneficiary-days (size, seed, optional strata) for
the period the page shows, downloads the worksheet, and uploads it back once the audited amounts are
entered to see the appraisal (estimate, standard error, 80/90/95% limits, "at least $X").

The app reads a published snapshot, read-only: the frame comes from the snapshot, the worksheet is
returned as a download, and the draw and appraisal are kept in a separate small DuckDB file beside
the snapshot, ``<stem>.audit.duckdb`` (``audit_store_path``), never in the live warehouse. An
uploaded worksheet is checked against the sample stored there, or, for a sample drawn with
``unitreview sample`` and since published, in the snapshot's ``audit_samples``.

A manager never sees these controls, and the callbacks refuse a viewer who is not an auditor, so a
hand-made request cannot draw a sample (whose worksheet names patients) either.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
from pathlib import Path

import duckdb
from dash import Input, Output, State, dcc, html, no_update

from dashboards import context, data
from dashboards.access.privacy import Viewer
from dashboards.ui import components
from pipelines.audit import commands, store
from pipelines.audit import draw as draws
from pipelines.audit import worksheet as sheets
from pipelines.audit.appraise import Appraisal, AppraisalError

SNAPSHOT_SUFFIX = ".snapshot.duckdb"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_SAMPLE = 10_000
_LOCK = threading.Lock()  # one writer of the audit file at a time within the app


def audit_store_path(snapshot: Path) -> Path:
    """``<stem>.audit.duckdb`` beside the snapshot (``wh.snapshot.duckdb`` -> ``wh.audit.duckdb``)."""
    snapshot = Path(snapshot)
    name = snapshot.name
    stem = name[: -len(SNAPSHOT_SUFFIX)] if name.endswith(SNAPSHOT_SUFFIX) else snapshot.stem
    return snapshot.with_name(f"{stem}.audit.duckdb")


def _require_auditor(viewer: Viewer) -> None:
    if not viewer.sees_patients:
        raise PermissionError("only auditors can draw and appraise audit samples")


def panel(npi: str, period: str) -> html.Div:
    """The auditor's controls (the provider page adds them only for auditors)."""
    where = "the whole review" if period in (None, "", "all") else period
    field = lambda label, control: html.Div([html.Label(label, htmlFor=control.id), control], className="filter")
    return html.Div(
        [
            html.H3("Audit sample"),
            html.P(
                f"Draw a random sample of this provider's beneficiary-days ({where}) from the published snapshot. "
                "The worksheet names patients; enter the audited amounts and upload it back for the appraisal "
                '(RAT-STATS conventions; "at least" = lower limit of the two-sided 90% interval). '
                "Draws are kept beside the snapshot, never in the warehouse.",
                className="hint",
            ),
            html.Div(
                [
                    field(
                        "Sample size", dcc.Input(id="au-size", type="number", min=1, step=1, value=30, debounce=False)
                    ),
                    field(
                        "Seed", dcc.Input(id="au-seed", type="number", min=0, step=1, value=secrets.randbelow(2**31))
                    ),
                    field(
                        "Strata bounds (optional)", dcc.Input(id="au-strata", type="text", placeholder="e.g. 0,100,250")
                    ),
                    field(
                        "Sizes per stratum (optional)",
                        dcc.Input(id="au-sizes", type="text", placeholder="e.g. 10,20,all"),
                    ),
                ],
                className="filters",
            ),
            html.Button("Draw the sample and download the worksheet", id="au-draw", n_clicks=0),
            dcc.Loading(html.Div(id="au-draw-result")),
            dcc.Download(id="au-download"),
            dcc.Upload(
                id="au-upload",
                children=html.Div(
                    ["Upload the completed worksheet (.xlsx): drop it here or ", html.A("choose the file")]
                ),
                accept=".xlsx",
                multiple=False,
                max_size=MAX_UPLOAD_BYTES,
                style={
                    "border": "1px dashed #888",
                    "borderRadius": "6px",
                    "padding": "14px",
                    "margin": "12px 0",
                    "textAlign": "center",
                    "cursor": "pointer",
                },
            ),
            dcc.Loading(html.Div(id="au-appraisal")),
        ],
        id="audit-panel",
        className="panel",
        style={"padding": "12px"},
    )


# ---------------------------------------------------------------------------------------------
# the work behind the callbacks (callable without Dash, for tests)


def draw_from_snapshot(
    snap,
    viewer: Viewer,
    audit_path: Path,
    npi: str,
    period: str,
    *,
    size=None,
    seed=None,
    strata: str | None = None,
    stratum_sizes: str | None = None,
) -> tuple[draws.Draw, bytes, str | None]:
    """Draw from the snapshot ``snap`` (read-only), store the draw in ``audit_path``; returns the
    draw, the worksheet bytes and a note when it could not be stored."""
    _require_auditor(viewer)
    start, end = data.period_bounds(period)
    size = int(size) if size not in (None, "") else None
    if size is not None and size > MAX_SAMPLE:
        raise ValueError(f"a sample of more than {MAX_SAMPLE:,} beneficiary-days is not drawn here")
    if seed in (None, ""):
        raise ValueError("give a seed (it is recorded so that anyone can reproduce the draw)")
    request = commands.make_request(
        npi,
        seed=int(seed),
        size=None if stratum_sizes else size,
        strata=strata or None,
        stratum_sizes=stratum_sizes or None,
        start=start,
        end=end,
    )
    info = snap.info()
    source = f"snapshot {snap.path} taken at {info.taken_at_text()}"
    d = draws.draw(snap.con, request, source_database=source)
    body = commands.worksheet_bytes(snap.con, d)
    problem = None
    try:
        with _LOCK, duckdb.connect(str(audit_path)) as con:
            store.write_sample(con, d)
    except (duckdb.Error, OSError) as exc:
        problem = (
            f"the draw could not be kept in {audit_path.name} ({type(exc).__name__}); the worksheet is still valid"
        )
    return d, body, problem


def _stored_sample(snap, audit_path: Path, sample_id: str | None) -> tuple[store.StoredSample | None, str | None]:
    if not sample_id:
        return None, None
    if audit_path.exists():
        with _LOCK, duckdb.connect(str(audit_path)) as con:
            found = store.load_sample(con, sample_id)
        if found is not None:
            return found, audit_path.name
    found = store.load_sample(snap.con, sample_id)
    return (found, "the snapshot") if found is not None else (None, None)


def appraise_upload(
    snap, viewer: Viewer, audit_path: Path, contents: str, filename: str | None, npi: str | None = None
) -> tuple[Appraisal, list[str]]:
    """Appraise an uploaded worksheet (``contents``: the data URL dcc.Upload gives)."""
    _require_auditor(viewer)
    try:
        payload = base64.b64decode(contents.split(",", 1)[1] if "," in contents else contents, validate=False)
    except (binascii.Error, ValueError):
        raise AppraisalError("the upload could not be read") from None
    if len(payload) > MAX_UPLOAD_BYTES:
        raise AppraisalError("the file is too large for a worksheet")
    ws = sheets.read_worksheet(payload, name=filename)
    notes = []
    if npi and ws.parameters.get("rendering_npi") and ws.parameters["rendering_npi"] != npi:
        notes.append(f"this worksheet samples NPI {ws.parameters['rendering_npi']}, not the provider of this page")
    stored, where = _stored_sample(snap, audit_path, ws.sample_id)
    if stored is None:
        notes.append(
            f"sample {ws.sample_id or '(no id)'} is not stored here: appraised from the worksheet's own parameters"
        )
    else:
        notes.append(f"checked against sample {stored.sample_id} stored in {where}")
    result = commands.appraise_read(ws, stored)
    try:
        with _LOCK, duckdb.connect(str(audit_path)) as con:
            store.write_appraisal(con, result)
    except (duckdb.Error, OSError) as exc:
        notes.append(f"the appraisal could not be kept in {audit_path.name} ({type(exc).__name__})")
    return result, notes


# ---------------------------------------------------------------------------------------------
# rendering and callbacks


def draw_summary(d: draws.Draw, problem: str | None) -> html.Div:
    items = [
        html.Li(
            f"Stratum {s.stratum.number} {s.stratum.label}: {s.sample_size} of {s.frame_size} beneficiary-days"
            + (" (sampled in full)" if s.full else "")
        )
        for s in d.strata
    ]
    return html.Div(
        [
            html.P(
                f"Sample {d.sample_id}: {d.sample_size} of {d.frame_size} beneficiary-days, seed {d.request.seed} "
                f"({d.request.allocation()}). The worksheet is downloading.",
                id="au-sample-id",
            ),
            html.Ul(items),
            *[components.notice(n) for n in d.notes],
            components.notice(problem) if problem else None,
        ]
    )


def appraisal_view(result: Appraisal, notes: list[str]) -> html.Div:
    o = result.attribute_overall
    exact = f", exact {o.exact_lower:.1%} to {o.exact_upper:.1%}" if o.exact_lower is not None else ""
    return html.Div(
        [
            html.H4(f"Appraisal {result.appraisal_id} of sample {result.sample_id or '(unknown)'} ({result.design})"),
            html.P(result.statement(), id="au-statement", className="reasons"),
            components.grid("au-appraisal-grid", result.display_table()),
            html.P(
                f"Error rate {o.rate:.1%}{' (stratum-weighted estimate for the frame)' if result.design == 'stratified' else ''}: "
                f"{o.errors} of {o.sample_size} sampled beneficiary-days with a difference "
                f"(90% normal {o.normal_lower:.1%} to {o.normal_upper:.1%}{exact}).",
                id="au-error-rate",
            ),
            *[html.P(n, className="hint") for n in notes],
        ]
    )


def register_callbacks(app) -> None:
    @app.callback(
        Output("au-download", "data"),
        Output("au-draw-result", "children"),
        Input("au-draw", "n_clicks"),
        State("au-size", "value"),
        State("au-seed", "value"),
        State("au-strata", "value"),
        State("au-sizes", "value"),
        State("pv-npi", "data"),
        State("pv-period", "value"),
        prevent_initial_call=True,
    )
    def draw_sample(n_clicks, size, seed, strata, sizes, npi, period):
        if not n_clicks or not npi:
            return no_update, no_update
        try:
            snap = context.snapshot()
            d, body, problem = draw_from_snapshot(
                snap,
                context.viewer(),
                audit_store_path(context.settings().snapshot),
                npi,
                period or "all",
                size=size,
                seed=seed,
                strata=strata,
                stratum_sizes=sizes,
            )
        except PermissionError as exc:
            return no_update, components.notice(str(exc), id="au-error")
        except (ValueError, LookupError) as exc:
            return no_update, components.notice(f"No sample drawn: {exc}", id="au-error")
        filename = f"audit-{npi}-{d.sample_id}.xlsx"
        return dcc.send_bytes(body, filename), draw_summary(d, problem)

    @app.callback(
        Output("au-appraisal", "children"),
        Input("au-upload", "contents"),
        State("au-upload", "filename"),
        State("pv-npi", "data"),
        prevent_initial_call=True,
    )
    def appraise(contents, filename, npi):
        if not contents:
            return no_update
        try:
            result, notes = appraise_upload(
                context.snapshot(),
                context.viewer(),
                audit_store_path(context.settings().snapshot),
                contents,
                filename,
                npi,
            )
        except PermissionError as exc:
            return components.notice(str(exc), id="au-error")
        except AppraisalError as exc:
            return components.notice(f"Cannot appraise {filename or 'the file'}: {exc}", id="au-error")
        return appraisal_view(result, notes)
