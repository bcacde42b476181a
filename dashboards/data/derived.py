"""The derived tables the overview's filters read (built once per snapshot by ``dashboards.data.summaries``).

Findings are read *enriched*: grain columns the rule leaves empty are filled from the claim line
(line-grain rules) and the clinic, payer type and discipline come from the lines of the finding's
patient-day or therapist-day, so that every filter applies to every rule.

Which relation answers a filter never depends on whether a table is built yet, so that a filter always
gives the same answer: the joined relation (``FINDINGS`` for a chosen clinic, payer type or discipline;
``LINE_CELLS`` and ``DAYS_97112`` for a chosen discipline, or when line_units do not pair with the claim
lines) or the claim lines alone (the other line queries). A table of the claim lines alone is read when
it is built, else the claim lines themselves: both give the same rows.
"""

from __future__ import annotations

from dashboards.data import summaries
from dashboards.data.lines import discipline_sql, lines_sql, one_units_row_per_line, require_lines
from dashboards.data.periods import in_period, one_of
from dashboards.data.snapshot import MissingData, Snapshot

# Derived tables (``dashboards.data.summaries``), built once per snapshot:
FINDINGS = "dash_findings"  # the enriched findings (all but ``detail``)
LINE_CELLS = "dash_line_cells"  # claim lines counted by month, clinic, payer type, discipline, therapist
DAYS_97112 = "dash_97112_days"  # 97112 units by patient-day, clinic, payer type, discipline
CLAIM_LINE_CELLS = "dash_claim_line_cells"  # LINE_CELLS from the claim lines alone (no discipline)
CLAIM_DAYS_97112 = "dash_claim_97112_days"  # DAYS_97112 from the claim lines alone (no discipline)
HIST_97112 = "dash_97112_hist"  # patient-days by month and count of 97112 units


def findings_direct(snap: Snapshot) -> bool:
    """Whether, with no clinic, payer or discipline chosen, the findings table alone gives what the
    enriched findings give: one row per finding, dated by its own service date."""
    if "findings_direct" not in snap.memo:
        have_lines = snap.has("claim_lines", "claim_id", "line_number", "patient_id", "service_date", "rendering_npi")
        if not have_lines:
            ok = True
        elif not snap.has("findings", "service_date"):
            ok = False  # dated from the claim line
        else:
            undated = snap.rows("select count(*) from findings where service_date is null")[0][0]
            ok = undated == 0 and one_units_row_per_line(snap)
        snap.memo["findings_direct"] = ok
    return snap.memo["findings_direct"]


