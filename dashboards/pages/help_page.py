"""Help: every rule, provider metric, peer statistic and column the app shows, in plain words with
its source (``dashboards.ui.glossary``)."""

from __future__ import annotations

from dash import dcc, html

from dashboards.ui import glossary

PATH = "/help"
SECTIONS = [
    (
        "Findings: the rules",
        "Each finding is raised by one rule; its detail gives the rule's arithmetic.",
        glossary.RULES,
    ),
    (
        "Provider metrics, compared with peers",
        "Each provider's metrics against its peer group in the same "
        "period; the ones that stand out in the bad direction make the reasons and the risk score.",
        glossary.METRICS,
    ),
    ("Peer statistics and the risk rank", "", glossary.STATISTICS),
    ("Other columns", "", glossary.COLUMNS),
]


def _entry(key: str, term: glossary.Term) -> html.Div:
    return html.Div(
        [
            html.H4(term.name),
            html.Div(html.Code(key), className="muted"),
            html.P(term.meaning),
            html.P(["Source: ", term.source], className="muted") if term.source else None,
        ],
        className="help-entry",
        id=f"help-{key}",
    )


def layout(**_):
    toc = html.Ul([html.Li(html.A(title, href=f"#help-section-{n}")) for n, (title, _, _) in enumerate(SECTIONS)])
    body = [
        html.Nav(
            [
                dcc.Link("Overview", href="/", className="crumb"),
                html.Span("›", className="crumb-sep"),
                html.Span("Help", className="crumb-here"),
            ],
            className="breadcrumbs",
            id="breadcrumbs",
        ),
        html.H2("What the app shows, in plain words", id="help-title"),
        html.P("Grids and figures use these names; a column header's tooltip repeats the explanation."),
        toc,
    ]
    for n, (title, intro, terms) in enumerate(SECTIONS):
        body += [
            html.H3(title, id=f"help-section-{n}"),
            html.P(intro) if intro else None,
            html.Div([_entry(k, t) for k, t in terms.items()], className="help-list"),
        ]
    return html.Div(body, id="help-page")
