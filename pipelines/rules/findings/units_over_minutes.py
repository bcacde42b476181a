"""UNITS_OVER_MINUTES: billed timed units exceed what the documented minutes support.

Contract: "billed timed units of the 8-minute-rule group exceed the units its documented minutes
support under the payer's method". Pub. 100-04 ch. 5 sec. 20.2 C (as chirocode.com quotes it
verbatim): "When more than one service represented by 15 minute timed codes is performed in a single
day, the total number of minutes of service (as noted on the chart above) determines the number of
timed units billed." AMA/CPT: the same chart applied to each code on its own, then summed.

Per 8-minute-rule group (patient, day, billing provider, discipline), from ``line_units``:

- the group's total is known (per-line minutes or visit totals): CMS compares the billed timed
  units with the chart of the total; AMA with per-code minutes compares each code with the chart of
  its own minutes (units_over = the sum of each code's excess: under-billing one code does not license
  another); AMA with visit totals only compares with the most units any split of the total over the
  billed codes could give.
- some billed line has neither minutes nor a visit total: those lines are MINUTES_MISSING (their
  units are reported there, not here). The codes whose minutes are all documented are still checked
  against the most units their own minutes can carry whatever the missing minutes were: CMS
  ceil(minutes / 15) (a code keeps its full blocks and gains at most one leftover unit), AMA the chart.

Duplicate extras are not counted (DUPLICATE reports them). Attributed to the rendering NPI billing
the most timed units of the group (ties: smallest NPI); the others are named in the detail.
"""

from __future__ import annotations

import polars as pl

from pipelines.rules.chart import units_for_minutes
from pipelines.rules.findings._common import (
    GROUP_EXTRAS,
    PATIENT_DAY_NPI,
    also_rendered,
    as_findings,
    at_risk,
    attribute_rendering,
    code_level,
    cotreatment_note,
    join_sorted,
    joined_field,
    plural,
    sorted_rows,
    spread,
)
from pipelines.rules.groups import GROUP_KEY
from pipelines.rules.reference import Reference
from pipelines.rules.settings import RuleSettings
from pipelines.rules.units import _ama_bound

RULE_ID = "UNITS_OVER_MINUTES"
G = list(GROUP_KEY)


