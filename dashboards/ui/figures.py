"""Figure builders shared by the HTML report and the Dash app: one place builds each figure.

Each takes the Polars frame that ``dashboards.data`` returns and gives a Plotly figure; none reads
the snapshot or knows who is looking (no builder receives patient identifiers). Rules and metrics
are named in plain words (``dashboards.ui.glossary``), their ids in the hover.
"""

from __future__ import annotations

import math
import textwrap

import plotly.graph_objects as go
import polars as pl

from dashboards.ui import glossary

RULE_COLORS = {
    "UNITS_OVER_MINUTES": "#d62728",
    "ALLOCATION": "#ff7f0e",
    "DAILY_LIMIT": "#9467bd",
    "MINUTES_MISSING": "#8c564b",
    "DX_SUPPORT": "#e377c2",
    "DUPLICATE": "#7f7f7f",
    "OVERLAP": "#bcbd22",
    "DOCUMENTATION": "#17becf",
    "IMPOSSIBLE_DAY": "#1f77b4",
}
PEER_COLORS = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#7f7f7f"]
OUTLIER_COLOR = "#d62728"
TEMPLATE = "plotly_white"
# Room beyond the longest bar for its count printed outside it (a count past the axis end is clipped).
BAR_TEXT_HEADROOM = 1.2
LABELLED_OUTLIERS = 8  # the risk map names at most this many outliers (by risk rank)
LABEL_CHARS = 24  # a name longer than this is shortened with "…" on the map
CHAR_PX = 7.2  # width of a character at the figures' 12 px font, to size the label margin

# Every graph of the app (``components.graph``) and of the report: no "Share chart" button, whose dialog
# uploads the figure (provider names, NPIs, amounts) to Plotly's cloud.
GRAPH_CONFIG = {
    "showSendToCloud": False,
    "plotlyServerURL": "",
    "modeBarButtonsToRemove": ["sendChartToCloud"],
    "displaylogo": False,
}


def _wrap(text: str, width: int = 28) -> str:
    """A category label on lines of at most ``width`` characters (plotly never wraps a tick label, and a
    long one is clipped at the figure's left edge on a phone)."""
    return "<br>".join(textwrap.wrap(text, width)) or text


def _layout(fig: go.Figure, title: str, height: int = 380, subtitle: str | None = None) -> go.Figure:
    # the legend sits below the axis labels whatever their height, so it never covers them on a phone
    fig.update_layout(
        template=TEMPLATE,
        title={"text": title, "x": 0.01, "xanchor": "left", **({"subtitle": {"text": subtitle}} if subtitle else {})},
        height=height,
        margin={"l": 60, "r": 20, "t": 80 if subtitle else 60, "b": 50},
        legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0, "xanchor": "left"},
        font={"family": "DejaVu Sans, Arial, sans-serif", "size": 12},
    )
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def empty(message: str, title: str = "") -> go.Figure:
    """A blank figure that says why it is blank."""
    fig = go.Figure()
    fig.add_annotation(
        text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font={"size": 14, "color": "#555"}
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, title, height=260)


def findings_by_rule(by_rule: pl.DataFrame) -> go.Figure:
    """Findings per rule (horizontal bars), the amount at risk in the hover."""
    title = "Findings by rule"
    if by_rule.height == 0:
        return empty("No findings for this selection", title)
    frame = by_rule.sort("findings")
    counts = frame["findings"].to_list()
    fig = go.Figure(
        go.Bar(
            x=counts,
            y=[_wrap(glossary.rule_label(r)) for r in frame["rule_id"]],
            orientation="h",
            marker_color=[RULE_COLORS.get(r, "#444") for r in frame["rule_id"]],
            customdata=list(
                zip(
                    frame["rule_id"].to_list(),
                    frame["units_over"].to_list(),
                    frame["amount_at_risk"].to_list(),
                    strict=True,
                )
            ),
            hovertemplate="%{y} (%{customdata[0]}): %{x:,} findings<br>units over %{customdata[1]:,.0f}"
            "<br>amount at risk $%{customdata[2]:,.2f}<extra></extra>",
            text=[f"{c:,}" for c in counts],
            textposition="outside",
            cliponaxis=False,
        )
    )
    fig.update_xaxes(title="findings", range=[0, max([*counts, 1]) * BAR_TEXT_HEADROOM])
    fig.update_yaxes(automargin=True)
    fig = _layout(fig, title, height=max(260, 70 + 44 * frame.height))  # room for two-line names
    fig.update_layout(margin={"r": 44})  # on a narrow screen a count may reach past the axis end
    return fig


