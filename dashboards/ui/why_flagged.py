"""The provider page's "Why flagged" section: for every metric that adds to the provider's risk score
in the chosen period (``evidence.flagged_metrics``), the metric against its peer group (a figure)
and the provider's days that drive it (a grid; a row opens its patient-day, or its therapist-day for
the metrics counted per working day). A manager sees patients by token only (``privacy.protect``)."""

from __future__ import annotations

import dash_ag_grid as dag
import polars as pl
from dash import ALL, Input, html

from dashboards import context
from dashboards.access.privacy import protect
from dashboards.data import evidence
from dashboards.data.snapshot import MissingData
from dashboards.ui import components
from dashboards.ui.evidence_figures import metric_against_peers
from dashboards.ui.links import patient_day_href, therapist_day_href

SECTION_ID = "why-flagged"
DAYS_GRID = "why-days"  # pattern-matching id type of the day grids: {"type": DAYS_GRID, "metric": name}
PEERS_GRAPH = "why-peers"
MAX_DAYS = 500  # rows sent to the browser per metric (worst first); the count says how many there are


def _ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _standing(row: dict, percent: bool) -> str:
    """'<value> vs peer median <median> (robust z 6.5, 95th percentile, p<0.001)'."""
    parts = [f"robust z {row['robust_z']:.1f}"]
    if row.get("percentile") is not None:
        parts.append(f"{_ordinal(min(99, max(1, int(row['percentile']))))} percentile")
    p = row.get("p_value")
    if p is not None:
        parts.append("p<0.001" if p < 0.001 else f"p={p:.3f}")
    return f"{evidence.metric_text(row['value'], percent)} vs peer median {evidence.metric_text(row.get('peer_median'), percent)} ({', '.join(parts)})"


def _linked(frame: pl.DataFrame, npi: str, grain: str, query: str = "") -> pl.DataFrame:
    """The days with ``row_id``: the page a row opens (patients named by token), with the page's
    filters (``query``, kept by the breadcrumbs there)."""
    days = [str(d) for d in frame["service_date"].to_list()]
    if grain == evidence.THERAPIST_DAY:
        hrefs = [therapist_day_href(npi, d) for d in days]
    else:
        hrefs = [patient_day_href(npi, t, d) for t, d in zip(frame["patient_ref"].to_list(), days, strict=True)]
    hrefs = [h and h + query for h in hrefs]
    # a row without a page still needs an id of its own (the grid keys rows by it)
    return frame.with_columns(pl.Series("row_id", [h or f"#{i}" for i, h in enumerate(hrefs)], dtype=pl.String))


def _days_grid(metric: str, frame: pl.DataFrame) -> dag.AgGrid:
    """The days of one metric: a grid of fixed height (scrolls), so that each metric's figure and
    days stay together on the page; a row opens its day."""
    return dag.AgGrid(
        id={"type": DAYS_GRID, "metric": metric},
        rowData=components.rows(frame),
        # a finding's detail is long: the whole text shows on hover
        columnDefs=[
            {**d, "tooltipField": d["field"]} if d["field"] == "detail" else d
            for d in components.column_defs(frame, hidden=("row_id",))
        ],
        defaultColDef={"sortable": True, "filter": True, "resizable": True, "minWidth": 90},
        getRowId="params.data.row_id",
        columnSize="autoSize",
        dashGridOptions={"animateRows": False, "suppressColumnVirtualisation": True, "enableCellTextSelection": True},
        style={"height": f"{min(320, 62 + 42 * max(frame.height, 1))}px", "width": "100%"},
        className="clickable-grid",
    )


def _block(
    row: dict,
    npi: str,
    days: evidence.ProviderDays,
    limits: evidence.Limits,
    peers: pl.DataFrame,
    viewer,
    known,
    query: str = "",
) -> html.Div:
    metric = row["metric"]
    ev = evidence.definition(metric)
    words = row.get("label") or (ev.words if ev else metric)
    percent = ev.percent if ev else False
    head = [
        html.H4(
            [words, html.Span(f": {_standing(row, percent)}", style={"fontWeight": "normal"})],
            style={"margin": "8px 0 6px"},
        )
    ]
    figure = metric_against_peers(
        peers.filter(pl.col("metric") == metric), npi, row["value"], row.get("peer_median"), words, percent
    )
    graph = components.graph({"type": PEERS_GRAPH, "metric": metric}, figure, className="why-graph")
    if ev is None:  # a metric newer than this app: its standing and peers, without a day list
        body = [components.notice(f"No list of days explains the metric {metric} yet.")]
    else:
        selection = ev.select(days, limits, row.get("peer_median"))
        total = days.patient_days.height if ev.grain == evidence.PATIENT_DAY else days.working_days.height
        shown = _linked(protect(selection.days.head(MAX_DAYS), viewer, known), npi, ev.grain, query)
        cut = f" The first {MAX_DAYS:,} are listed." if selection.days.height > MAX_DAYS else ""
        body = [
            html.P(
                f"{selection.rule[:1].upper()}{selection.rule[1:]}: {selection.days.height:,} of the {total:,} "
                f"{ev.grain}s of this period.{cut} A row opens the {ev.grain}.",
                className="why-rule",
            ),
            _days_grid(metric, shown),
        ]
    return html.Div(
        [*head, html.Div(graph, className="panel"), *body],
        id=f"why-{metric}",
        className="why-metric",
        style={"margin": "10px 0 26px"},
    )


def section(snap, viewer, npi: str, period: str, query: str = "") -> html.Div:
    """The section for the provider in ``period`` (a scores period: a month or ``all``); a notice when
    the snapshot lacks what it needs. ``query``: the page's filters, for the days' links."""
    title = html.H3("Why this provider is flagged")
    try:
        flagged = evidence.flagged_metrics(snap, npi, period)
        if flagged.height == 0:
            return html.Div(
                [
                    title,
                    html.P(
                        "No metric of this provider is significant against its peers in this period; its findings "
                        "(below) are the evidence.",
                        id="why-none",
                    ),
                ],
                id=SECTION_ID,
            )
        days = evidence.provider_days(snap, npi, period)
        limits = evidence.limits(snap)
        peers = evidence.peer_values(snap, period, flagged["peer_group"][0], flagged["metric"].to_list())
    except MissingData as exc:
        return html.Div(
            [title, components.notice(f"The evidence cannot be shown from this snapshot: {exc}")], id=SECTION_ID
        )
    known = [] if viewer.sees_patients else context.known_patient_ids(snap)
    peers = protect(peers, viewer, known)  # the peers' names reach the browser in the figure's hover data
    intro = html.P(
        f"{flagged.height} metric(s) add to the risk score, strongest first: each against the peer "
        "group, then the days behind it.",
        className="muted",
    )
    blocks = [_block(row, npi, days, limits, peers, viewer, known, query) for row in flagged.iter_rows(named=True)]
    return html.Div([title, intro, *blocks], id=SECTION_ID)


# The provider page's one navigation callback (``dashboards.ui.navigation``) listens to every days grid.
DAYS_CLICKED = Input({"type": DAYS_GRID, "metric": ALL}, "cellClicked")


def clicked_href(cell: dict | None) -> str | None:
    """The day a clicked row of a days grid opens (its row id is the day's link)."""
    href = str((cell or {}).get("rowId") or "")
    return href if href.startswith("/") else None
