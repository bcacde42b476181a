"""Units the documented minutes support, line by line: the CMS 8-minute rule and the AMA method.

Claims Processing Manual ch. 5 sec. 20.2 C, as the domain doc quotes it:

- "If more than one 15 minute timed CPT code is billed during a single calendar day, then the total
  number of timed units that can be billed is constrained by the total treatment minutes for that
  day."  The total goes through the chart (``chart.units_for_minutes``).
- "If a service represented by a 15 minute timed code is performed in a single day for at least 15
  minutes, that service shall be billed for at least one unit. If ... at least 30 minutes, ... at
  least two units, etc."  Allocation: "each code first gets its full 15-minute blocks; the units left
  over go one each to the codes with the largest remaining minutes. A tie on remaining minutes is the
  clinician's choice: a checker must accept every tied assignment and never report it."
- AMA/CPT: "the same chart applied to each code on its own, then summed".
- Untimed codes: "the provider enters '1' in the field labeled units"; "Untimed minutes never count
  toward timed units."
- Benefit Policy Manual ch. 15 sec. 220.3: notes must record total timed minutes, minutes per code are
  voluntary, "so the day total must be checkable from a visit-level total alone, and per-code checks
  run only where per-code minutes exist."

How the frame is built (all vectorized, one row per input line, sorted by claim_id, line_number):

1. Lines are keyed by the 8-minute-rule group (``groups.GROUP_KEY``: patient, day, billing NPI or
   else the claim, discipline). A line *counts* when its code
   is timed and it is not a duplicate extra (below). A counted line *lacks minutes* when it bills
   units (> 0) and has no ``minutes``; a zero-unit line without minutes documents nothing and adds 0.
2. Duplicate extras: a line billing units that repeats (patient, date, rendering NPI, code, units) of
   a line on a smaller claim_id is the DUPLICATE rule's business; it is left out of every minute and
   unit total here (expected_units 0, basis 'duplicate'), so its units are reported once, by DUPLICATE.
3. A visit (one claim's lines of the group) contributes its per-line minutes when none of its counted
   lines lacks minutes, else its ``total_timed_minutes`` (the visit total repeated on each line; the
   largest value if they disagree), else nothing is known. The group's total is known when every
   visit's is.
4. Codes: per (group, code) the minutes, units billed, and the range of units the method allows:
   CMS with every line documented -> the allocation, [full blocks + sure leftover, full blocks +
   possible leftover] (a tie on remaining minutes opens the range); CMS with some other code's
   minutes unknown -> [minutes // 15, ceil(minutes / 15)] (a code never loses its full blocks and
   never gains more than one unit from leftovers), capped by the group's total units when known; AMA
   -> the chart of the code's own minutes.
5. A code's units go back to its lines in (claim_id, line_number) order: each line takes up to its own
   units billed, the last line takes whatever remains. The same split is applied to the point value
   and to both ends of the range, so summing ``units_billed - expected_units_max`` (floored at 0) over
   a code's lines gives exactly the code's excess.

Group method: CMS when any line of the group is billed to a CMS-method payer (the stricter reading
binds a day that mixes payers), else AMA. A payer_type not in the mapping counts as AMA, like 'other'.
"""

from __future__ import annotations

import hashlib
import json

import polars as pl

from pipelines.rules.chart import units_for_minutes
from pipelines.rules.claims import EXCLUDED, claim_status
from pipelines.rules.frame import canonical, line_price, price_basis
from pipelines.rules.groups import GROUP_KEY, billing_provider, discipline
from pipelines.rules.reference import Reference, normalize_code
from pipelines.rules.settings import RuleSettings

G = list(GROUP_KEY)
DUPLICATE_KEY = ["patient_id", "service_date", "rendering_npi", "cpt_code", "units_billed"]

BASES = ("per_code_minutes", "visit_total_only", "minutes_missing", "untimed", "duplicate", *EXCLUDED)