def units_over_minutes(
    lines: pl.LazyFrame, units: pl.LazyFrame, ref: Reference, settings: RuleSettings
) -> pl.LazyFrame:
    """UNITS_OVER_MINUTES findings, one per over-billed 8-minute-rule group (patient-day grain)."""
    timed = units.filter(pl.col("is_timed") & ~pl.col("duplicate_extra"))
    total_check = pl.col("group_supported_units").is_not_null() & (
        (pl.col("method") == "cms") | (pl.col("group_basis") == "visit_total_only")
    )
    total_over = pl.col("group_units_billed") - pl.col("group_supported_units")
    excess = (pl.col("units_billed") - pl.col("expected_units_max")).clip(lower_bound=0)

    over = (
        timed.filter(pl.when(total_check).then(total_over > 0).otherwise(excess > 0))
        .group_by(G)
        .agg(
            pl.when(total_check.first()).then(total_over.first()).otherwise(excess.sum()).alias("units_over"),
            total_check.first().alias("total_check"),
            pl.col("method").first(),
            pl.col("group_basis").first(),
            pl.col("group_timed_minutes").first(),
            pl.col("group_units_billed").first(),
            pl.col("group_supported_units").first(),
            pl.col("group_shared_minutes").first(),
            pl.col("group_code_minutes").first(),
            pl.col("group_visit_total_minutes").first(),
        )
        .cache()
    )
    flagged = timed.join(over.select(G), on=G, how="semi").cache()

    codes = code_level(flagged, G, ref).with_columns(
        pl.format("{} {}", pl.col("cpt_code"), pl.col("code_minutes").cast(pl.String).fill_null("?")).alias("_minutes"),
        pl.format("{} {}", pl.col("cpt_code"), pl.col("code_units_billed")).alias("_billed"),
        pl.format(
            "{} {} min -> at most {}, {} billed",
            pl.col("cpt_code"),
            pl.col("code_minutes"),
            pl.col("code_units_max"),
            pl.col("code_units_billed"),
        ).alias("_bound"),
        pl.col("code_minutes").is_null().alias("_unknown"),  # _bound is null for these: str.join skips nulls
    )
    per_group = (
        codes.with_columns(pl.when(pl.col("_unknown")).then(pl.col("cpt_code")).alias("unknown_codes"))
        .rename({"_minutes": "minutes_by_code", "_billed": "billed_by_code", "_bound": "bounds"})
        .group_by(G)
        .agg(
            sorted_rows(
                ["minutes_by_code", "billed_by_code", "bounds", "unknown_codes"],
                [pl.col("code_minutes").fill_null(-1), pl.col("cpt_code")],
                [True, False],
            ),
            pl.len().alias("n_codes"),
        )
        .with_columns(*(joined_field(f) for f in ("minutes_by_code", "billed_by_code", "bounds", "unknown_codes")))
    )

    method = pl.col("method").str.to_uppercase()
    t, n, b = pl.col("group_timed_minutes"), pl.col("group_supported_units"), pl.col("group_units_billed")
    code_m, visit_m = pl.col("group_code_minutes"), pl.col("group_visit_total_minutes")
    disagree = code_m.is_not_null() & visit_m.is_not_null() & (code_m != visit_m)
    detail = (
        pl.when(pl.col("total_check") & disagree & (pl.col("group_basis") == "visit_total_only"))
        .then(
            pl.format(
                "The per-code minutes add up to {} ({}) but the visit totals to {}: checked against each, the lower "
                "governs, {} timed minutes supporting {} under the {} method; {} billed ({}).",
                code_m,
                pl.col("minutes_by_code"),
                visit_m,
                t,
                plural(n, "unit"),
                method,
                b,
                pl.col("billed_by_code"),
            )
        )
        .when(pl.col("total_check") & (pl.col("group_basis") == "per_code_minutes"))
        .then(
            pl.format(
                "{} timed minutes ({}) support {} under the {} method; {} billed ({}).",
                t,
                pl.col("minutes_by_code"),
                plural(n, "unit"),
                method,
                b,
                pl.col("billed_by_code"),
            )
        )
        .when(pl.col("total_check") & (pl.col("method") == "cms"))
        .then(
            pl.format(
                "{} timed minutes (visit totals; no per-code minutes) support {} under the CMS method; {} billed ({}).",
                t,
                plural(n, "unit"),
                b,
                pl.col("billed_by_code"),
            )
        )
        .when(pl.col("total_check"))
        .then(
            pl.format(
                "{} timed minutes (visit totals; no per-code minutes) support at most {} units under the AMA "
                "method however they split over the {} codes billed; {} billed ({}).",
                t,
                n,
                pl.col("n_codes"),
                b,
                pl.col("billed_by_code"),
            )
        )
        .when(pl.col("group_basis") == "per_code_minutes")
        .then(
            pl.format(
                "Under the AMA method each code stands alone: {}; {} billed above their code's minutes.",
                pl.col("bounds"),
                plural(pl.col("units_over"), "unit"),
            )
        )
        .otherwise(
            pl.format(
                "Documented minutes under the {} method: {}; {} billed above what those minutes can carry "
                "(lines of {} have no minutes: see MINUTES_MISSING).",
                method,
                pl.col("bounds"),
                plural(pl.col("units_over"), "unit"),
                pl.col("unknown_codes"),
            )
        )
    )
    lower_codes = (
        pl.when(disagree & (pl.col("group_basis") == "per_code_minutes"))
        .then(pl.format(" The visit totals say {} minutes; the per-code minutes, lower, govern.", visit_m))
        .otherwise(pl.lit(""))
    )
    detail = pl.concat_str([detail, lower_codes])
    # the units over are the lines' billing most above their code's share, then the latest claims'
    claims = spread(
        flagged.join(over.select(*G, pl.col("units_over").alias("_budget")), on=G, how="left").with_columns(
            (pl.col("units_billed") - pl.col("expected_units_max").fill_null(0)).alias("_excess")
        ),
        G,
        "_budget",
        ["_excess", "claim_id", "line_number"],
        [True, True, True],
    )
    result = (
        over.join(per_group, on=G, how="left")
        .join(claims, on=G, how="left")
        .join(attribute_rendering(flagged, G), on=G, how="left")
        .with_columns(
            pl.concat_str(
                [detail, cotreatment_note(pl.col("group_shared_minutes")), also_rendered(pl.col("other_npis"))]
            ).alias("detail"),
            at_risk(pl.col("units_over"), pl.col("group_price")),
        )
    )
    found = as_findings(result, RULE_ID, settings.severity(RULE_ID), (*PATIENT_DAY_NPI, *GROUP_EXTRAS))
    return pl.concat([found, _shared_visit_totals(timed, over, settings)])


