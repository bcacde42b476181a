"""The unit chart of the CMS 8-minute rule (Claims Processing Manual ch. 5 sec. 20.2 C).

"8-22 min = 1, 23-37 = 2, 38-52 = 3, 53-67 = 4, 68-82 = 5, 83-97 = 6, 98-112 = 7, 113-127 = 8,
'the pattern remains the same' beyond. Under 8 minutes in total: no unit."  The AMA/CPT method
applies the same chart to each code alone ("a unit of time is attained when the mid-point is
passed").
"""

from __future__ import annotations

import polars as pl


def units_for_minutes(minutes: pl.Expr) -> pl.Expr:
    """Units the chart gives for ``minutes``: 0 below 8, else ``(minutes + 7) // 15``; null stays null."""
    m = minutes.cast(pl.Int64)
    return pl.when(m >= 8).then((m + 7) // 15).when(m.is_not_null()).then(pl.lit(0, pl.Int64)).otherwise(None)