LINE_UNITS_SCHEMA: dict[str, pl.DataType] = {
    "claim_id": pl.String(),
    "line_number": pl.Int64(),
    "patient_id": pl.String(),
    "service_date": pl.Date(),
    "rendering_npi": pl.String(),
    "billing_provider": pl.String(),
    "discipline": pl.String(),
    "cpt_code": pl.String(),
    "is_timed": pl.Boolean(),
    "method": pl.String(),
    "units_billed": pl.Int64(),
    "minutes_used": pl.Int64(),
    "total_timed_minutes": pl.Int64(),
    "visit_timed_minutes": pl.Int64(),
    "code_minutes": pl.Int64(),
    "code_units_billed": pl.Int64(),
    "code_units_min": pl.Int64(),
    "code_units_max": pl.Int64(),
    "group_timed_minutes": pl.Int64(),
    "group_shared_minutes": pl.Int64(),
    "group_code_minutes": pl.Int64(),
    "group_visit_total_minutes": pl.Int64(),
    "visit_disciplines": pl.String(),
    "group_units_billed": pl.Int64(),
    "group_supported_units": pl.Int64(),
    "group_basis": pl.String(),
    "expected_units": pl.Int64(),
    "expected_units_min": pl.Int64(),
    "expected_units_max": pl.Int64(),
    "expected_basis": pl.String(),
    "duplicate_extra": pl.Boolean(),
    "price_per_unit": pl.Float64(),
    "price_basis": pl.String(),
    "claim_status": pl.String(),
}


def units_inputs(ref: Reference, settings: RuleSettings) -> dict:
    """Everything ``line_units`` reads from the reference data and the settings: the timed codes and
    the payer methods by payer_type and payer_name (seed tables, then the settings' overrides). A
    change to anything else in [rules] (a finding rule's limit, ceiling or severity, the diagnosis
    table) leaves every line's units as they are (``units_fingerprint``); tests/test_rules_units.py
    checks that ``line_units`` reads nothing of ``ref`` or ``settings`` but this."""
    by_type = dict(zip(ref.payer_methods["payer_type"], ref.payer_methods["method"], strict=True))
    by_type.update(settings.payer_type_methods)
    by_name = dict(zip(ref.payer_name_methods["payer_name"], ref.payer_name_methods["method"], strict=True))
    by_name.update(settings.payer_name_methods)
    families = {
        addon: [primary, int(cap)]
        for addon, primary, cap in ref.addon_codes.select(
            "addon_code", "primary_code", "primary_units_per_day"
        ).iter_rows()
    }
    return {
        "timed_codes": sorted(ref.timed_codes()),
        "payer_type_methods": by_type,
        "payer_name_methods": by_name,
        "code_families": dict(sorted(families.items())),
        "group_without_billing_npi": settings.group_without_billing_npi,
        # the fee schedule prices lines without amounts: its content, as a digest
        "pfs_rvu": hashlib.sha256(ref.pfs_rvu.write_csv().encode()).hexdigest()[:16],
    }


