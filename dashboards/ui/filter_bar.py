"""The filters of the overview and the providers page: months from / to, clinics and payer types (any
of several), discipline and, on the providers page, a search by NPI or name. They show the page's
``ViewState`` (read from the URL); a change becomes a new URL (``state_of``), so that the page, a
reload and a shared link show the same thing.

A manager's choices are masked, labels and values alike (``privacy.protect_options``): the values in
a manager's URL are the masked ones, and ``unmasked`` maps them back to the snapshot's before they
filter anything."""

from __future__ import annotations

from dash import Input, dcc, html

from dashboards.access.privacy import protect_options, unmask_choice
from dashboards.ui.view_state import ViewState

FIELDS = ("from", "to", "clinic", "payer", "discipline")


def ids(prefix: str) -> dict[str, str]:
    return {field: f"{prefix}-{field}" for field in FIELDS} | {"search": f"{prefix}-search"}


def _labelled(id: str, label: str, control) -> html.Div:
    return html.Div([html.Label(label, htmlFor=id), control], className="filter")


def unmasked(state: ViewState, opts: dict, viewer, known) -> ViewState:
    """``state`` with the snapshot's own clinics, payer types and discipline for the masked values a
    manager's dropdowns (and so URL) carry; a value that matches none is dropped."""
    if viewer.sees_patients:
        return state

    def real(values, choices):
        return [r for r in (unmask_choice(v, choices, viewer, known) for v in values) if r is not None]

    return state.with_changes(
        clinics=real(state.clinics, [c for c, _ in opts.get("clinics", [])]),
        payers=real(state.payers, opts.get("payer_types", [])),
        discipline=(real([state.discipline], opts.get("disciplines", [])) or [None])[0] if state.discipline else None,
    )


def filter_bar(prefix: str, opts: dict, state: ViewState, viewer, known, *, search: bool = False) -> html.Div:
    """The filters, showing ``state`` (as the URL holds it). ``opts``: ``data.filter_options``;
    ``known``: the patient ids to mask for ``viewer``."""
    i = ids(prefix)
    clinics = protect_options([{"label": label, "value": v} for v, label in opts.get("clinics", [])], viewer, known)
    payers = protect_options([{"label": p, "value": p} for p in opts.get("payer_types", [])], viewer, known)
    disciplines = protect_options([{"label": d, "value": d} for d in opts.get("disciplines", [])], viewer, known)
    months = [{"label": m, "value": m} for m in opts.get("periods", [])]
    known_months = {m["value"] for m in months}
    parts = [
        _labelled(
            i["from"],
            "From month",
            dcc.Dropdown(
                id=i["from"],
                options=months,
                value=state.first_month if state.first_month in known_months else None,
                placeholder="first month",
                clearable=True,
            ),
        ),
        _labelled(
            i["to"],
            "To month",
            dcc.Dropdown(
                id=i["to"],
                options=months,
                value=state.last_month if state.last_month in known_months else None,
                placeholder="last month",
                clearable=True,
            ),
        ),
        _labelled(
            i["clinic"],
            "Clinics",
            dcc.Dropdown(
                id=i["clinic"], options=clinics, value=list(state.clinics), multi=True, placeholder="all clinics"
            ),
        ),
        _labelled(
            i["payer"],
            "Payer types",
            dcc.Dropdown(
                id=i["payer"], options=payers, value=list(state.payers), multi=True, placeholder="all payer types"
            ),
        ),
        _labelled(
            i["discipline"],
            "Discipline",
            dcc.Dropdown(
                id=i["discipline"], options=disciplines, value=state.discipline, placeholder="all disciplines"
            ),
        ),
    ]
    if search:
        parts.append(
            _labelled(
                i["search"],
                "Search NPI or name",
                dcc.Input(
                    id=i["search"],
                    type="search",
                    value=state.search,
                    debounce=True,
                    placeholder="e.g. 1003 or Stone",
                    className="search-box",
                    autoComplete="off",
                ),
            )
        )
    return html.Div(parts, className="filters", id=f"{prefix}-filters")


def inputs(prefix: str, *, search: bool = False) -> list[Input]:
    i = ids(prefix)
    props = [
        Input(i["from"], "value"),
        Input(i["to"], "value"),
        Input(i["clinic"], "value"),
        Input(i["payer"], "value"),
        Input(i["discipline"], "value"),
    ]
    return props + ([Input(i["search"], "value")] if search else [])


def state_of(first, last, clinics, payers, discipline, search: str | None = None) -> ViewState:
    """The state the filters' values say."""
    return ViewState().with_changes(
        first_month=first,
        last_month=last,
        clinics=clinics or (),
        payers=payers or (),
        discipline=discipline,
        search=search or "",
    )