def findings_over_time(monthly: pl.DataFrame) -> go.Figure:
    """Findings per month, stacked by rule."""
    title = "Findings over time by rule (monthly)"
    if monthly.height == 0:
        return empty("No dated findings for this selection", title)
    months = sorted(monthly["month"].unique().to_list())
    fig = go.Figure()
    for rule in sorted(monthly["rule_id"].unique().to_list()):
        part = monthly.filter(pl.col("rule_id") == rule)
        counts = dict(zip(part["month"].to_list(), part["findings"].to_list(), strict=True))
        fig.add_bar(
            x=months,
            y=[counts.get(m, 0) for m in months],
            name=glossary.rule_label(rule),
            marker_color=RULE_COLORS.get(rule, "#444"),
            hovertemplate=f"{glossary.rule_label(rule)} ({rule})<br>%{{x}}: %{{y}} findings<extra></extra>",
        )
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title="month of service", type="category", tickangle=-45)
    fig.update_yaxes(title="findings")
    return _layout(fig, title)


def _reference_line(fig: go.Figure, name: str, color: str, dash: str, x: list, y: list) -> None:
    """A median drawn across the plot and named in the legend (no point, no hover)."""
    fig.add_scatter(
        x=x,
        y=y,
        mode="lines",
        name=name,
        hoverinfo="skip",
        line={"color": color, "dash": dash, "width": 1.5},
        opacity=0.8,
    )


def _short(name: str, limit: int = LABEL_CHARS) -> str:
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "\u2026"


def _outlier_labels(fig: go.Figure, outliers: pl.DataFrame, x_end: float, y_end: float) -> int:
    """Name the top outliers (by risk rank) in a column beside the plot's right edge, each joined to
    its point by a line: the labels are spaced evenly down the plot's height whatever its width, so
    they never overlap one another, and the right margin is sized to the longest, so none is cut.
    Returns the margin the labels need (px)."""
    top = outliers.sort("risk_rank").head(LABELLED_OUTLIERS).sort("amount_at_risk", descending=True)
    if top.height == 0:
        return 0
    step = y_end / top.height
    texts = [
        _short(f"{r}. {n}") for r, n in zip(top["risk_rank"].to_list(), top["provider_name"].to_list(), strict=True)
    ]
    for i, (x, y, text, size) in enumerate(
        zip(
            top["units_97112_per_patient_day"].to_list(),
            top["amount_at_risk"].to_list(),
            texts,
            top["_size"].to_list(),
            strict=True,
        )
    ):
        fig.add_annotation(
            x=x,
            y=y,
            xref="x",
            yref="y",
            ax=x_end,
            ay=y_end - step * (i + 0.5),
            axref="x",
            ayref="y",
            text=text,
            showarrow=True,
            arrowhead=0,
            arrowwidth=1,
            arrowcolor="#999",
            standoff=size / 2,
            xanchor="left",
            xshift=4,
            font={"size": 12, "color": OUTLIER_COLOR},
            bgcolor="rgba(255,255,255,0.9)",
            name="outlier-label",
        )
    return int(16 + CHAR_PX * max(len(t) for t in texts))


