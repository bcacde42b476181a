"""Figures of the evidence behind a flag: one metric against the peer group's values, and a
therapist-day's visits on a timeline with the overlapping intervals marked.

Like ``dashboards.ui.figures`` (whose layout and colours they share), the builders take frames and give
Plotly figures; they name patients only by the label column the page passes (a token for a manager).
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from dashboards.data.evidence import metric_text
from dashboards.ui.figures import OUTLIER_COLOR, _layout, empty

PEER_COLOR = "#5b7fa6"
MEDIAN_COLOR = "#444"
VISIT_COLOR = "#6c9bd2"
UNTIMED_COLOR = "#c7c7c7"
OVERLAP_COLOR = "#d62728"


def metric_against_peers(
    peers: pl.DataFrame, npi: str, value: float | None, median: float | None, title: str, percent: bool = False
) -> go.Figure:
    """The peer group's values of one metric as a strip (one dot per provider, spread vertically so
    that equal values stay visible), this provider a red diamond, the peer median a dashed line."""
    frame = peers.filter(pl.col("value").is_not_null())
    if frame.height == 0 and value is None:
        return empty("No peer values for this metric and period", title)
    scale = 100.0 if percent else 1.0
    others = frame.filter(pl.col("rendering_npi") != npi).sort("value", "rendering_npi")
    # a deterministic jitter: the k-th of the sorted peers sits on one of five rows
    rows = [((k % 5) - 2) * 0.12 for k in range(others.height)]
    names = others["provider_name"].fill_null(others["rendering_npi"]).to_list() if others.height else []
    fig = go.Figure()
    fig.add_scatter(
        x=[v * scale for v in others["value"].to_list()],
        y=rows,
        mode="markers",
        name=f"peers ({others.height})",
        marker={"size": 11, "color": PEER_COLOR, "opacity": 0.75, "line": {"width": 1, "color": "#fff"}},
        customdata=list(zip(names, others["rendering_npi"].to_list(), strict=True)),
        hovertemplate="%{customdata[0]} (NPI %{customdata[1]})<br>%{x:.3g}"
        + ("%" if percent else "")
        + "<extra></extra>",
    )
    if value is not None:
        fig.add_scatter(
            x=[value * scale],
            y=[0],
            mode="markers+text",
            name="this provider",
            marker={"size": 18, "color": OUTLIER_COLOR, "symbol": "diamond", "line": {"width": 1.5, "color": "#000"}},
            text=[f"this provider {metric_text(value, percent)}"],
            textposition="top center",
            textfont={"color": OUTLIER_COLOR, "size": 12},
            hovertemplate="this provider: %{x:.3g}" + ("%" if percent else "") + "<extra></extra>",
        )
    if median is not None:
        fig.add_vline(
            x=median * scale,
            line_dash="dash",
            line_color=MEDIAN_COLOR,
            annotation_text=f"peer median {metric_text(median, percent)}",
            annotation_position="bottom right",
            annotation_font_color=MEDIAN_COLOR,
        )
    fig.update_yaxes(visible=False, range=[-0.5, 0.6])
    fig.update_xaxes(title=title + (" (%)" if percent else ""), zeroline=False, rangemode="tozero")
    fig = _layout(fig, f"This provider against its {others.height} peer(s)", height=230)
    fig.update_layout(margin={"l": 30, "r": 30, "t": 50, "b": 50}, legend={"orientation": "h", "y": -0.45})
    return fig


def _bars(frame: pl.DataFrame, start: str, end: str, label: str) -> dict:
    """Horizontal bars from ``start`` to ``end`` on a time axis (a base and a length in ms, as
    plotly.express.timeline draws them)."""
    return {
        "y": frame[label].to_list(),
        "base": [s.isoformat() for s in frame[start].to_list()],
        "x": [
            (e - s).total_seconds() * 1000 for s, e in zip(frame[start].to_list(), frame[end].to_list(), strict=True)
        ],
        "orientation": "h",
    }


def therapist_day_timeline(visits: pl.DataFrame, shared: pl.DataFrame, label: str, title: str) -> go.Figure:
    """One row per patient (``label``), a bar per visit from its start to its end (one-on-one timed
    visits blue, others grey), the intervals shared with another patient's visit hatched red on top."""
    if visits.height == 0:
        return empty("No visit of this day has a start and an end time", title)
    order = visits.group_by(label).agg(pl.col("visit_start").min()).sort("visit_start")[label].to_list()
    fig = go.Figure()
    for timed, name, color in (
        (True, "one-on-one timed visit", VISIT_COLOR),
        (False, "visit without timed units", UNTIMED_COLOR),
    ):
        part = visits.filter(pl.col("one_on_one").fill_null(False) == timed)
        if part.height == 0:
            continue
        fig.add_bar(
            **_bars(part, "visit_start", "visit_end", label),
            name=name,
            marker={"color": color, "line": {"color": "#1f3b57", "width": 1}},
            customdata=list(
                zip(
                    part["claim_id"].to_list(),
                    [s.strftime("%H:%M") for s in part["visit_start"].to_list()],
                    [e.strftime("%H:%M") for e in part["visit_end"].to_list()],
                    part["timed_minutes"].to_list(),
                    part["codes"].to_list(),
                    strict=True,
                )
            ),
            hovertemplate="%{y}<br>claim %{customdata[0]}: %{customdata[1]}-%{customdata[2]}"
            "<br>%{customdata[3]} timed minutes documented (%{customdata[4]})<extra></extra>",
        )
    if shared.height:
        fig.add_bar(
            **_bars(shared, "overlap_start", "overlap_end", label),
            name="overlaps another patient's visit",
            width=0.45,
            marker={
                "color": "rgba(214,39,40,0.35)",
                "line": {"color": OVERLAP_COLOR, "width": 1.5},
                "pattern": {"shape": "/", "fgcolor": OVERLAP_COLOR, "size": 8, "solidity": 0.4},
            },
            customdata=list(
                zip(
                    shared["other"].to_list(),
                    [s.strftime("%H:%M") for s in shared["overlap_start"].to_list()],
                    [e.strftime("%H:%M") for e in shared["overlap_end"].to_list()],
                    strict=True,
                )
            ),
            hovertemplate="%{y} overlaps %{customdata[0]}<br>%{customdata[1]}-%{customdata[2]}<extra></extra>",
        )
    fig.update_layout(barmode="overlay", bargap=0.35)
    fig.update_xaxes(type="date", title="time of day", tickformat="%H:%M")
    fig.update_yaxes(
        type="category", categoryorder="array", categoryarray=list(reversed(order)), title=None, automargin=True
    )
    return _layout(fig, title, height=max(260, 140 + 48 * len(order)))
