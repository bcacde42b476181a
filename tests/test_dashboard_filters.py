"""The filters a reviewer expects: a range of months (not only one), clinics and payer types chosen
several at a time, a search of providers by NPI or name, and all of it kept in the URL (one helper
reads and writes the query string, so that a reload or a shared link shows the same view)."""

from __future__ import annotations

import polars as pl
import pytest

from dashboards import data
from dashboards.data.snapshot import reading
from dashboards.ui.view_state import BadQuery, ViewState


@pytest.fixture()
def snap(snapshot_path):
    with reading(snapshot_path) as s:
        yield s


# ---- the URL ------------------------------------------------------------------------------------------


def test_a_state_survives_the_round_trip_through_its_url():
    state = ViewState(
        first_month="2026-01",
        last_month="2026-03",
        clinics=("2222222222", "1111111111"),
        payers=("medicare", "medicaid"),
        discipline="PT",
        search="Stone",
    )
    query = state.query()
    assert query == (
        "?from=2026-01&to=2026-03&clinic=1111111111&clinic=2222222222&payer=medicaid&payer=medicare"
        "&discipline=PT&q=Stone"
    )
    back = ViewState.from_search(query)
    assert back.query() == query and back.period == "2026-01..2026-03"
    assert set(back.clinics) == set(state.clinics) and set(back.payers) == set(state.payers)
    # Dash hands a page its query as keyword arguments: one value as text, several as a list
    assert (
        ViewState.from_params(
            {
                "from": "2026-01",
                "to": "2026-03",
                "clinic": ["2222222222", "1111111111"],
                "payer": ["medicare", "medicaid"],
                "discipline": "PT",
                "q": "Stone",
            }
        )
        == back
    )
    assert ViewState().query() == "" and ViewState.from_search("").period == "all"


def test_the_same_view_always_writes_the_same_url():
    a = ViewState.from_search("?payer=medicare&payer=commercial&to=2026-02&from=2026-01")
    b = ViewState.from_search("?from=2026-01&to=2026-02&payer=commercial&payer=medicare&payer=medicare")
    assert a.query() == b.query() == "?from=2026-01&to=2026-02&payer=commercial&payer=medicare"


def test_older_links_with_one_period_still_open_their_month():
    assert ViewState.from_search("?period=2026-02").period == "2026-02"
    assert ViewState.from_search("?period=2026-02").query() == "?from=2026-02&to=2026-02"
    assert ViewState.from_search("?period=all").period == "all"
    assert ViewState.from_search("?from=2026-03&to=2026-01").period == "2026-01..2026-03"  # given backwards
    assert ViewState.from_search("?from=2026-02").period == "2026-02.."  # open end


def test_a_link_with_values_that_cannot_be_read_opens_without_them_or_is_refused_by_an_export():
    lenient = ViewState.from_search("?from=2026-13&to=yesterday&payer=medicare&period=soon")
    assert lenient.period == "all" and lenient.payers == ("medicare",)
    for bad in ("?from=2026-13", "?period=soon", "?discipline=PT&discipline=OT", "?q=" + "x" * 200):
        with pytest.raises(BadQuery):
            ViewState.from_search(bad, strict=True)


def test_a_changed_period_keeps_the_other_filters():
    state = ViewState.from_search("?from=2026-01&to=2026-03&clinic=1111111111&q=ave")
    assert state.with_period("2026-02").query() == "?from=2026-02&to=2026-02&clinic=1111111111&q=ave"
    assert state.with_period("all").query() == "?clinic=1111111111&q=ave"


# ---- what the filters select --------------------------------------------------------------------------


def test_a_range_of_months_counts_exactly_the_lines_and_findings_of_those_months(snap):
    month = {m: data.headline(snap, data.Filters(period=m)) for m in ("2026-01", "2026-02", "2026-03")}
    for period, months in [
        ("2026-01..2026-02", ("2026-01", "2026-02")),
        ("2026-02..", ("2026-02", "2026-03")),
        ("..2026-01", ("2026-01",)),
        ("2026-01..2026-03", ("2026-01", "2026-02", "2026-03")),
    ]:
        head = data.headline(snap, data.Filters(period=period))
        assert head["lines_reviewed"] == sum(month[m]["lines_reviewed"] for m in months), period
        assert head["findings"] == sum(month[m]["findings"] for m in months), period
        shown = data.findings_monthly(snap, data.Filters(period=period))["month"].unique().sort().to_list()
        assert shown == [m for m in months if month[m]["findings"]], period
    days = data.units_97112_per_patient_day(snap, data.Filters(period="2026-01..2026-02"))["patient_days"].sum()
    assert days == sum(
        data.units_97112_per_patient_day(snap, data.Filters(period=m))["patient_days"].sum()
        for m in ("2026-01", "2026-02")
    )


@pytest.mark.parametrize("discipline", [None, "PT"])
def test_several_clinics_or_payer_types_select_lines_of_any_of_them(snap, discipline):
    def head(**kw):
        return data.headline(snap, data.Filters(discipline=discipline, **kw))

    both = head(clinic=("1111111111", "2222222222"))
    assert both["lines_reviewed"] == head()["lines_reviewed"] and both["findings"] == head()["findings"]
    payers = ("medicare", "medicaid")
    two = head(payer_type=payers)
    assert two["lines_reviewed"] == sum(head(payer_type=p)["lines_reviewed"] for p in payers)
    assert two["findings"] == sum(head(payer_type=p)["findings"] for p in payers)
    assert 0 < two["lines_reviewed"] < head()["lines_reviewed"]
    assert head(clinic=("1111111111",))["findings"] == head(clinic="1111111111")["findings"]  # one value as text


def test_a_range_of_months_ranks_by_whole_review_scores_the_providers_with_lines_in_it(snap, fixture_info):
    assert data.scores_period("2026-02") == "2026-02" and data.scores_period("2026-02..2026-02") == "2026-02"
    assert data.scores_period("2026-01..2026-02") == "all" and data.scores_period("all") == "all"
    ranged = data.provider_map(snap, data.Filters(period="2026-01..2026-02"))
    whole = data.provider_map(snap, data.Filters())
    assert ranged["risk_rank"].to_list() == whole["risk_rank"].to_list()  # every provider billed in both months
    with_lines = set(
        snap.frame("select distinct rendering_npi from claim_lines where service_date < '2026-03-01'")[
            "rendering_npi"
        ].to_list()
    )
    assert set(ranged["rendering_npi"].to_list()) == with_lines


def test_provider_search_matches_an_npi_prefix_or_part_of_a_name(snap):
    providers = data.provider_map(snap, data.Filters())
    by_name = data.search_providers(providers, "sTOn")["provider_name"].to_list()
    assert by_name == ["Avery Stone"]
    assert data.search_providers(providers, "1000000003")["provider_name"].to_list() == ["Casey Diaz"]
    assert data.search_providers(providers, "10000000").height == providers.height
    assert data.search_providers(providers, "  ").height == providers.height
    assert data.search_providers(providers, "0000003").height == 0  # an NPI is matched from its start
    assert data.search_providers(providers, "nobody").height == 0
    assert isinstance(data.search_providers(providers, None), pl.DataFrame)
