"""Downloads (CSV, Excel), as the signed-in role may see them (a manager's carry ``patient_ref``, never a
patient id), every text cell neutralized against spreadsheet formulas (``dashboards.files.safe_export``):

* ``/export/providers/<npi>/findings.csv``, ``lines.csv``, ``review.xlsx``: a provider's findings and lines;
* ``/export/ranking.csv``, ``ranking.xlsx``: the providers ranking the providers page shows;
* ``/export/patient-day/<npi>/<token>/<date>/lines.csv``, ``findings.csv``, ``day.xlsx``: one patient-day.

Each takes the page's filters from the query string (``dashboards.ui.view_state``). Findings carry
``claim_ids``: every claim in the finding's scope (``data.finding_claim_ids``). An Excel file has a
``metadata`` sheet (``dashboards.files.provenance``); a CSV starts with a UTF-8 byte order mark.
"""

from __future__ import annotations

import datetime as dt
import re

import flask
import polars as pl

from dashboards import context, data
from dashboards.access.privacy import protect
from dashboards.data.snapshot import MissingData, SnapshotUnavailable
from dashboards.files import provenance
from dashboards.files.safe_export import to_csv_bytes, to_xlsx_bytes
from dashboards.ui import ranking
from dashboards.ui.view_state import BadQuery, ViewState

NPI = re.compile(r"^[0-9A-Za-z_-]{1,32}$")
TOKEN = re.compile(r"^pt-[0-9a-f]{16}$")
CSV = "text/csv"  # werkzeug adds "; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(body: bytes, filename: str, mimetype: str) -> flask.Response:
    response = flask.Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _state() -> ViewState:
    try:
        return ViewState.from_params(flask.request.args.to_dict(flat=False), strict=True)
    except BadQuery as exc:
        flask.abort(flask.Response(f"bad query: {exc}", status=400, mimetype="text/plain"))


def _known(snap, viewer) -> list[str]:
    return [] if viewer.sees_patients else context.known_patient_ids(snap)


def _findings_with_claims(snap, viewer, findings: pl.DataFrame) -> pl.DataFrame:
    """Findings as ``viewer`` may see them, with every claim of each finding (``claim_ids``)."""
    shown = protect(data.with_claim_ids(snap, findings), viewer, _known(snap, viewer))
    return shown.drop("finding_id", strict=False)


def _workbook(snap, viewer, sheets: dict[str, pl.DataFrame], what: str, state: ViewState) -> bytes:
    meta = provenance.metadata(snap, viewer, local_mode=context.settings().local_mode, what=what, state=state)
    # its text comes from the snapshot too (file names, coverage notes): masked like every cell
    return to_xlsx_bytes({**sheets, "metadata": protect(meta, viewer, _known(snap, viewer))})


def _answer(build):
    """Run ``build(snap, viewer)``; no snapshot or a missing table becomes a plain-text answer."""
    try:
        return build(context.snapshot(), context.viewer())
    except SnapshotUnavailable as exc:
        return flask.Response(str(exc), status=503, mimetype="text/plain")
    except MissingData as exc:
        return flask.Response(f"cannot export from this snapshot: {exc}", status=409, mimetype="text/plain")


def provider_export(npi: str, what: str):
    if not NPI.match(npi) or what not in ("findings.csv", "lines.csv", "review.xlsx"):
        flask.abort(404)
    state = _state()

    def build(snap, viewer):
        period = state.period
        stem = f"provider-{npi}-{period.replace('..', '_to_') or 'all'}"
        lines = lambda: protect(data.provider_lines(snap, npi, period), viewer, _known(snap, viewer))
        findings = lambda: _findings_with_claims(snap, viewer, data.provider_findings(snap, npi, period))
        if what == "findings.csv":
            return _download(to_csv_bytes(findings()), f"{stem}-findings.csv", CSV)
        if what == "lines.csv":
            return _download(to_csv_bytes(lines()), f"{stem}-lines.csv", CSV)
        book = _workbook(
            snap, viewer, {"findings": findings(), "lines": lines()}, f"findings and lines of provider {npi}", state
        )
        return _download(book, f"{stem}.xlsx", XLSX)

    return _answer(build)


def ranking_export(what: str):
    if what not in ("csv", "xlsx"):
        flask.abort(404)
    state = _state()

    def build(snap, viewer):
        frame = ranking.ranking(snap, viewer, state)
        stem = f"providers-ranking-{state.period.replace('..', '_to_')}"
        if what == "csv":
            return _download(to_csv_bytes(frame), f"{stem}.csv", CSV)
        return _download(_workbook(snap, viewer, {"ranking": frame}, "providers ranking", state), f"{stem}.xlsx", XLSX)

    return _answer(build)


def patient_day_export(npi: str, token: str, date: str, what: str):
    if not NPI.match(npi) or not TOKEN.match(token) or what not in ("lines.csv", "findings.csv", "day.xlsx"):
        flask.abort(404)
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        flask.abort(404)
    state = _state()

    def build(snap, viewer):
        pid = data.patient_of_token(snap, viewer.key, npi, token, day)
        if pid is None:
            return flask.Response(
                "no patient-day matches this link in the current snapshot", status=404, mimetype="text/plain"
            )
        lines = protect(data.patient_day_lines(snap, pid, day), viewer, _known(snap, viewer))
        findings = _findings_with_claims(snap, viewer, data.patient_day_findings(snap, pid, day))
        stem = f"patient-day-{token}-{day.isoformat()}"  # the token, never the patient id, names the file
        if what == "lines.csv":
            return _download(to_csv_bytes(lines), f"{stem}-lines.csv", CSV)
        if what == "findings.csv":
            return _download(to_csv_bytes(findings), f"{stem}-findings.csv", CSV)
        book = _workbook(
            snap,
            viewer,
            {"lines": lines, "findings": findings},
            f"patient-day {token} {day.isoformat()} (opened from provider {npi})",
            state,
        )
        return _download(book, f"{stem}.xlsx", XLSX)

    return _answer(build)


def install(server: flask.Flask) -> None:
    server.add_url_rule("/export/providers/<npi>/<what>", "unitreview_export", provider_export)
    server.add_url_rule("/export/ranking.<what>", "unitreview_export_ranking", ranking_export)
    server.add_url_rule(
        "/export/patient-day/<npi>/<token>/<date>/<what>", "unitreview_export_patient_day", patient_day_export
    )
