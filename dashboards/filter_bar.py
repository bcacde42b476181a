"""The filters of the overview and the providers page: months from / to, clinics and payer types (any
of several), discipline and, on the providers page, a search by NPI or name. They show the page's
``ViewState`` (read from the URL); a change becomes a new URL (``state_of``), so that the page, a
reload and a shared link show the same thing."""

from __future__ import annotations

import polars as pl
from dash import Input, dcc, html

from dashboards.privacy import protect
from dashboards.view_state import ViewState

FIELDS = ("from", "to", "clinic", "payer", "discipline")


def ids(prefix: str) -> dict[str, str]:
    return {field: f"{prefix}-{field}" for field in FIELDS} | {"search": f"{prefix}-search"}


def _labelled(id: str, label: str, control) -> html.Div:
    return html.Div([html.Label(label, htmlFor=id), control], className="filter")


def clinic_options(opts: dict, viewer, known) -> list[dict]:
    """The clinic choices, their names passed through the same masking as every text a manager sees."""
    clinics = opts.get("clinics") or []
    if not clinics:
        return []
    frame = protect(pl.DataFrame({"value": [c for c, _ in clinics], "label": [lbl for _, lbl in clinics]},
                                 schema={"value": pl.String, "label": pl.String}), viewer, known)
    return [{"label": lbl, "value": v} for v, lbl in frame.select("value", "label").iter_rows()]


def filter_bar(prefix: str, opts: dict, state: ViewState, clinics: list[dict], *, search: bool = False) -> html.Div:
    """The filters, showing ``state``. ``opts``: ``data.filter_options``; ``clinics``: ``clinic_options``."""
    i = ids(prefix)
    months = [{"label": m, "value": m} for m in opts.get("periods", [])]
    known_months = {m["value"] for m in months}
    parts = [
        _labelled(i["from"], "From month", dcc.Dropdown(
            id=i["from"], options=months, value=state.first_month if state.first_month in known_months else None,
            placeholder="first month", clearable=True)),
        _labelled(i["to"], "To month", dcc.Dropdown(
            id=i["to"], options=months, value=state.last_month if state.last_month in known_months else None,
            placeholder="last month", clearable=True)),
        _labelled(i["clinic"], "Clinics", dcc.Dropdown(
            id=i["clinic"], options=clinics, value=list(state.clinics), multi=True, placeholder="all clinics")),
        _labelled(i["payer"], "Payer types", dcc.Dropdown(
            id=i["payer"], options=[{"label": p, "value": p} for p in opts.get("payer_types", [])],
            value=list(state.payers), multi=True, placeholder="all payer types")),
        _labelled(i["discipline"], "Discipline", dcc.Dropdown(
            id=i["discipline"], options=[{"label": d, "value": d} for d in opts.get("disciplines", [])],
            value=state.discipline, placeholder="all disciplines")),
    ]
    if search:
        parts.append(_labelled(i["search"], "Search NPI or name", dcc.Input(
            id=i["search"], type="search", value=state.search, debounce=True, placeholder="e.g. 1003 or Stone",
            className="search-box", autoComplete="off")))
    return html.Div(parts, className="filters", id=f"{prefix}-filters")


def inputs(prefix: str, *, search: bool = False) -> list[Input]:
    i = ids(prefix)
    props = [Input(i["from"], "value"), Input(i["to"], "value"), Input(i["clinic"], "value"),
             Input(i["payer"], "value"), Input(i["discipline"], "value")]
    return props + ([Input(i["search"], "value")] if search else [])


def state_of(first, last, clinics, payers, discipline, search: str | None = None) -> ViewState:
    """The state the filters' values say."""
    return ViewState().with_changes(first_month=first, last_month=last, clinics=clinics or (), payers=payers or (),
                                    discipline=discipline, search=search or "")