def risk_map(providers: pl.DataFrame) -> go.Figure:
    """Providers: 97112 units per patient-day (x) against amount at risk (y); outliers in red, the top
    ones named beside the plot (``_outlier_labels``), the peer groups' medians drawn as dashed lines;
    marker area follows patient-days."""
    title, subtitle = "Provider risk map", "97112 units per patient-day vs amount at risk"
    frame = providers.filter(pl.col("units_97112_per_patient_day").is_not_null())
    if frame.height == 0:
        return empty("No provider scores for this selection", f"{title}: {subtitle}")
    frame = frame.with_columns(
        pl.col("amount_at_risk").fill_null(0.0),
        pl.col("outlier").fill_null(False),
        pl.col("peer_group").fill_null(pl.col("discipline")).fill_null("all"),
        pl.col("provider_name").fill_null(pl.col("rendering_npi")),
    )
    days = frame["patient_days"].fill_null(1).to_list() if "patient_days" in frame.columns else [1] * frame.height
    biggest = max([d or 1 for d in days] + [1])
    sizes = [10 + 24 * math.sqrt((d or 1) / biggest) for d in days]
    frame = frame.with_columns(pl.Series("_size", sizes))
    # explicit ranges: the labels' column is placed in axis units
    x_end = max(float(frame["units_97112_per_patient_day"].max() or 0), 0.1) * 1.08
    y_end = max(float(frame["amount_at_risk"].max() or 0), 1.0) * 1.1
    fig = go.Figure()
    groups = sorted(frame["peer_group"].unique().to_list())
    for i, group in enumerate(groups):
        color = PEER_COLORS[i % len(PEER_COLORS)]
        for outlier in (False, True):
            part = frame.filter((pl.col("peer_group") == group) & (pl.col("outlier") == outlier))
            if part.height == 0:
                continue
            fig.add_scatter(
                x=part["units_97112_per_patient_day"].to_list(),
                y=part["amount_at_risk"].to_list(),
                mode="markers",
                name=f"{group} outlier" if outlier else group,
                marker={
                    "size": part["_size"].to_list(),
                    "color": OUTLIER_COLOR if outlier else color,
                    "line": {"width": 2 if outlier else 1, "color": "#000" if outlier else "#fff"},
                    "opacity": 0.9,
                },
                customdata=list(
                    zip(
                        part["rendering_npi"].to_list(),
                        part["provider_name"].to_list(),
                        part["risk_rank"].to_list(),
                        [(r or "")[:160] for r in part["reasons"].to_list()],
                        strict=False,
                    )
                ),
                hovertemplate="<b>%{customdata[1]}</b> (NPI %{customdata[0]}), rank %{customdata[2]}"
                "<br>97112 units per patient-day %{x:.2f}<br>amount at risk $%{y:,.2f}"
                "<br>%{customdata[3]}<extra></extra>",
            )
        median = frame.filter(pl.col("peer_group") == group)["units_97112_per_patient_day"].median()
        if median is not None:  # named in the legend: text inside the plot ran into the points and labels
            _reference_line(fig, f"{group} peer median {median:.2f}", color, "dash", x=[median, median], y=[0, y_end])
    amount_median = frame["amount_at_risk"].median()
    if amount_median is not None:
        _reference_line(
            fig,
            f"median amount at risk ${amount_median:,.0f}",
            "#888",
            "dot",
            x=[0, x_end],
            y=[amount_median, amount_median],
        )
    margin = _outlier_labels(fig, frame.filter(pl.col("outlier")), x_end, y_end)
    fig.update_xaxes(title="97112 units per patient-day", range=[0, x_end])
    fig.update_yaxes(title="amount at risk ($)", range=[0, y_end])
    fig = _layout(fig, title, height=480, subtitle=subtitle)
    fig.update_layout(margin={"r": max(20, margin)})
    return fig


