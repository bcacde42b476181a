"""Drawing an audit sample from the fixture warehouse: the frame of beneficiary-days, strata and
allocation, the draw reproduced from its seed (by the documented procedure, and by re-drawing a
stored sample), storage in audit_samples."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import numpy as np
import polars as pl
import pytest

from pipelines.audit import commands, store
from pipelines.audit import draw as draws
from pipelines.audit import frame as frames
from tests.fixtures_warehouse import build_fixture_warehouse

NPI = "1000000001"  # Avery Stone: 21 beneficiary-days, paid 156.80 .. 233.60


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return build_fixture_warehouse(tmp_path_factory.mktemp("audit-draw") / "warehouse.duckdb")


@pytest.fixture()
def warehouse(base, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(base.path, path)
    return path


def test_frame_is_the_providers_beneficiary_days_with_paid_amounts(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        frame = frames.beneficiary_days(con, NPI)
        expected = con.execute(
            "select count(distinct (patient_id, service_date)), round(sum(paid_amount), 2) from claim_lines where rendering_npi = ?",
            [NPI],
        ).fetchall()[0]
        january = frames.beneficiary_days(con, NPI, dt.date(2026, 1, 1), dt.date(2026, 1, 31))
    assert frame.height == expected[0] == 21
    assert frame["examined_amount"].sum() == pytest.approx(expected[1])
    assert set(frame["amount_basis"]) == {"paid"}
    assert frame.select(frames.FRAME_ORDER).equals(frame.sort(list(frames.FRAME_ORDER)).select(frames.FRAME_ORDER))
    assert january.height == 7 and january["service_date"].max() <= dt.date(2026, 1, 31)


def test_examined_amount_falls_back_to_allowed_then_charge(warehouse):
    with duckdb.connect(str(warehouse)) as con:
        con.execute("update claim_lines set paid_amount = null where rendering_npi = ? and line_number = 1", [NPI])
        con.execute(
            "update claim_lines set paid_amount = null, allowed_amount = null where rendering_npi = ? and line_number = 2",
            [NPI],
        )
        frame = frames.beneficiary_days(con, NPI)
        want = con.execute(
            "select round(sum(coalesce(paid_amount, allowed_amount, charge_amount)), 2) from claim_lines where rendering_npi = ?",
            [NPI],
        ).fetchall()[0][0]
    assert frame["examined_amount"].sum() == pytest.approx(want)
    assert {"allowed+charge", "paid+allowed+charge"} >= set(frame["amount_basis"]) and frame["lines_charge"].sum() == 21


def test_same_parameters_same_items_and_the_documented_procedure(warehouse):
    request = commands.make_request(NPI, seed=4242, size=6)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        one = draws.draw(con, request)
        two = draws.draw(con, request)
        other = draws.draw(con, commands.make_request(NPI, seed=4243, size=6))
        frame = frames.beneficiary_days(con, NPI)
    assert one.keys() == two.keys() and one.sample_id != two.sample_id
    assert one.config_fingerprint == two.config_fingerprint and one.frame_fingerprint == two.frame_fingerprint
    assert other.keys() != one.keys()
    # the procedure, by hand: sort by (service_date, patient_id); PCG64(seed); the n smallest of rng.random(N)
    ordered = frame.sort("service_date", "patient_id")
    u = np.random.Generator(np.random.PCG64(4242)).random(ordered.height)
    positions = sorted(np.argsort(u, kind="stable")[:6].tolist())
    by_hand = ordered[positions].select("patient_id", "service_date")
    assert one.items.select("patient_id", "service_date").equals(by_hand)
    assert one.items["sample_item"].to_list() == [1, 2, 3, 4, 5, 6]
    assert one.items["frame_position"].to_list() == positions


def test_stratified_draw_with_a_stratum_in_full(warehouse):
    request = commands.make_request(NPI, seed=7, strata="150,180,200", stratum_sizes="3,3,all")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        d = draws.draw(con, request)
    sizes = [(s.stratum.label, s.frame_size, s.sample_size, s.full) for s in d.strata]
    assert sizes == [("[150, 180)", 9, 3, False), ("[180, 200)", 8, 3, False), ("[200, inf)", 4, 4, True)]
    assert d.items["stratum"].to_list() == [1, 1, 1, 2, 2, 2, 3, 3, 3, 3]
    for s in d.strata:
        amounts = d.items.filter(pl.col("stratum") == s.stratum.number)["examined_amount"]
        assert amounts.min() >= s.stratum.lower and (s.stratum.upper is None or amounts.max() < s.stratum.upper)
    # proportional allocation of a total
    with duckdb.connect(str(warehouse), read_only=True) as con:
        prop = draws.draw(con, commands.make_request(NPI, seed=7, strata="150,180,200", size=10))
    assert [s.sample_size for s in prop.strata] == [4, 4, 2] and prop.request.allocation() == "proportional"


def test_bad_requests_are_refused_with_a_reason(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        with pytest.raises(ValueError, match="below the first stratum bound"):
            draws.draw(con, commands.make_request(NPI, seed=1, strata="200,300", size=5))
        with pytest.raises(ValueError, match="at least 2"):
            draws.draw(con, commands.make_request(NPI, seed=1, strata="150,200", stratum_sizes="1,all"))
        with pytest.raises(ValueError, match="only 4"):
            draws.draw(con, commands.make_request(NPI, seed=1, strata="150,200", stratum_sizes="3,5"))
        with pytest.raises(ValueError, match="nothing to sample"):
            draws.draw(con, commands.make_request("1999999999", seed=1, size=5))
    with pytest.raises(ValueError, match="strictly increasing"):
        commands.make_request(NPI, seed=1, size=5, strata="100,50")
    with pytest.raises(ValueError, match="seed"):
        commands.make_request(NPI, seed=-1, size=5)
    with pytest.raises(ValueError, match="either a total"):
        commands.make_request(NPI, seed=1, size=5, strata="150,200", stratum_sizes="2,2")


def test_stored_sample_redraws_identically(warehouse, tmp_path):
    summary = commands.draw_sample(
        warehouse,
        NPI,
        seed=99,
        size=5,
        strata="150,200",
        out=tmp_path / "ws.xlsx",
        start=dt.date(2026, 1, 1),
        end=dt.date(2026, 3, 31),
    )
    d = summary.draw
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select count(*), min(seed), min(frame_size_total), min(strata), min(allocation), min(config_fingerprint), "
            "min(period_start), min(period_end) from audit_samples where sample_id = ?",
            [d.sample_id],
        ).fetchall()[0]
        again, stored = store.redraw(con, d.sample_id)
    assert rows == (
        d.sample_size,
        99,
        21,
        "150,200",
        "proportional",
        d.config_fingerprint,
        dt.date(2026, 1, 1),
        dt.date(2026, 3, 31),
    )
    assert store.same_items(again, stored) and again.frame_fingerprint == stored.frame_fingerprint
    assert again.config_fingerprint == d.config_fingerprint
    assert commands.redraw_matches(warehouse, d.sample_id)
    # nothing printable names a patient
    text = "\n".join(summary.summary_lines())
    assert "PHI-PAT" not in text and d.sample_id in text


def test_the_sample_is_written_in_one_transaction(warehouse, monkeypatch):
    with duckdb.connect(str(warehouse)) as con:
        d = draws.draw(con, commands.make_request(NPI, seed=3, size=4))
        rows = store.sample_rows(d)
        broken = rows.with_columns(
            pl.when(pl.col("sample_item") == 3).then(None).otherwise(pl.col("patient_id")).alias("patient_id")
        )
        monkeypatch.setattr(store, "sample_rows", lambda _d: broken)
        with pytest.raises(duckdb.Error):
            store.write_sample(con, d)  # a NOT NULL violation on item 3 leaves no row at all
        assert con.execute("select count(*) from audit_samples").fetchall()[0][0] == 0
