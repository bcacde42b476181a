"""The providers ranking as a viewer may see it: the providers page's grid and its export are this
one frame."""

from __future__ import annotations

import polars as pl

from dashboards import context, data
from dashboards.access.privacy import Viewer, protect
from dashboards.data.snapshot import Snapshot
from dashboards.ui import filter_bar
from dashboards.ui.view_state import ViewState

COLUMNS = [
    "risk_rank",
    "provider_name",
    "reasons",
    "units_97112_per_patient_day",
    "share_days_97112_at_limit",
    "findings",
    "units_over",
    "amount_at_risk",
    "risk_score",
    "outlier",
    "volume_ok",
    "discipline",
    "peer_group",
    "rendering_npi",
    "patient_days",
    "patients",
]


def ranking(snap: Snapshot, viewer: Viewer, state: ViewState) -> pl.DataFrame:
    """The ranked providers ``state`` selects (period, clinics, payer types, discipline, search; a
    manager's masked values mapped back, ``filter_bar.unmasked``)."""
    known = context.known_for(snap, viewer)
    state = filter_bar.unmasked(state, data.filter_options(snap), viewer, known)
    frame = data.search_providers(data.provider_map(snap, state.filters()), state.search)
    frame = protect(frame, viewer, known)
    return frame.select([c for c in COLUMNS if c in frame.columns])
