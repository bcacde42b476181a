"""The snapshot's data as the report and the app read it: frames in the shapes the figure builders
and grids take, one module per concept. Values travel as parameters; a missing table or column
raises ``MissingData`` naming it, so a page can say so instead of failing.

* ``periods``: the filters and the periods they name;
* ``lines``, ``derived``: the claim lines every query builds on, and the derived tables (enriched
  findings, line counts) built once per snapshot for the filters;
* ``overview``, ``providers``, ``patient_day``, ``claims``, ``changes``: what each view asks.

The names below are the queries the pages and the report call (``data.headline(snap, filters)``).
"""

from dashboards.data.changes import review_changes, review_changes_text
from dashboards.data.claims import finding_claim_ids, with_claim_ids
from dashboards.data.derived import prefetch
from dashboards.data.overview import (
    daily_limit_97112,
    filter_options,
    findings_by_rule,
    findings_monthly,
    headline,
    ingest_status,
    lines_reviewed,
    units_97112_per_patient_day,
)
from dashboards.data.patient_day import (
    all_patient_ids,
    patient_day_findings,
    patient_day_lines,
    patient_ids_on,
    patient_of_token,
)
from dashboards.data.periods import Filters, period_bounds, scores_period
from dashboards.data.providers import (
    TOP_PROVIDERS,
    provider_findings,
    provider_lines,
    provider_map,
    provider_metrics,
    provider_name,
    provider_periods,
    provider_profile,
    provider_trend,
    scores_for_period,
    search_providers,
    top_providers,
)

__all__ = [
    "TOP_PROVIDERS",
    "Filters",
    "all_patient_ids",
    "daily_limit_97112",
    "filter_options",
    "finding_claim_ids",
    "findings_by_rule",
    "findings_monthly",
    "headline",
    "ingest_status",
    "lines_reviewed",
    "patient_day_findings",
    "patient_day_lines",
    "patient_ids_on",
    "patient_of_token",
    "period_bounds",
    "prefetch",
    "provider_findings",
    "provider_lines",
    "provider_map",
    "provider_metrics",
    "provider_name",
    "provider_periods",
    "provider_profile",
    "provider_trend",
    "review_changes",
    "review_changes_text",
    "scores_for_period",
    "scores_period",
    "search_providers",
    "top_providers",
    "units_97112_per_patient_day",
    "with_claim_ids",
]
