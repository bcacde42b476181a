"""The self-contained HTML report: one file, plotly.js inline, opens with no network.

Managers' view of the whole review: headline figures, findings over time, the provider risk map,
the 97112 units distribution with the daily limit, and the top providers with their reasons; a
check that could not run (``rule_coverage``) is said at the top. Everything is aggregate; it carries
no patient identifier, and refuses to write one; it never shows a finding's detail, so no note text.
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
from pathlib import Path

import plotly.io as pio
import polars as pl
from plotly.offline import get_plotlyjs

from dashboards import data
from dashboards.access.privacy import Viewer, id_index, protect, protect_text
from dashboards.data.coverage import coverage_notices
from dashboards.data.snapshot import MissingData, Snapshot, SnapshotInfo, reading
from dashboards.ui import figures

FIGURE_CONFIG = {**figures.GRAPH_CONFIG, "responsive": True}
MIN_CHECKED_ID_LENGTH = 6  # shorter ids could match digits in figure data by chance

CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#1f3b57;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:24px} header p{margin:4px 0 0;opacity:.85}
main{padding:16px 32px;max-width:1280px;margin:auto}
.cards{display:flex;gap:16px;flex-wrap:wrap;margin:12px 0 20px}
.card{background:#fff;border-radius:8px;padding:14px 20px;min-width:200px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
.card .label{font-size:13px;color:#666}.card .value{font-size:28px;font-weight:bold;margin-top:4px}
section{background:#fff;border-radius:8px;padding:12px 16px;margin:0 0 20px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:20px} @media(max-width:1000px){.grid2{grid-template-columns:1fr}}
table{border-collapse:collapse;width:100%;font-size:13px} th,td{border-bottom:1px solid #e3e3e3;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5} td.num{text-align:right;white-space:nowrap} tr.outlier td{background:#fff1f1}
.notice{color:#8a4b00;background:#fff6e5;border-left:4px solid #f0a020;padding:8px 12px;margin:8px 0}
footer{color:#666;font-size:12px;padding:8px 32px 24px}
"""


def write_report(warehouse_or_snapshot: Path, out: Path) -> Path:
    """Write the HTML report of a published snapshot (or of a warehouse no process is writing) to
    ``out`` and return its path. The file embeds plotly.js and needs no network."""
    return save_report(render_report(Path(warehouse_or_snapshot)), out)


def render_report(warehouse_or_snapshot: Path, info: SnapshotInfo | None = None) -> str:
    """The report's HTML document. ``info`` stands for the file's own snapshot_info: the publish step
    renders the report from the warehouse while its bytes are copied into the snapshot, and the
    snapshot_info added to the copy is not in the warehouse. Refuses a document naming a patient."""
    with reading(Path(warehouse_or_snapshot)) as snap:
        snap.identity = None  # one pass: whatever is derived is built in this connection and closed with it
        known = _patient_ids(snap)  # read once: scrubbing the reasons and the check below share it
        body = _body(snap, known, info)
    leaked = _named_in(known, body, MIN_CHECKED_ID_LENGTH)
    if leaked:
        raise ValueError(f"refusing to write a report that names {len(leaked)} patient identifier(s)")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>unitreview report</title>"
        f"<style>{CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script>'
        # plotly.py leaves plotlyServerURL out of a figure's config: the defaults of every plot here
        f"<script>Plotly.setPlotConfig({json.dumps(figures.GRAPH_CONFIG)});</script>"
        f"</head><body>{body}</body></html>\n"
    )