def units_fingerprint(ref: Reference, settings: RuleSettings) -> str:
    """A short hash of ``units_inputs`` and the package version: while it holds, stored line units
    stand and a change of [rules] recomputes only the findings."""
    from pipelines import __version__

    body = json.dumps({"version": __version__, **units_inputs(ref, settings)}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def payer_method(ref: Reference, settings: RuleSettings) -> pl.Expr:
    """'cms' or 'ama' for a line: its payer_name's override (settings, then payer_name_methods.csv),
    else its payer_type's method (settings, then payer_methods.csv), else 'ama'."""
    return _payer_method(units_inputs(ref, settings))


def _payer_method(inputs: dict) -> pl.Expr:
    by_type, by_name = inputs["payer_type_methods"], inputs["payer_name_methods"]
    from_type = (
        pl.col("payer_type")
        .str.strip_chars()
        .str.to_lowercase()
        .replace_strict(by_type, default=None, return_dtype=pl.String)
    )
    if not by_name:
        return pl.coalesce(from_type, pl.lit("ama"))
    from_name = (
        pl.col("payer_name")
        .str.strip_chars()
        .str.to_lowercase()
        .replace_strict(by_name, default=None, return_dtype=pl.String)
    )
    return pl.coalesce(from_name, from_type, pl.lit("ama"))


def prepared_lines(lines: pl.LazyFrame, ref: Reference, settings: RuleSettings) -> pl.LazyFrame:
    """Per line: the group key, normalized code, timed flag, payer method, duplicate flag, and
    whether the line counts toward the group's timed minutes (``counts``) and lacks minutes."""
    inputs = units_inputs(ref, settings)
    base = canonical(lines).select(
        "claim_id",
        "line_number",
        "patient_id",
        "service_date",
        "rendering_npi",
        billing_provider(inputs["group_without_billing_npi"]),
        discipline(),
        normalize_code(pl.col("cpt_code")).alias("cpt_code"),
        "units_billed",
        "minutes",
        "total_timed_minutes",
        _payer_method(inputs).alias("line_method"),
        line_price(),
        price_basis(),
    )
    base = _with_pfs_estimate(base, ref.pfs_rvu)
    base = _with_families(base, inputs["code_families"])
    # replacements and voids first: a replaced or voided claim and a void are no services at all
    status = claim_status(lines)
    base = (
        base.join(status, on="claim_id", how="left")
        .with_columns(pl.col("claim_status").fill_null("original"))
        .with_columns(
            pl.col("cpt_code").is_in(inputs["timed_codes"]).alias("is_timed"),
            pl.col("claim_status").is_in(EXCLUDED).alias("_excluded"),
        )
    )
    return _counted(_with_duplicates(base, lines), inputs)


def _with_pfs_estimate(base: pl.LazyFrame, pfs: pl.DataFrame) -> pl.LazyFrame:
    """A billed line without paid, allowed or charge amount priced from the Medicare Physician Fee
    Schedule: the code's national non-facility RVUs x the conversion factor of the release in force
    on the service date (before the first release: the first; after the last: the last), labelled
    'pfs_estimate' (no locality adjustment: an estimate). A code the table does not list stays
    unpriced (null)."""
    missing = pl.col("price_per_unit").is_null() & (pl.col("units_billed") > 0)
    table = pfs.select("cpt_code", "date_start", "pfs_national").sort("date_start").lazy()
    first = pfs.sort("date_start").group_by("cpt_code").agg(pl.col("pfs_national").first().alias("_first")).lazy()
    needs = (
        base.filter(missing)
        .sort("service_date")
        .join_asof(
            table,
            left_on="service_date",
            right_on="date_start",
            by="cpt_code",
            strategy="backward",
            check_sortedness=False,
        )  # both sorted by date above; within a code too
        .join(first, on="cpt_code", how="left")
        .with_columns(pl.coalesce("pfs_national", "_first").alias("price_per_unit"))
        .with_columns(pl.when(pl.col("price_per_unit").is_not_null()).then(pl.lit("pfs_estimate")).alias("price_basis"))
        .drop("date_start", "pfs_national", "_first")
    )
    return pl.concat([base.filter(~missing), needs])


def _with_duplicates(base: pl.LazyFrame, lines: pl.LazyFrame) -> pl.LazyFrame:
    """``duplicate_extra``: a billed line repeating (patient, date, rendering NPI, code, units) of a
    line on a smaller claim_id of the same session: their visit windows overlap (or are the same),
    or, where either has none, their minutes are the same (both unknown counts as the same). Two
    documented sessions at different times are two services. Only lines whose key hash repeats
    are compared (a hash collision merely adds a candidate), pairwise within their key."""
    billed = (pl.col("units_billed") > 0) & ~pl.col("_excluded")
    base = base.with_columns(
        (billed & pl.struct(DUPLICATE_KEY).hash().is_duplicated()).fill_null(False).alias("_maybe_duplicate"),
    ).cache()
    windows = canonical(lines).select("claim_id", "line_number", "visit_start", "visit_end")
    candidates = (
        base.filter(pl.col("_maybe_duplicate") & billed)
        .select(*DUPLICATE_KEY, "claim_id", "line_number", "minutes")
        .join(windows, on=["claim_id", "line_number"], how="left")
        .cache()
    )
    earlier = candidates.select(
        *DUPLICATE_KEY, *(pl.col(c).alias(f"_o_{c}") for c in ("claim_id", "minutes", "visit_start", "visit_end"))
    )
    windowed = pl.all_horizontal(
        pl.col(c).is_not_null() for c in ("visit_start", "visit_end", "_o_visit_start", "_o_visit_end")
    )
    overlap = (pl.col("visit_start") < pl.col("_o_visit_end")) & (pl.col("_o_visit_start") < pl.col("visit_end"))
    same_session = pl.when(windowed).then(overlap).otherwise(pl.col("minutes").eq_missing(pl.col("_o_minutes")))
    extras = (
        candidates.join(earlier, on=DUPLICATE_KEY, how="inner", nulls_equal=True)
        .filter((pl.col("_o_claim_id") < pl.col("claim_id")) & same_session)
        .select("claim_id", "line_number")
        .unique()
        .with_columns(pl.lit(True).alias("duplicate_extra"))
    )
    return pl.concat(
        [
            base.filter(~pl.col("_maybe_duplicate")).with_columns(pl.lit(False).alias("duplicate_extra")),
            base.filter(pl.col("_maybe_duplicate"))
            .join(extras, on=["claim_id", "line_number"], how="left")
            .with_columns(pl.col("duplicate_extra").fill_null(False)),
        ]
    ).drop("_maybe_duplicate")


def _counted(base: pl.LazyFrame, inputs: dict) -> pl.LazyFrame:
    """``counts`` (the line's minutes and units count toward its group) and ``lacks_minutes``."""
    counts = pl.col("is_timed") & ~pl.col("duplicate_extra") & ~pl.col("_excluded")
    base = base.with_columns(
        counts.alias("counts"),
        (counts & (pl.col("units_billed") > 0) & pl.col("minutes").is_null()).alias("lacks_minutes"),
    )
    if not inputs["code_families"]:
        return base
    # an add-on line without minutes is covered by its primary's documented minutes on the same claim
    # (the pair is one timed service, often documented once); only add-on lines are looked at
    documented = (
        base.filter(pl.col("_cap").is_not_null() & pl.col("minutes").is_not_null())
        .select("claim_id", "service_code")
        .unique()
        .with_columns(pl.lit(True).alias("_primary_documented"))
    )
    addon = base.filter(pl.col("_addon")).join(documented, on=["claim_id", "service_code"], how="left")
    return pl.concat(
        [
            base.filter(~pl.col("_addon")),
            addon.with_columns(
                (pl.col("lacks_minutes") & ~pl.col("_primary_documented").fill_null(False)).alias("lacks_minutes")
            ).drop("_primary_documented"),
        ]
    )


def _with_families(base: pl.LazyFrame, families: dict[str, list]) -> pl.LazyFrame:
    """``service_code``: the code an add-on belongs with (97130 -> 97129), else the line's code;
    ``_addon``: the line is an add-on; ``_cap``: most units a line of a primary code takes in the
    split (its units per day), null for any other line."""
    if not families:
        return base.with_columns(
            pl.col("cpt_code").alias("service_code"),
            pl.lit(False).alias("_addon"),
            pl.lit(None, pl.Int64).alias("_cap"),
        )
    primary = {addon: p for addon, (p, _) in families.items()}
    caps = dict(families.values())
    return base.with_columns(
        pl.col("cpt_code").replace(primary).alias("service_code"),
        pl.col("cpt_code").is_in(list(primary)).alias("_addon"),
        pl.col("cpt_code").replace_strict(caps, default=None, return_dtype=pl.Int64).alias("_cap"),
    )


def _cotreatment(counted: pl.LazyFrame, codes: pl.LazyFrame, lines: pl.LazyFrame) -> pl.LazyFrame:
    """Per (group, service) billed by more than one rendering NPI: ``_shared``, the minutes two
    clinicians spent with the patient at the same time on it, to count once. Pub. 100-04 ch. 5 sec.
    20.3: "The time counted is the time the patient is treated"; two clinicians treating one patient
    at once for one service is one treatment time. For each pair of its lines by different NPIs with
    visit windows and minutes: the minutes their windows overlap, at most the smaller line's minutes.
    Pairs are summed (three clinicians at once, rare, could count the shared time more than once)."""
    several = codes.filter(pl.col("_clinicians")).select("_gid", "service_code")
    windows = canonical(lines).select("claim_id", "line_number", "visit_start", "visit_end")
    co = (
        counted.join(several, on=["_gid", "service_code"], how="semi")
        .filter(pl.col("minutes").is_not_null())
        .select("_gid", "service_code", "claim_id", "line_number", "rendering_npi", "minutes")
        .join(windows, on=["claim_id", "line_number"], how="left")
        .filter(pl.col("visit_start").is_not_null() & pl.col("visit_end").is_not_null())
        .select("_gid", "service_code", "rendering_npi", "minutes", "visit_start", "visit_end")
    )
    pairs = co.join(co, on=["_gid", "service_code"], how="inner", suffix="_b").filter(
        pl.col("rendering_npi") < pl.col("rendering_npi_b")
    )
    overlap = (
        pl.min_horizontal("visit_end", "visit_end_b") - pl.max_horizontal("visit_start", "visit_start_b")
    ).dt.total_minutes()
    return (
        pairs.with_columns(pl.min_horizontal(overlap, "minutes", "minutes_b").clip(lower_bound=0).alias("_shared"))
        .group_by("_gid", "service_code")
        .agg(pl.col("_shared").sum())
        .filter(pl.col("_shared") > 0)
    )


def _shared_visit_totals(counted: pl.LazyFrame) -> pl.LazyFrame:
    """claim_id -> ``visit_disciplines`` ('OT+PT') for a claim whose timed lines of several
    disciplines repeat one visit total: one visit's minutes, bounding the units of its disciplines
    together (each discipline's group alone is still bounded by the whole). Per-discipline totals
    (different values on the PT and the OT lines) are not shared."""
    spans = (
        counted.filter(pl.col("total_timed_minutes").is_not_null())
        .group_by("claim_id")
        .agg(
            pl.col("discipline").min().alias("_d_lo"),
            pl.col("discipline").max().alias("_d_hi"),
            pl.col("total_timed_minutes").min().alias("_t_lo"),
            pl.col("total_timed_minutes").max().alias("_t_hi"),
        )
        .filter((pl.col("_d_lo") != pl.col("_d_hi")) & (pl.col("_t_lo") == pl.col("_t_hi")))
        .select("claim_id")
    )
    return (
        counted.join(spans, on="claim_id", how="semi")
        .group_by("claim_id")
        .agg(pl.col("discipline").unique().sort().str.join("+").alias("visit_disciplines"))
    )


def _ama_bound(total: pl.Expr, n_codes: pl.Expr) -> pl.Expr:
    """Most units the AMA method can give ``total`` minutes spread over ``n_codes`` codes: each code
    needs 8 minutes for its first unit and 15 for each further one, so use as many codes as can reach
    8 minutes: j = min(n_codes, total // 8), units = j + (total - 8 j) // 15."""
    j = pl.min_horizontal(n_codes, total // 8)
    return j + (total - 8 * j) // 15


def _split(expected: pl.Expr, prev: pl.Expr, units: pl.Expr, last: pl.Expr, cap: pl.Expr) -> pl.Expr:
    """A code's units for one line: up to the line's own units (and a pair's primary up to its units
    per day, ``cap``), the last line takes the rest."""
    rest = (expected - prev).clip(lower_bound=0)
    return pl.when(last).then(rest).otherwise(pl.min_horizontal(rest, units, cap.fill_null(rest)))


def line_units(lines: pl.LazyFrame, ref: Reference, settings: RuleSettings, *, ordered: bool = True) -> pl.LazyFrame:
    """One row per input line with the units its documented minutes support (``LINE_UNITS_SCHEMA``),
    sorted by claim_id, line_number; ``ordered=False`` leaves the rows in the order the joins give
    (a fifth of the time at 860k lines; for the warehouse, which needs no order: the findings do
    not depend on it).

    ``expected_units`` is null where it cannot be known: the code's minutes are unknown (basis
    'visit_total_only' or 'minutes_missing'), or a tie on remaining minutes leaves the choice to the
    clinician (then ``expected_units_min`` < ``expected_units_max`` span every tied assignment).
    ``group_supported_units``: CMS, the chart of the group's total timed minutes; AMA, the sum of the
    chart per code, or with visit totals only the most any split of the total could give; null where
    the total is unknown. ``group_basis``: 'per_code_minutes', 'visit_total_only', 'minutes_missing'
    or 'untimed' (no counted timed line).
    """
    # collected here: with the claim statuses, duplicates and prices in one lazy plan, planning alone is slow
    lines_ = prepared_lines(lines, ref, settings).collect(engine="in-memory").lazy()
    # One integer id per 8-minute-rule group, so later joins and windows hash one column.
    groups = (
        lines_.group_by(G)
        .agg(
            pl.when((pl.col("line_method") == "cms").any())
            .then(pl.lit("cms"))
            .otherwise(pl.lit("ama"))
            .alias("method"),
            pl.col("units_billed").filter(pl.col("counts")).sum().alias("group_units_billed"),
        )
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("_gid"))
        .cache()
    )
    base = lines_.join(groups.select(*G, "_gid"), on=G, how="left").cache()  # read by every branch: once
    counted = base.filter(pl.col("counts"))
    # visits, codes and the groups' totals are each read by two later branches: cached, they are computed once
    is_cms = pl.col("method") == "cms"

    visits = (
        counted.group_by("_gid", "claim_id")
        .agg(
            pl.col("minutes").sum().alias("_line_sum"),
            pl.col("lacks_minutes").any().alias("_lacking"),
            pl.col("total_timed_minutes").max().alias("_visit_total"),
        )
        .with_columns(
            # Pub. 100-02 ch. 15 sec. 220.3: "The billing and the total timed code treatment minutes must
            # be consistent": with both figures, the lower support governs
            pl.when(pl.col("_lacking"))
            .then(pl.col("_visit_total"))
            .when(pl.col("_visit_total").is_null())
            .then(pl.col("_line_sum"))
            .otherwise(pl.min_horizontal("_line_sum", "_visit_total"))
            .alias("visit_timed_minutes"),
            (~pl.col("_lacking") & (pl.col("_visit_total") < pl.col("_line_sum")))
            .fill_null(False)
            .alias("_total_governs"),
        )
        .cache()
    )
    codes = (
        counted.group_by("_gid", "service_code")
        .agg(
            pl.len().alias("_lines"),
            pl.col("minutes").sum().alias("_m"),
            pl.col("lacks_minutes").any().alias("_code_lacking"),
            pl.col("units_billed").sum().alias("code_units_billed"),
            (pl.col("rendering_npi").min() != pl.col("rendering_npi").max()).alias("_clinicians"),
        )
        .cache()
    )
    shared = _cotreatment(counted, codes, lines).cache()
    # co-treatment: minutes two clinicians spent with the patient at once count once, for the code
    # and for the group
    codes = (
        codes.join(shared, on=["_gid", "service_code"], how="left")
        .with_columns((pl.col("_m") - pl.col("_shared").fill_null(0)).alias("_m"))
        .drop("_shared", "_clinicians")
        .cache()
    )
    groups = (
        groups.select("_gid", "method", "group_units_billed")
        .join(
            visits.group_by("_gid").agg(
                pl.when(pl.col("visit_timed_minutes").is_null().any())
                .then(None)
                .otherwise(pl.col("visit_timed_minutes").sum())
                .alias("group_timed_minutes"),
                (~pl.col("_lacking").any() & ~pl.col("_total_governs").any()).alias("_complete"),
                pl.when(pl.col("_lacking").any())
                .then(None)
                .otherwise(pl.col("_line_sum").sum())
                .alias("group_code_minutes"),
                pl.when(pl.col("_visit_total").is_null().any())
                .then(None)
                .otherwise(pl.col("_visit_total").sum())
                .alias("group_visit_total_minutes"),
            ),
            on="_gid",
            how="left",
        )
        .join(shared.group_by("_gid").agg(pl.col("_shared").sum().alias("group_shared_minutes")), on="_gid", how="left")
        .with_columns(
            pl.col("group_shared_minutes").fill_null(0),
            (pl.col("group_timed_minutes") - pl.col("group_shared_minutes").fill_null(0)).alias("group_timed_minutes"),
            (pl.col("group_code_minutes") - pl.col("group_shared_minutes").fill_null(0)).alias("group_code_minutes"),
        )
        .join(
            codes.group_by("_gid").agg(
                units_for_minutes(pl.col("_m")).sum().alias("_ama_sum"),
                pl.len().alias("_n_codes"),
                (pl.col("_m") // 15).sum().alias("_blocks"),
            ),
            on="_gid",
            how="left",
        )
    )
    total = pl.col("group_timed_minutes")
    groups = groups.with_columns(
        pl.when(pl.col("_n_codes").is_null())
        .then(pl.lit("untimed"))
        .when(pl.col("_complete"))
        .then(pl.lit("per_code_minutes"))
        .when(total.is_not_null())
        .then(pl.lit("visit_total_only"))
        .otherwise(pl.lit("minutes_missing"))
        .alias("group_basis"),
        pl.when(is_cms)
        .then(units_for_minutes(total))
        .when(pl.col("_complete"))
        .then(pl.col("_ama_sum"))
        .otherwise(_ama_bound(total, pl.col("_n_codes")))
        .alias("group_supported_units"),
    ).cache()

    m = pl.col("_m")
    blocks, rest = m // 15, m % 15
    leftover = pl.col("group_supported_units") - pl.col("_blocks")
    # With a group's codes in order of remaining minutes (most first), the codes ahead of one are
    # those before the first code with as many minutes (a rank over each group, cheaper than
    # rank().over()); level: codes with as many remaining minutes (self included)
    codes = (
        codes.with_columns(rest.alias("_rest"))
        .sort("_gid", "_rest", descending=[False, True])
        .with_row_index("_at")
        .with_columns(
            (pl.col("_at").min().over("_gid", "_rest") - pl.col("_at").min().over("_gid"))
            .cast(pl.Int64)
            .alias("_ahead"),
            pl.len().over("_gid", "_rest").cast(pl.Int64).alias("_level"),
        )
    )
    ahead, level = pl.col("_ahead"), pl.col("_level")
    complete_cms = is_cms & pl.col("_complete")
    codes = (
        codes.join(
            groups.select("_gid", "method", "_complete", "_blocks", "group_supported_units"),
            on="_gid",
            how="left",
        )
        .with_columns(
            pl.when(complete_cms)
            .then(blocks + (ahead + level <= leftover).cast(pl.Int64))
            .when(pl.col("_code_lacking"))
            .then(None)
            .when(is_cms)
            .then(blocks)
            .otherwise(units_for_minutes(m))
            .alias("code_units_min"),
            pl.when(complete_cms)
            .then(blocks + (ahead < leftover).cast(pl.Int64))
            .when(pl.col("_code_lacking"))
            .then(None)
            .when(is_cms)
            .then(pl.min_horizontal((m + 14) // 15, pl.col("group_supported_units")))
            .otherwise(units_for_minutes(m))
            .alias("code_units_max"),
            pl.when(pl.col("_code_lacking")).then(None).otherwise(m).alias("code_minutes"),
        )
        .select(
            "_gid", "service_code", "_lines", "code_minutes", "code_units_billed", "code_units_min", "code_units_max"
        )
        .with_columns(pl.lit(True).alias("counts"), pl.int_range(pl.len(), dtype=pl.Int64).alias("_cid"))
    )

    out = (
        base.join(groups.drop("_complete", "_ama_sum", "_n_codes", "_blocks"), on="_gid", how="left")
        .join(codes, on=["_gid", "service_code", "counts"], how="left")
        .join(visits.select("_gid", "claim_id", "visit_timed_minutes"), on=["_gid", "claim_id"], how="left")
        .join(_shared_visit_totals(counted), on="claim_id", how="left")
    )
    order = ["claim_id", "line_number"]
    split_order = ["_addon", *order]  # a pair's primary line takes the first unit(s), its add-ons the rest
    units = pl.col("units_billed")
    # Only a code billed on several lines needs the ordered split; a lone line takes its code's units.
    out = out.with_columns((pl.col("_lines") > 1).fill_null(False).alias("_shared")).cache()
    out = pl.concat(
        [
            out.filter(~pl.col("_shared")).with_columns(
                pl.lit(0, pl.Int64).alias("_prev"), pl.lit(True).alias("_last")
            ),
            out.filter(pl.col("_shared")).with_columns(
                (units.cum_sum() - units).over("_cid", order_by=split_order).alias("_prev"),
                (pl.int_range(pl.len()).over("_cid", order_by=split_order) == pl.len().over("_cid") - 1).alias("_last"),
            ),
        ]
    ).with_columns(
        _split(pl.col("code_units_min"), pl.col("_prev"), units, pl.col("_last"), pl.col("_cap")).alias("_lo"),
        _split(pl.col("code_units_max"), pl.col("_prev"), units, pl.col("_last"), pl.col("_cap")).alias("_hi"),
    )
    timed_known = pl.col("counts") & pl.col("code_minutes").is_not_null()
    fixed = (
        pl.when(pl.col("duplicate_extra") | pl.col("_excluded"))
        .then(pl.lit(0, pl.Int64))
        .when(~pl.col("is_timed"))
        .then(pl.lit(1, pl.Int64))
    )
    out = out.with_columns(
        fixed.when(timed_known & (pl.col("_lo") == pl.col("_hi"))).then(pl.col("_lo")).alias("expected_units"),
        fixed.when(timed_known).then(pl.col("_lo")).alias("expected_units_min"),
        fixed.when(timed_known).then(pl.col("_hi")).alias("expected_units_max"),
        pl.when(pl.col("_excluded"))
        .then(pl.col("claim_status"))
        .when(pl.col("duplicate_extra"))
        .then(pl.lit("duplicate"))
        .when(~pl.col("is_timed"))
        .then(pl.lit("untimed"))
        .when(timed_known)
        .then(pl.lit("per_code_minutes"))
        .when(pl.col("group_timed_minutes").is_not_null())
        .then(pl.lit("visit_total_only"))
        .otherwise(pl.lit("minutes_missing"))
        .alias("expected_basis"),
        pl.when(pl.col("counts")).then(pl.col("minutes")).alias("minutes_used"),
    )
    out = out.select([pl.col(name).cast(dtype) for name, dtype in LINE_UNITS_SCHEMA.items()])
    return out.sort(order) if ordered else out