def units_97112_distribution(per_day: pl.DataFrame, daily_limit: int) -> go.Figure:
    """How many patient-days billed 1, 2, ... units of 97112, the daily limit marked; bars above it red."""
    title = f"97112 units per patient-day (daily limit {daily_limit})"
    if per_day.height == 0:
        return empty("No 97112 lines for this selection", title)
    units = per_day["units"].to_list()
    counts = per_day["patient_days"].to_list()
    fig = go.Figure(
        go.Bar(
            x=units,
            y=counts,
            marker_color=[OUTLIER_COLOR if u > daily_limit else "#1f77b4" for u in units],
            hovertemplate="%{x} units: %{y:,} patient-days<extra></extra>",
            text=[f"{c:,}" for c in counts],
            textposition="outside",
            cliponaxis=False,
        )
    )
    fig.add_vline(
        x=daily_limit + 0.5,
        line_dash="dash",
        line_color=OUTLIER_COLOR,
        annotation_text=f"daily limit {daily_limit}",
        annotation_position="top right",
        annotation_font_color=OUTLIER_COLOR,
    )
    over = sum(c for u, c in zip(units, counts, strict=True) if u > daily_limit)
    total = sum(counts)
    fig.add_annotation(
        text=f"{over} of {total} patient-days above the limit",
        x=1,
        y=1.08,
        xref="paper",
        yref="paper",
        showarrow=False,
        xanchor="right",
        font={"color": OUTLIER_COLOR},
    )
    fig.update_xaxes(title="units of 97112 billed for the patient that day", dtick=1)
    fig.update_yaxes(title="patient-days", range=[0, max([*counts, 1]) * BAR_TEXT_HEADROOM])
    return _layout(fig, title)


def provider_vs_peers(metrics: pl.DataFrame) -> go.Figure:
    """The provider's robust z-score on each metric against its peer group; significant ones red."""
    title, subtitle = "Against peers", "robust z-score; 0 = peer median"
    if metrics.height == 0 or "robust_z" not in metrics.columns:
        return empty("No peer metrics for this provider and period", f"{title} ({subtitle})")
    frame = metrics.filter(pl.col("robust_z").is_not_null()).sort("metric", descending=True)
    if frame.height == 0:
        return empty("No peer metrics for this provider and period", f"{title} ({subtitle})")
    significant = (
        frame["significant"].fill_null(False).to_list() if "significant" in frame.columns else [False] * frame.height
    )
    fig = go.Figure(
        go.Bar(
            x=frame["robust_z"].to_list(),
            y=[_wrap(glossary.label(m)) for m in frame["metric"]],
            orientation="h",
            marker_color=[OUTLIER_COLOR if s else "#1f77b4" for s in significant],
            customdata=list(
                zip(frame["value"].to_list(), frame["peer_median"].to_list(), frame["metric"].to_list(), strict=True)
            ),
            hovertemplate="%{y} (%{customdata[2]})<br>value %{customdata[0]:.3f} vs peer median %{customdata[1]:.3f}"
            "<br>robust z %{x:.2f}<extra></extra>",
        )
    )
    fig.add_vline(x=0, line_color="#444")
    fig.update_xaxes(title="robust z-score")
    fig.update_yaxes(automargin=True)
    return _layout(fig, title, height=max(260, 100 + 46 * frame.height), subtitle=subtitle)


def provider_trend(trend: pl.DataFrame) -> go.Figure:
    """Monthly 97112 units per patient-day against the peer median, amount at risk as bars."""
    title = "Monthly trend"
    if trend.height == 0:
        return empty("No monthly scores for this provider", title)
    months = trend["month"].to_list()
    fig = go.Figure()
    # bars on the base axis (right), lines on the overlaying axis (left) so that the lines stay on top
    fig.add_bar(
        x=months,
        y=trend["amount_at_risk"].fill_null(0).to_list(),
        name="amount at risk ($)",
        marker_color="#f4b6b6",
        hovertemplate="%{x}: $%{y:,.2f} at risk<extra></extra>",
    )
    fig.add_scatter(
        x=months,
        y=trend["units_97112_per_patient_day"].to_list(),
        name="97112 units per patient-day",
        mode="lines+markers",
        line={"color": OUTLIER_COLOR, "width": 3},
        yaxis="y2",
    )
    fig.add_scatter(
        x=months,
        y=trend["peer_median"].to_list(),
        name="peer median",
        mode="lines+markers",
        line={"color": "#1f77b4", "dash": "dash"},
        yaxis="y2",
    )
    fig.update_layout(
        yaxis={"title": "amount at risk ($)", "side": "right", "rangemode": "tozero", "showgrid": False},
        yaxis2={
            "title": "97112 units per patient-day",
            "overlaying": "y",
            "side": "left",
            "rangemode": "tozero",
            "tickmode": "auto",
            "nticks": 6,
        },
    )
    fig.update_xaxes(type="category", title="month")
    return _layout(fig, title)
