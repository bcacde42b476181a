"""The figures' text can be read whole: a bar's count has room beyond the longest bar (a four-digit
count lost its last digit at the axis end), and the risk map names its top outliers in a column of
evenly spaced labels instead of next to points that may coincide. (The browser tests check the
rendered figures.)"""

from __future__ import annotations

import itertools

import polars as pl

from dashboards.ui import figures


def test_bar_counts_print_whole_with_room_beyond_the_longest_bar():
    by_rule = figures.findings_by_rule(
        pl.DataFrame(
            {
                "rule_id": ["MINUTES_MISSING", "OVERLAP"],
                "findings": [4011, 12],
                "units_over": [1.0, 2.0],
                "amount_at_risk": [3.0, 4.0],
            }
        )
    )
    bar = by_rule.data[0]
    assert list(bar.text) == ["12", "4,011"] and bar.textposition == "outside" and bar.cliponaxis is False
    assert by_rule.layout.xaxis.range[1] >= 4011 * 1.15  # the count sits inside the axis
    per_day = figures.units_97112_distribution(pl.DataFrame({"units": [1, 2, 5], "patient_days": [6801, 3154, 716]}), 4)
    bar = per_day.data[0]
    assert list(bar.text) == ["6,801", "3,154", "716"] and bar.cliponaxis is False
    assert per_day.layout.yaxis.range[1] >= 6801 * 1.15


def providers(n: int) -> pl.DataFrame:
    """n outliers at nearly the same point."""
    return pl.DataFrame(
        {
            "rendering_npi": [f"10000000{i:02d}" for i in range(n)],
            "provider_name": [f"Provider number {i}" for i in range(n)],
            "risk_rank": list(range(1, n + 1)),
            "units_97112_per_patient_day": [3.0 + 0.001 * i for i in range(n)],
            "amount_at_risk": [900.0 + i for i in range(n)],
            "outlier": [True] * n,
            "peer_group": ["PT"] * n,
            "discipline": ["PT"] * n,
            "reasons": ["x"] * n,
            "patient_days": [50] * n,
        }
    )


def test_the_risk_map_names_the_top_outliers_in_an_evenly_spaced_column():
    fig = figures.risk_map(providers(12))
    labels = [a for a in fig.layout.annotations if a.name == "outlier-label"]
    assert len(labels) == figures.LABELLED_OUTLIERS  # the top ranks only; the others have their hover
    assert {a.text.split(". ", 1)[0] for a in labels} == {str(r) for r in range(1, figures.LABELLED_OUTLIERS + 1)}
    x_end, y_end = fig.layout.xaxis.range[1], fig.layout.yaxis.range[1]
    assert all(a.ax == x_end and a.axref == "x" and a.xanchor == "left" for a in labels)  # beside the plot
    heights = sorted(a.ay for a in labels)
    gaps = [b - a for a, b in itertools.pairwise(heights)]
    assert min(gaps) >= y_end / (figures.LABELLED_OUTLIERS + 1)  # never two on one line
    assert all(0 < h < y_end for h in heights)
    longest = max(len(a.text) for a in labels)
    assert fig.layout.margin.r >= longest * figures.CHAR_PX  # the margin holds the longest label
