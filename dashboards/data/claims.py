"""The claims behind each finding, by the finding's grain (for exports and the findings grids)."""

from __future__ import annotations

import polars as pl

from dashboards.data.snapshot import Snapshot


def finding_claim_ids(snap: Snapshot, finding_ids) -> pl.DataFrame:
    """``finding_id``, ``claim_ids`` (sorted list) for the given findings (numbered as
    ``provider_findings`` numbers them): every claim with a line in the finding's scope, by its grain
    (``pipelines.rules.findings._common``):

    * a line (``claim_id`` filled): that claim;
    * a patient-day (``patient_id`` filled): the claims of the patient's lines that day; of the
      finding's 8-minute-rule group (billing provider and discipline; ``OT+PT`` for a visit total the two
      disciplines share) when it names one, else of the
      finding's therapist when it names one (an 8-minute-rule group spans its therapists);
    * a therapist-day (neither): the claims of the therapist's lines that day.
    """
    ids = [int(i) for i in finding_ids]
    empty = pl.DataFrame(schema={"finding_id": pl.Int64, "claim_ids": pl.List(pl.String)})
    if not ids:
        return empty
    snap.require("findings", "rule_id")
    f = lambda c, t="varchar": snap.col("findings", "f", c, t)
    have_lines = snap.has("claim_lines", "claim_id", "line_number", "patient_id", "service_date", "rendering_npi")
    billing = snap.col("claim_lines", "cl", "billing_npi")
    units = snap.has("line_units", "claim_id", "line_number", "discipline")
    discipline = "lu.discipline" if units else "cast(null as varchar)"
    units_join = (
        " left join line_units lu on lu.claim_id = pd.claim_id and lu.line_number = pd.line_number" if units else ""
    )
    scoped = "select finding_id, claim_id from f where claim_id is not null"
    if have_lines:
        scoped += f"""
        union all
        select finding_id, claim_id from (
          select pd.*, {discipline} as line_discipline from (
            select f.finding_id, f.rendering_npi as f_npi, f.billing_provider as f_billing,
                   f.discipline as f_discipline, cl.claim_id, cl.line_number, cl.rendering_npi, {billing} as billing_npi
            from f join claim_lines cl on cl.patient_id = f.patient_id and cl.service_date = f.service_date
            where f.claim_id is null) pd {units_join})
        where case when f_billing is not null or f_discipline is not null
                   then (f_billing is null or billing_npi = f_billing)
                        and (f_discipline is null or line_discipline is null
                             or list_contains(string_split(f_discipline, '+'), line_discipline))
                   else f_npi is null or rendering_npi = f_npi end
        union all
        select f.finding_id, cl.claim_id from f join claim_lines cl
          on cl.rendering_npi = f.rendering_npi and cl.service_date = f.service_date
        where f.claim_id is null and f.patient_id is null"""
    frame = snap.frame(
        f"""
        with f as materialized (
          select * from (
            select row_number() over () as finding_id, {f("claim_id")} as claim_id, {f("patient_id")} as patient_id,
                   {f("service_date", "date")} as service_date, {f("rendering_npi")} as rendering_npi,
                   {f("billing_provider")} as billing_provider, {f("discipline")} as discipline
            from findings f)
          where list_contains($ids, finding_id)),
        scoped as ({scoped})
        select f.finding_id,
               list(distinct s.claim_id order by s.claim_id) filter (where s.claim_id is not null) as claim_ids
        from f left join scoped s using (finding_id) group by f.finding_id order by f.finding_id
        """,
        {"ids": ids},
    )
    return frame.with_columns(pl.col("finding_id").cast(pl.Int64), pl.col("claim_ids").fill_null([]))


def with_claim_ids(snap: Snapshot, findings: pl.DataFrame) -> pl.DataFrame:
    """``findings`` (with ``finding_id``) and a ``claim_ids`` column after ``claim_id``."""
    if "finding_id" not in findings.columns:
        raise ValueError("findings without finding_id: their claims cannot be looked up")
    claims = finding_claim_ids(snap, findings["finding_id"].drop_nulls().to_list())
    out = findings.with_columns(pl.col("finding_id").cast(pl.Int64)).join(claims, on="finding_id", how="left")
    order = list(findings.columns)
    order.insert(order.index("claim_id") + 1 if "claim_id" in order else len(order), "claim_ids")
    return out.select(order)