VISIT = ["patient_id", "service_date", "billing_provider", "claim_id"]


def _shared_visit_totals(timed: pl.LazyFrame, over: pl.LazyFrame, settings: RuleSettings) -> pl.LazyFrame:
    """A visit total repeated on the lines of several disciplines of one claim (``visit_disciplines``)
    is one visit's minutes: it bounds the units of the disciplines together (Pub. 100-02 ch. 15 sec.
    220.3: "The billing and the total timed code treatment minutes must be consistent"). Each
    discipline's group alone is checked against the whole total above; this checks them together, for
    a visit none of whose groups is already a finding (its units would be reported twice)."""
    joint = timed.filter(pl.col("visit_disciplines").is_not_null())
    reported = joint.join(over.select(G), on=G, how="semi").select(VISIT).unique()
    total = pl.col("visit_total")
    visits = (
        joint.group_by(VISIT)
        .agg(
            pl.col("visit_disciplines").first(),
            pl.col("total_timed_minutes").max().alias("visit_total"),
            pl.col("units_billed").sum().alias("billed"),
            (pl.col("method") == "cms").any().alias("cms"),
            pl.col("cpt_code").n_unique().cast(pl.Int64).alias("n_codes"),
            join_sorted(
                pl.format("{} {}", pl.col("cpt_code"), pl.col("units_billed")),
                [pl.col("discipline"), pl.col("cpt_code")],
            ).alias("billed_by_code"),
        )
        .join(reported, on=VISIT, how="anti")
        .with_columns(
            pl.when(pl.col("cms"))
            .then(units_for_minutes(total))
            .otherwise(_ama_bound(total, pl.col("n_codes")))
            .alias("supported")
        )
        .with_columns((pl.col("billed") - pl.col("supported")).alias("units_over"))
        .filter(pl.col("units_over") > 0)
    )
    flagged = joint.join(visits.select(VISIT), on=VISIT, how="semi")
    claims = spread(
        flagged.join(visits.select(*VISIT, pl.col("units_over").alias("_budget")), on=VISIT, how="left"),
        VISIT,
        "_budget",
        ["claim_id", "line_number"],
        [True, True],
    )
    result = (
        visits.join(attribute_rendering(flagged, VISIT), on=VISIT, how="left")
        .join(claims, on=VISIT, how="left")
        .with_columns(
            pl.concat_str(
                [
                    pl.format(
                        "One visit total of {} timed minutes is repeated on the {} lines of claim {}: one visit's minutes, "
                        "bounding its disciplines together. They support {} under the {} method; {} billed ({}).",
                        total,
                        pl.col("visit_disciplines"),
                        pl.col("claim_id"),
                        plural(pl.col("supported"), "unit"),
                        pl.when(pl.col("cms")).then(pl.lit("CMS")).otherwise(pl.lit("AMA")),
                        pl.col("billed"),
                        pl.col("billed_by_code"),
                    ),
                    also_rendered(pl.col("other_npis")),
                ]
            ).alias("detail"),
            pl.col("visit_disciplines").alias("discipline"),
            at_risk(pl.col("units_over"), pl.col("group_price")),
        )
    )
    return as_findings(result, RULE_ID, settings.severity(RULE_ID), (*PATIENT_DAY_NPI, *GROUP_EXTRAS))