def _enriched_findings_sql(snap: Snapshot) -> str:
    """One row per finding, grain columns completed and clinic / payer / discipline attached; all
    but ``detail`` (the derived table ``FINDINGS`` holds this, the detail is joined back to it by
    ``finding_id``, the findings' row number)."""
    snap.require("findings", "rule_id")
    f = lambda c, t="varchar": snap.col("findings", "f", c, t)
    have_lines = snap.has("claim_lines", "claim_id", "line_number", "patient_id", "service_date", "rendering_npi")
    base = (
        f"select row_number() over () as finding_id, f.rule_id, {f('severity')} as severity, "
        f"{f('rendering_npi')} as rendering_npi, {f('patient_id')} as patient_id, "
        f"{f('service_date', 'date')} as service_date, {f('claim_id')} as claim_id, "
        f"{f('line_number', 'bigint')} as line_number, {f('units_over', 'double')} as units_over, "
        f"{f('amount_at_risk', 'double')} as amount_at_risk, "
        # totals sum exposure: each line's amount at risk counted once (older snapshots: the amount)
        f"coalesce({f('exposure', 'double')}, {f('amount_at_risk', 'double')}) as exposure, "
        f"{f('billing_provider')} as billing_provider, {f('discipline')} as discipline "
        "from findings f"
    )
    if not have_lines:
        return (
            "select *, rendering_npi as rendering_npi_given, billing_provider as billing_npi, "
            "cast(null as varchar) as clinic_name, "
            "cast(null as varchar) as payer_type, strftime(service_date, '%Y-%m') as month from "
            f"({base})"
        )
    # Only the claim lines that a finding looks up are read with their discipline (joined from
    # line_units): the lines of a finding's claim line (part 1), of its patient-day (part 2: the
    # patient-day and patient-day-therapist lookups) or of its therapist-day (part 3). Each lookup
    # sees every line with its keys, so it finds what it would over all lines.
    joins, disc = discipline_sql(
        snap,
        "(select lu.* from line_units lu semi join rel "
        "on rel.claim_id = lu.claim_id and rel.line_number = lu.line_number)",
    )
    billing = snap.col("claim_lines", "cl", "billing_npi")
    clinic = snap.col("claim_lines", "cl", "clinic_name")
    payer = snap.col("claim_lines", "cl", "payer_type")
    return f"""
    with f0 as materialized ({base}),
    kl as (select distinct claim_id, line_number from f0 where claim_id is not null and line_number is not null),
    kp as (select distinct patient_id, service_date from f0 where patient_id is not null and service_date is not null),
    kt as (select distinct rendering_npi, service_date from f0
           where patient_id is null and rendering_npi is not null and service_date is not null),
    cl0 as (select cl.claim_id, cl.line_number, cl.patient_id, cl.service_date, cl.rendering_npi,
                   {billing} as billing_npi, {clinic} as clinic_name, {payer} as payer_type from claim_lines cl),
    rel as materialized (
      select 1 as part, c.* from cl0 c semi join kl on kl.claim_id = c.claim_id and kl.line_number = c.line_number
      union all
      select 2 as part, c.* from cl0 c semi join kp on kp.patient_id = c.patient_id and kp.service_date = c.service_date
      union all
      select 3 as part, c.* from cl0 c
        semi join kt on kt.rendering_npi = c.rendering_npi and kt.service_date = c.service_date
    ),
    cl as (select cl.*, {disc} as discipline from rel cl {joins}),
    pd as (select patient_id, service_date, rendering_npi, min(billing_npi) as billing_npi,
                  min(payer_type) as payer_type, min(discipline) as discipline
           from cl where part = 2 group by patient_id, service_date, rendering_npi),
    p as (select patient_id, service_date, min(billing_npi) as billing_npi, min(payer_type) as payer_type,
                 min(discipline) as discipline from cl where part = 2 group by patient_id, service_date),
    td as (select rendering_npi, service_date, min(billing_npi) as billing_npi, min(payer_type) as payer_type,
                  min(discipline) as discipline from cl where part = 3 group by rendering_npi, service_date),
    la as (select * from cl where part = 1),
    clinics as (select {billing} as billing_npi, min({clinic}) as clinic_name from claim_lines cl
                where {billing} is not null group by all),
    f1 as (
      select f0.finding_id, f0.rule_id, f0.severity, f0.rendering_npi as rendering_npi_given,
             coalesce(f0.rendering_npi, la.rendering_npi) as rendering_npi,
             coalesce(f0.patient_id, la.patient_id) as patient_id,
             coalesce(f0.service_date, la.service_date) as service_date,
             f0.claim_id, f0.line_number, f0.units_over, f0.amount_at_risk, f0.exposure,
             coalesce(f0.billing_provider, la.billing_npi, pda.billing_npi, pa.billing_npi, tda.billing_npi)
               as billing_npi,
             coalesce(la.payer_type, pda.payer_type, pa.payer_type, tda.payer_type) as payer_type,
             coalesce(f0.discipline, la.discipline, pda.discipline, pa.discipline, tda.discipline) as discipline
      from f0
      left join la on f0.claim_id is not null and la.claim_id = f0.claim_id and la.line_number = f0.line_number
      left join pd pda on la.claim_id is null and f0.rendering_npi is not null and pda.patient_id = f0.patient_id
                      and pda.service_date = f0.service_date and pda.rendering_npi = f0.rendering_npi
      left join p pa on la.claim_id is null and f0.rendering_npi is null and pa.patient_id = f0.patient_id
                    and pa.service_date = f0.service_date
      left join td tda on la.claim_id is null and f0.patient_id is null and tda.rendering_npi = f0.rendering_npi
                      and tda.service_date = f0.service_date
    )
    select f1.*, clinics.clinic_name, strftime(f1.service_date, '%Y-%m') as month
    from f1 left join clinics using (billing_npi)
    """


