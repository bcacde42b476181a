"""Small UI pieces the pages share: the snapshot line, breadcrumbs, notices, cards and grids (their
headers in plain words, ``dashboards.ui.glossary``)."""

from __future__ import annotations

import datetime as dt
import json
import math

import dash_ag_grid as dag
import polars as pl
from dash import dcc, html

from dashboards.data.snapshot import Snapshot
from dashboards.ui import glossary
from dashboards.ui.figures import GRAPH_CONFIG
from dashboards.ui.view_state import ViewState

AUTO_HEIGHT_ROWS = 30
# columns whose values are ids shown by their plain names (rule ids stay ids: reviewers cite them)
NAMED_VALUES = {"metric": {key: term.name for key, term in glossary.METRICS.items()}}
NUMBER_FORMATS = {
    "amount_at_risk": "d3.format('$,.2f')(params.value)",
    "allowed_amount": "d3.format('$,.2f')(params.value)",
}


def snapshot_line(snap: Snapshot | None, problem: str | None = None) -> html.Div:
    if snap is None:
        return html.Div(problem or "no snapshot", className="snapshot-line", id="snapshot-line")
    info = snap.info()
    return html.Div(f"Snapshot taken at {info.taken_at_text()}", className="snapshot-line", id="snapshot-line")


def breadcrumbs(state: ViewState, *trail: tuple[str, str | None]) -> html.Nav:
    """Overview > Providers > ... : each step a link to that page with the same filters (``state``);
    the last step (path None) is the page itself."""
    items = []
    for n, (text, path) in enumerate([("Overview", "/" if trail else None), *trail]):
        if n:
            items.append(html.Span("›", className="crumb-sep", **{"aria-hidden": "true"}))
        if path is None:
            items.append(html.Span(text, className="crumb-here", **{"aria-current": "page"}))
        else:
            href = state.href(path, with_search=path.startswith("/providers"))
            items.append(dcc.Link(text, href=href, className="crumb", id=f"crumb-{n}"))
    return html.Nav(items, className="breadcrumbs", id="breadcrumbs", **{"aria-label": "breadcrumb"})


def notice(text: str, id: str | None = None) -> html.Div:
    kwargs = {"id": id} if id else {}
    return html.Div(text, className="notice", **kwargs)


def card(label: str, value: str, id: str | None = None) -> html.Div:
    kwargs = {"id": id} if id else {}
    return html.Div(
        [html.Div(label, className="card-label"), html.Div(value, className="card-value")], className="card", **kwargs
    )


def export_links(label: str, base: str, state: ViewState, files: list[tuple[str, str, str]]) -> html.Div:
    """A row of download links: ``label``, then each (text, file name under ``base``, element id),
    every link keeping the page's filters (``state``)."""
    q = state.query()
    links: list = [html.Span(label)]
    for text, name, id in files:
        links += [html.Span(" · ")] if len(links) > 1 else []
        links.append(html.A(text, href=f"{base}/{name}{q}", id=id, download=""))
    return html.Div(links, className="exports")


def graph(id: str | dict, figure, **kwargs) -> dcc.Graph:
    """A Plotly graph, never offering to share the figure to a cloud (``figures.GRAPH_CONFIG``)."""
    return dcc.Graph(id=id, figure=figure, config=GRAPH_CONFIG, **kwargs)


def money(x) -> str:
    return f"${(x or 0):,.2f}"


def _jsonable(value):
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return value


def rows(frame: pl.DataFrame) -> list[dict]:
    return [{k: _jsonable(v) for k, v in r.items()} for r in frame.iter_rows(named=True)]


def column_defs(frame: pl.DataFrame, hidden=(), wide=(), pinned=()) -> list[dict]:
    defs = []
    for name, dtype in frame.schema.items():
        d: dict = {"field": name, "headerName": glossary.label(name)}
        if glossary.meaning(name):
            d["headerTooltip"] = glossary.meaning(name)
        if name in NAMED_VALUES:  # e.g. a metric id shown by its plain name (the value stays the id)
            d["valueFormatter"] = {"function": f"({json.dumps(NAMED_VALUES[name])})[params.value] || params.value"}
            d["tooltipField"] = name
        if name in hidden:
            d["hide"] = True
        if dtype.is_numeric():
            d["type"] = "rightAligned"
            d["filter"] = "agNumberColumnFilter"
            if name in NUMBER_FORMATS:
                d["valueFormatter"] = {"function": NUMBER_FORMATS[name]}
            elif dtype.is_float():
                d["valueFormatter"] = {"function": "params.value == null ? '' : d3.format(',.2f')(params.value)"}
        if name in wide:
            d.update(wrapText=True, autoHeight=True, width=480, minWidth=300, suppressAutoSize=True)
        if name in pinned:
            d["pinned"] = "left"
        defs.append(d)
    return defs


def grid(
    id: str,
    frame: pl.DataFrame,
    *,
    row_id: str | None = None,
    hidden=(),
    wide=(),
    pinned=(),
    height: int = 420,
    clickable: bool = False,
    row_class_rules: dict | None = None,
) -> dag.AgGrid:
    """An AG Grid of ``frame``; up to ``AUTO_HEIGHT_ROWS`` rows it grows to fit them."""
    options = {
        "animateRows": False,
        "enableCellTextSelection": True,
        "suppressColumnVirtualisation": True,
        "pagination": frame.height > 200,
        "paginationPageSize": 100,
    }
    style = {"width": "100%"}
    if frame.height <= AUTO_HEIGHT_ROWS:
        options["domLayout"] = "autoHeight"
    else:
        style["height"] = f"{height}px"
    kwargs = {"getRowId": f"params.data.{row_id}"} if row_id else {}
    if row_class_rules:
        kwargs["rowClassRules"] = row_class_rules
    return dag.AgGrid(
        id=id,
        rowData=rows(frame),
        columnDefs=column_defs(frame, hidden=hidden, wide=wide, pinned=pinned),
        defaultColDef={"sortable": True, "filter": True, "resizable": True, "minWidth": 90},
        dashGridOptions=options,
        columnSize="autoSize",
        style=style,
        className="clickable-grid" if clickable else "",
        **kwargs,
    )