def save_report(document: str, out: Path) -> Path:
    """Write a rendered report to ``out`` whole or not at all (a temporary file swapped in)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{secrets.token_hex(6)}.tmp")
    tmp.write_text(document, encoding="utf-8")
    os.replace(tmp, out)
    return out


_TOKEN_CHARS = r"A-Za-z0-9_\-."
_TOKEN = re.compile(f"[{_TOKEN_CHARS}]+")


def _named_in(patient_ids: list[str], body: str, min_length: int = 1) -> list[str]:
    """The patient identifiers (of at least ``min_length`` characters) that appear in ``body`` as a
    whole word: the body's words looked up among the ids (linear in the body, not identifiers x
    body); an identifier with other characters in it is searched for plainly."""
    index = id_index(patient_ids)
    words = set(_TOKEN.findall(body))
    words |= {w.strip(".-") for w in words}
    found = {w for w in words if len(w) >= min_length and w in index.ids}
    found |= {p for p in index.with_other_characters(_TOKEN_CHARS) if len(p) >= min_length and p in body}
    return sorted(found)


def _patient_ids(snap: Snapshot) -> list[str]:
    try:
        return data.all_patient_ids(snap)
    except MissingData:
        return []


def _figure(fig) -> str:
    return pio.to_html(fig, include_plotlyjs=False, full_html=False, config=FIGURE_CONFIG)


def _notice(text: str) -> str:
    return f'<p class="notice">{html.escape(text)}</p>'


def _money(x) -> str:
    return f"${(x or 0):,.2f}"


def _body(snap: Snapshot, known: list[str] | None = None, info: SnapshotInfo | None = None) -> str:
    # Aggregates only; free text (reasons) passes the manager view so that no patient id slips in.
    manager = Viewer(role="manager", key=secrets.token_bytes(32))
    known = _patient_ids(snap) if known is None else known
    info = info or snap.info()
    filters = data.Filters(period="all")
    shown = lambda text: protect_text(text, manager, known)
    parts: list[str] = [
        "<header><h1>unitreview: timed therapy units review</h1>"
        f"<p>Snapshot taken at {html.escape(info.taken_at_text())}"
        + (f" from {html.escape(shown(str(info.source_warehouse)))}" if info.source_warehouse else "")
        + "</p></header><main>"
    ]
    # a check that could not run (e.g. DOCUMENTATION without flags or notes) is said first
    parts.extend(_notice(shown(text)) for text in coverage_notices(snap))
    changes = shown(data.review_changes_text(data.review_changes(snap)))
    if changes:
        parts.append(f'<p class="changes" id="review-changes">{html.escape(changes)}</p>')

    try:
        head = data.headline(snap, filters)
        parts.append(
            '<div class="cards">'
            + _card("Lines reviewed", f"{head['lines_reviewed']:,}")
            + _card("Findings", f"{head['findings']:,}")
            + _card("Units over", f"{head['units_over']:,.0f}")
            + _card("Amount at risk", _money(head["amount_at_risk"]))
            + "</div>"
        )
        by_rule = protect(head["by_rule"], manager, known)
        monthly = protect(data.findings_monthly(snap, filters), manager, known)
        parts.append('<div class="grid2"><section>' + _figure(figures.findings_by_rule(by_rule)) + "</section>")
        parts.append("<section>" + _figure(figures.findings_over_time(monthly)) + "</section></div>")
        parts.append(_rule_table(by_rule))
    except MissingData as exc:
        parts.append(_notice(f"Headline figures unavailable: {exc}"))

    providers = None
    period = "all"
    try:
        periods = data.provider_periods(snap)
        period = "all" if "all" in periods or not periods else periods[0]
        providers = protect(data.provider_map(snap, data.Filters(period=period)), manager, known)
        note = "" if period == "all" else f" (period {period}: no scores over the whole review)"
        parts.append(
            "<section>" + _figure(figures.risk_map(providers)) + (_notice(note) if note else "") + "</section>"
        )
    except MissingData as exc:
        parts.append(_notice(f"Provider risk map unavailable: {exc}"))

    try:
        per_day = data.units_97112_per_patient_day(snap, filters)
        parts.append(
            "<section>"
            + _figure(figures.units_97112_distribution(per_day, data.daily_limit_97112(snap)))
            + "</section>"
        )
    except MissingData as exc:
        parts.append(_notice(f"97112 distribution unavailable: {exc}"))

    if providers is not None:
        parts.append(_top_table(providers.head(data.TOP_PROVIDERS), period))

    status = data.ingest_status(snap)
    if status:
        files = ", ".join(f"{n} {s}" for s, n in status.get("files", {}).items())
        parts.append(
            "<section><h2>Data</h2><p>"
            + html.escape(
                shown(
                    f"Files: {files or 'none logged'}. Rows read {status.get('rows_read', 0):,}, "
                    f"loaded {status.get('rows_loaded', 0):,}, quarantined {status.get('rows_quarantined', status.get('quarantine_rows', 0)):,}."
                )
            )
            + "</p></section>"
        )
    parts.append(
        "</main><footer>Aggregate figures only: this report names no patient. "
        "Amounts at risk are the allowed amounts of the units over, per finding.</footer>"
    )
    return "".join(parts)


def _card(label: str, value: str) -> str:
    return f'<div class="card"><div class="label">{html.escape(label)}</div><div class="value">{html.escape(value)}</div></div>'


def _rule_table(by_rule: pl.DataFrame) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(str(r['rule_id']))}</td><td class=num>{r['findings']:,}</td>"
        f"<td class=num>{r['units_over']:,.0f}</td><td class=num>{_money(r['amount_at_risk'])}</td></tr>"
        for r in by_rule.iter_rows(named=True)
    )
    return (
        "<section><h2>Findings by rule</h2><table><thead><tr><th>rule</th><th>findings</th><th>units over</th>"
        f"<th>amount at risk</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _top_table(top: pl.DataFrame, period: str) -> str:
    def num(v, fmt):
        return "" if v is None else format(v, fmt)

    rows = []
    for r in top.iter_rows(named=True):
        cls = ' class="outlier"' if r.get("outlier") else ""
        rows.append(
            f"<tr{cls}><td class=num>{r.get('risk_rank')}</td>"
            f"<td>{html.escape(str(r.get('provider_name') or ''))}</td>"
            f"<td>{html.escape(str(r.get('rendering_npi') or ''))}</td>"
            f"<td>{html.escape(str(r.get('discipline') or ''))}</td>"
            f"<td class=num>{num(r.get('units_97112_per_patient_day'), '.2f')}</td>"
            f"<td class=num>{num(r.get('findings'), ',')}</td>"
            f"<td class=num>{_money(r.get('amount_at_risk'))}</td>"
            f"<td>{'yes' if r.get('outlier') else ''}</td>"
            f"<td>{html.escape(str(r.get('reasons') or ''))}</td></tr>"
        )
    return (
        f"<section><h2>Top providers (period {html.escape(period)})</h2><table><thead><tr><th>rank</th><th>provider</th>"
        "<th>NPI</th><th>discipline</th><th>97112 units / patient-day</th><th>findings</th><th>amount at risk</th>"
        f"<th>outlier</th><th>reasons</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )
