"""The claim lines every line query reads: their discipline (from ``line_units``, else the provider's),
the filters applied to them, and the detail columns a grid of lines shows.

Without a chosen discipline the claim lines are read alone, without joining ``line_units``: that join
changes no count as long as each claim line has exactly one ``line_units`` row, which the review's
blocking checks guarantee (``one_units_row_per_line``, ``line_keys_unique``) and
``one_units_row_per_line`` confirms by the two tables' row counts.
"""

from __future__ import annotations

from dashboards.data.periods import Filters, in_period, one_of
from dashboards.data.snapshot import Snapshot


def discipline_sql(snap: Snapshot, units: str = "line_units") -> tuple[str, str]:
    """(joins, expression) giving each claim line ``cl`` its discipline; ``units`` may narrow
    ``line_units`` to the rows of the lines at hand."""
    joins, parts = "", []
    if snap.has("line_units", "claim_id", "line_number", "discipline"):
        joins += f" left join {units} lu on lu.claim_id = cl.claim_id and lu.line_number = cl.line_number"
        parts.append("lu.discipline")
    if snap.has("provider_scores", "rendering_npi", "discipline"):
        joins += (
            " left join (select rendering_npi, any_value(discipline) as discipline from provider_scores "
            "group by rendering_npi) psd on psd.rendering_npi = cl.rendering_npi"
        )
        parts.append("psd.discipline")
    expr = f"coalesce({', '.join(parts)})" if parts else "cast(null as varchar)"
    return joins, expr


def require_lines(snap: Snapshot) -> None:
    """The claim_lines columns every line query reads (``MissingData`` naming the first absent)."""
    snap.require("claim_lines", "service_date", "patient_id", "rendering_npi", "cpt_code", "units_billed")


def lines_sql(snap: Snapshot, select: str, filtered: bool = True) -> str:
    """``select`` over the filtered claim lines (alias ``l``: claim_lines columns + discipline)."""
    require_lines(snap)
    joins, disc = discipline_sql(snap)
    billing = snap.col("claim_lines", "cl", "billing_npi")
    payer = snap.col("claim_lines", "cl", "payer_type")
    sql = (
        f"with l as (select cl.*, {disc} as discipline_, {billing} as billing_npi_, {payer} as payer_type_ "
        f"from claim_lines cl {joins}) select {select} from l where true"
    )
    if not filtered:
        return sql
    return sql + (
        f" and {in_period('l.service_date')} and {one_of('clinic', 'l.billing_npi_')} "
        f"and {one_of('payer', 'l.payer_type_')} and ($discipline is null or l.discipline_ = $discipline)"
    )


def direct_lines_sql(snap: Snapshot, select: str) -> str:
    """``select`` over the claim lines filtered by period, clinic and payer type (alias ``l``), without
    the joins that only the discipline needs: the same rows as ``lines_sql`` when no discipline is
    chosen and ``one_units_row_per_line`` holds."""
    require_lines(snap)
    billing = snap.col("claim_lines", "l", "billing_npi")
    payer = snap.col("claim_lines", "l", "payer_type")
    return (
        f"select {select} from claim_lines l where {in_period('l.service_date')} "
        f"and {one_of('clinic', billing)} and {one_of('payer', payer)}"
    )


def direct_params(filters: Filters) -> dict:
    """The parameters of ``direct_lines_sql`` (no discipline: it is used without one)."""
    params = filters.params()
    if params.pop("discipline") is not None:
        raise ValueError("the claim lines alone cannot be filtered by discipline")
    return params


def one_units_row_per_line(snap: Snapshot) -> bool:
    """Whether joining ``line_units`` for the discipline leaves one row per claim line. The review
    guarantees it (a blocking check); here the two row counts are compared, which costs nothing."""
    if "one_units_row_per_line" not in snap.memo:
        ok = True
        if snap.has("line_units", "claim_id", "line_number", "discipline"):
            lines, units = snap.rows("select (select count(*) from claim_lines), (select count(*) from line_units)")[0]
            ok = lines == units
        snap.memo["one_units_row_per_line"] = ok
    return snap.memo["one_units_row_per_line"]


def line_detail_sql(snap: Snapshot, where: str) -> str:
    """Claim lines with their expected units (line_units), filtered by ``where`` on ``cl``."""
    lu = snap.has("line_units", "claim_id", "line_number")
    u = lambda c, t="varchar": snap.col("line_units", "lu", c, t) if lu else f"cast(null as {t})"
    c = lambda col, t="varchar": snap.col("claim_lines", "cl", col, t)
    join = " left join line_units lu on lu.claim_id = cl.claim_id and lu.line_number = cl.line_number" if lu else ""
    return f"""
      select cl.service_date, cl.patient_id, cl.rendering_npi, {c("provider_name")} as provider_name,
             cl.claim_id, cl.line_number, cl.cpt_code, {c("modifiers")} as modifiers,
             {c("minutes", "bigint")} as minutes, {c("total_timed_minutes", "bigint")} as total_timed_minutes,
             cl.units_billed, {u("expected_units", "double")} as expected_units,
             {u("expected_units_min", "double")} as expected_units_min,
             {u("expected_units_max", "double")} as expected_units_max,
             {u("method")} as method, {u("is_timed", "boolean")} as is_timed,
             {u("group_timed_minutes", "bigint")} as group_timed_minutes,
             {u("group_supported_units", "bigint")} as group_supported_units, {u("expected_basis")} as expected_basis,
             {c("payer_type")} as payer_type, {c("payer_name")} as payer_name, {c("billing_npi")} as billing_npi,
             {c("clinic_name")} as clinic_name, {c("diagnosis_codes")} as diagnosis_codes,
             {c("allowed_amount", "double")} as allowed_amount, {c("visit_start", "timestamp")} as visit_start,
             {c("visit_end", "timestamp")} as visit_end, {c("deficit_documented", "boolean")} as deficit_documented,
             {c("goals_documented", "boolean")} as goals_documented,
             {c("response_documented", "boolean")} as response_documented, {c("note_text")} as note_text
      from claim_lines cl {join}
      where {where}
      order by cl.service_date, cl.claim_id, cl.line_number
    """