def finding_filter() -> str:
    return (
        f"{in_period('service_date')} and {one_of('clinic', 'billing_npi')} "
        f"and {one_of('payer', 'payer_type')} and ($discipline is null or discipline = $discipline)"
    )


def findings_with_detail(snap: Snapshot) -> str:
    """The enriched findings (the derived table) with each finding's ``detail`` joined back by its
    number (the findings' row number, as the table numbered them)."""
    detail = snap.col("findings", "f", "detail")
    return (
        f"(select e.*, d.detail from {summaries.table(FINDINGS)} e join "
        f"(select row_number() over () as finding_id, {detail} as detail from findings f) d using (finding_id))"
    )


def _line_cells_sql(snap: Snapshot) -> str:
    return (
        lines_sql(
            snap,
            "date_trunc('month', l.service_date)::date as month, l.billing_npi_ as billing_npi, "
            "l.payer_type_ as payer_type, l.discipline_ as discipline, l.rendering_npi, count(*)::bigint as lines",
            filtered=False,
        )
        + " group by all"
    )


def _days_97112_sql(snap: Snapshot) -> str:
    return (
        lines_sql(
            snap,
            "l.patient_id, l.service_date, l.billing_npi_ as billing_npi, l.payer_type_ as payer_type, "
            "l.discipline_ as discipline, sum(l.units_billed) as units",
            filtered=False,
        )
        + " and l.cpt_code = '97112' group by all"
    )


def _billing_and_payer(snap: Snapshot) -> tuple[str, str]:
    """claim_lines' billing NPI and payer type as ``l.`` expressions (null where the column is absent)."""
    require_lines(snap)
    return snap.col("claim_lines", "l", "billing_npi"), snap.col("claim_lines", "l", "payer_type")


def _claim_line_cells_sql(snap: Snapshot) -> str:
    billing, payer = _billing_and_payer(snap)
    return (
        f"select date_trunc('month', l.service_date)::date as month, {billing} as billing_npi, {payer} as payer_type, "
        "l.rendering_npi, count(*)::bigint as lines from claim_lines l group by all"
    )


def _claim_days_97112_sql(snap: Snapshot) -> str:
    billing, payer = _billing_and_payer(snap)
    return (
        f"select l.patient_id, l.service_date, {billing} as billing_npi, {payer} as payer_type, "
        "sum(l.units_billed) as units from claim_lines l where l.cpt_code = '97112' group by all"
    )


def _hist_97112_sql(snap: Snapshot) -> str:
    return (
        "select date_trunc('month', service_date)::date as month, units::bigint as units, "
        "count(*)::bigint as patient_days "
        f"from (select service_date, sum(units) as units from {summaries.table(CLAIM_DAYS_97112)} "
        "group by patient_id, service_date) group by all"
    )


# in the order a prefetch builds them: the findings first (every filter reads them), the tables of the
# claim lines alone next (quick), the joined line tables (a chosen discipline) last
summaries.register(FINDINGS, _enriched_findings_sql)
summaries.register(CLAIM_LINE_CELLS, _claim_line_cells_sql)
summaries.register(CLAIM_DAYS_97112, _claim_days_97112_sql)
summaries.register(HIST_97112, _hist_97112_sql, needs=(CLAIM_DAYS_97112,))
summaries.register(LINE_CELLS, _line_cells_sql)
summaries.register(DAYS_97112, _days_97112_sql)


def line_cells_filter(discipline: bool = True) -> str:
    """The filters on a table of monthly cells (periods of whole months only, ``whole_months``)."""
    return f"{in_period('month')} and {one_of('clinic', 'billing_npi')} and {one_of('payer', 'payer_type')}" + (
        " and ($discipline is null or discipline = $discipline)" if discipline else ""
    )


def prefetch(snap: Snapshot) -> None:
    """Build what the overview's filters read in the background (a no-op once built)."""
    try:
        lines_sql(snap, "1")
        snap.require("findings", "rule_id")
    except MissingData:
        return
    summaries.prefetch(snap)
