"""Downloads of a provider's findings and lines (CSV, Excel), as the signed-in role may see them,
every text cell neutralized against spreadsheet formulas (``dashboards.safe_export``)."""

from __future__ import annotations

import re

import flask

from dashboards import context, data
from dashboards.privacy import protect
from dashboards.safe_export import to_csv_bytes, to_xlsx_bytes
from dashboards.snapshot import MissingData, SnapshotUnavailable

NPI = re.compile(r"^[0-9A-Za-z_-]{1,32}$")
PERIOD = re.compile(r"^(all|\d{4}-\d{2})$")


def _frames(npi: str, period: str):
    snap = context.snapshot()
    viewer = context.viewer()
    known = [] if viewer.sees_patients else context.known_patient_ids(snap)
    findings = protect(data.provider_findings(snap, npi, period), viewer, known).drop("finding_id", strict=False)
    lines = protect(data.provider_lines(snap, npi, period), viewer, known)
    return findings, lines


def _download(body: bytes, filename: str, mimetype: str) -> flask.Response:
    response = flask.Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def export(npi: str, what: str):
    period = flask.request.args.get("period", "all")
    if not NPI.match(npi) or not PERIOD.match(period):
        flask.abort(400)
    try:
        findings, lines = _frames(npi, period)
    except SnapshotUnavailable as exc:
        return flask.Response(str(exc), status=503, mimetype="text/plain")
    except MissingData as exc:
        return flask.Response(f"cannot export from this snapshot: {exc}", status=409, mimetype="text/plain")
    stem = f"provider-{npi}-{period}"
    if what == "findings.csv":
        return _download(to_csv_bytes(findings), f"{stem}-findings.csv", "text/csv")
    if what == "lines.csv":
        return _download(to_csv_bytes(lines), f"{stem}-lines.csv", "text/csv")
    if what == "review.xlsx":
        return _download(
            to_xlsx_bytes({"findings": findings, "lines": lines}), f"{stem}.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    flask.abort(404)


def install(server: flask.Flask) -> None:
    server.add_url_rule("/export/providers/<npi>/<what>", "unitreview_export", export)
