"""ALLOCATION: the day's total is supported, but the units sit on the wrong codes (CMS only).

Pub. 100-04 ch. 5 sec. 20.2 C (as chirocode.com quotes it verbatim; see docs/rules.md): "If a service
represented by a 15 minute timed code is performed in a single day for at least 15 minutes that service
shall be billed for at least one unit. If the service is performed for at least 30 minutes, that service
shall be billed for at least two units, etc. It is not appropriate to count all minutes of treatment in a
day toward the units for one code if other services were performed for more than 15 minutes."
The allocation is unitreview's reading of the section's examples 2 and 3 (secondary copies): each code
first gets its full 15-minute blocks; the units left over go one each to the codes with the largest
remaining minutes; a tie on remaining minutes is the clinician's choice ("choose either code for 2
units and bill the other for 1 unit"), so every tied assignment is accepted and never reported.

Raised for a CMS group whose per-code minutes are all documented and whose billed timed units do not
exceed the chart of its total (above that it is UNITS_OVER_MINUTES), when some code carries more units
than any valid allocation could give it (``code_units_max``, the top of the tie range). That test is
the same whether the day is fully billed or under-billed: a code's maximum never grows when fewer
units are billed, and a code billed below its share is never reported (under-billing is not at risk).
units_over = the units above each code's maximum; priced at the over-billed codes' lines.
"""

from __future__ import annotations

import polars as pl

from pipelines.rules.findings._common import (
    GROUP_EXTRAS,
    PATIENT_DAY_NPI,
    also_rendered,
    as_findings,
    at_risk,
    attribute_rendering,
    code_level,
    cotreatment_note,
    joined_field,
    lines_claimed,
    plural,
    sorted_rows,
    unit_price,
    units_range,
)
from pipelines.rules.groups import GROUP_KEY
from pipelines.rules.reference import Reference
from pipelines.rules.settings import RuleSettings

RULE_ID = "ALLOCATION"
G = list(GROUP_KEY)


def allocation(lines: pl.LazyFrame, units: pl.LazyFrame, ref: Reference, settings: RuleSettings) -> pl.LazyFrame:
    """ALLOCATION findings, one per misallocated CMS 8-minute-rule group (patient-day grain)."""
    timed = units.filter(
        pl.col("is_timed")
        & ~pl.col("duplicate_extra")
        & (pl.col("method") == "cms")
        & (pl.col("group_basis") == "per_code_minutes")
        & (pl.col("group_units_billed") <= pl.col("group_supported_units"))
    )
    excess = (pl.col("units_billed") - pl.col("expected_units_max")).clip(lower_bound=0)
    over_lines = timed.filter(excess > 0)
    over = (
        over_lines.group_by(G)
        .agg(
            excess.sum().alias("units_over"),
            unit_price().alias("price"),
            pl.col("group_timed_minutes").first(),
            pl.col("group_supported_units").first(),
            pl.col("group_units_billed").first(),
            pl.col("group_shared_minutes").first(),
            lines_claimed(excess),  # each line its units above its code's share
        )
        .cache()
    )
    flagged = timed.join(over.select(G), on=G, how="semi").cache()

    codes = (
        code_level(flagged, G, ref)
        .with_columns(
            pl.format("{} {}", pl.col("cpt_code"), pl.col("code_minutes")).alias("mins"),
            pl.format(
                "{} {}", pl.col("cpt_code"), units_range(pl.col("code_units_min"), pl.col("code_units_max"))
            ).alias("allotted"),
            pl.format("{} {}", pl.col("cpt_code"), pl.col("code_units_billed")).alias("billed"),
        )
        .group_by(G)
        .agg(sorted_rows(["mins", "allotted", "billed"], [pl.col("code_minutes"), pl.col("cpt_code")], [True, False]))
        .with_columns(*(joined_field(f) for f in ("mins", "allotted", "billed")))
    )
    detail = pl.format(
        "{} timed minutes ({}) support {} units under the CMS method and {} are billed, but the allocation "
        "(full 15-minute blocks first, leftover units to the largest remaining minutes; a range is a tie) "
        "gives {}; billed {}: {} above a code's share.",
        pl.col("group_timed_minutes"),
        pl.col("mins"),
        pl.col("group_supported_units"),
        pl.col("group_units_billed"),
        pl.col("allotted"),
        pl.col("billed"),
        plural(pl.col("units_over"), "unit"),
    )
    result = (
        over.join(codes, on=G, how="left")
        .join(attribute_rendering(flagged, G).drop("group_price"), on=G, how="left")
        .with_columns(
            pl.concat_str(
                [detail, cotreatment_note(pl.col("group_shared_minutes")), also_rendered(pl.col("other_npis"))]
            ).alias("detail"),
            at_risk(pl.col("units_over"), pl.col("price")),
        )
    )
    return as_findings(result, RULE_ID, settings.severity(RULE_ID), (*PATIENT_DAY_NPI, *GROUP_EXTRAS))
