"""Why a provider is flagged: which metrics flag it, and which of its days each metric lists, on a
small hand-written snapshot whose days are worked out by hand below (not the generator); the days
of the share metrics are the ones scoring itself counts; every metric scoring computes has an
evidence definition; a therapist-day's visits, overlaps and totals.

The snapshot: provider A (NPI 1000000001, PT) and its peers B, C (PT) and D (OT). A's lines:

    date   patient claim codes (units, minutes)           visit          97112 timed minutes
    01-05  P1      C1    97112 (4, 60) 97110 (1, 15)      09:00-10:15    4     5     75
    01-05  P2      C2    97112 (2, 30)                    09:45-10:30    2     2     30
    01-05  P3      C7    97165 (1, untimed)               09:50-10:20    0     0     -
    01-05  P4      C8    97110 (1, 15)                    no times       0     1     15
    01-06  P1      C3    97112 (5, 45)                    11:00-11:45    5     5     45
    01-06  P3      C4    97110 (2, no minutes)            12:00-12:30    0     2     (undocumented)
    01-07  P4      C5    97110 (16, 240)                  08:00-12:00    0     16    240
    01-07  P2      C6    97530 (17, 250)                  12:30-16:40    0     17    250
    02-02  P1      C9    97112 (4, 60)                    09:00-10:00    4     4     60

Working days in January: 01-05 75 + 30 + 15 = 120 minutes (2.0 h); 01-06 45 + 2 units x 15 = 75;
01-07 490 (over 8 hours). Findings: UNITS_OVER_MINUTES (A, P1, 01-06) and (A, P1, 02-02); DAILY_LIMIT
without a therapist (P1, 01-06), which A shares; MINUTES_MISSING on claim C4 line 1 (no therapist or
patient: A's P3 01-06 through the claim line); OVERLAP (A, 01-05); and B's DAILY_LIMIT (P9, 01-05)
and IMPOSSIBLE_DAY (B, 01-06), which are not A's.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest

from dashboards import context
from dashboards.access.privacy import Viewer
from dashboards.app import create_app
from dashboards.data import evidence, visits
from dashboards.data.snapshot import reading
from dashboards.ui import why_flagged
from pipelines.scores import compute_scores
from pipelines.scores.attribution import rule_ids
from pipelines.scores.peers import metric_specs
from pipelines.scores.settings import ScoreSettings

ROOT = Path(__file__).resolve().parent.parent
A, B, C, D = "1000000001", "1000000002", "1000000003", "1000000004"
JAN = "2026-01"
TIMED = {"97112", "97110", "97530"}
LIMIT_LABEL = "patient-days with 97112 at the daily limit ({} units)"
DAY_LABEL = "working days over {} timed hours"


def day(d: str) -> dt.date:
    return dt.date.fromisoformat(f"2026-{d}")


def at(d: str, hm: str | None) -> dt.datetime | None:
    return None if hm is None else dt.datetime.fromisoformat(f"2026-{d} {hm}")


# claim, patient, npi, date, [(code, units, minutes)], start, end, total_timed_minutes
VISITS = [
    ("C1", "P1", A, "01-05", [("97112", 4, 60), ("97110", 1, 15)], "09:00", "10:15", 75),
    ("C2", "P2", A, "01-05", [("97112", 2, 30)], "09:45", "10:30", 30),
    ("C7", "P3", A, "01-05", [("97165", 1, None)], "09:50", "10:20", None),
    ("C8", "P4", A, "01-05", [("97110", 1, 15)], None, None, 15),
    ("C3", "P1", A, "01-06", [("97112", 5, 45)], "11:00", "11:45", 45),
    ("C4", "P3", A, "01-06", [("97110", 2, None)], "12:00", "12:30", None),
    ("C5", "P4", A, "01-07", [("97110", 16, 240)], "08:00", "12:00", 240),
    ("C6", "P2", A, "01-07", [("97530", 17, 250)], "12:30", "16:40", 250),
    ("C9", "P1", A, "02-02", [("97112", 4, 60)], "09:00", "10:00", 60),
    ("C10", "P9", B, "01-05", [("97112", 5, 75)], "09:00", "10:15", 75),
    ("C11", "P8", B, "01-06", [("97110", 2, 30)], "09:00", "09:30", 30),
    ("C12", "P8", C, "01-06", [("97112", 1, 15)], "13:00", "13:15", 15),
    ("C13", "P7", D, "01-06", [("97530", 2, 30)], "13:00", "13:30", 30),
]


def _lines() -> pl.DataFrame:
    rows = []
    for claim, patient, npi, d, codes, start, end, total in VISITS:
        for n, (code, units, minutes) in enumerate(codes, start=1):
            rows.append(
                {
                    "claim_id": claim,
                    "line_number": n,
                    "patient_id": patient,
                    "rendering_npi": npi,
                    "service_date": day(d),
                    "cpt_code": code,
                    "units_billed": units,
                    "payer_type": "medicare",
                    "minutes": minutes,
                    "total_timed_minutes": total,
                    "visit_start": at(d, start),
                    "visit_end": at(d, end),
                    "provider_name": {A: "Avery", B: "Blake", C: "Casey", D: "Devon"}[npi],
                    "source_file": "hand.csv",
                    "source_row": len(rows) + 1,
                    "ingested_at": dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
                }
            )
    return pl.DataFrame(rows)


def _units(lines: pl.DataFrame) -> pl.DataFrame:
    return lines.select(
        "claim_id",
        "line_number",
        "patient_id",
        "service_date",
        "rendering_npi",
        "cpt_code",
        "units_billed",
        pl.when(pl.col("rendering_npi") == D).then(pl.lit("OT")).otherwise(pl.lit("PT")).alias("discipline"),
        pl.col("cpt_code").is_in(list(TIMED)).alias("is_timed"),
        pl.col("minutes").alias("minutes_used"),
        "total_timed_minutes",
        pl.lit(False).alias("duplicate_extra"),
    )


def _findings() -> pl.DataFrame:
    rows = [
        ("UNITS_OVER_MINUTES", A, "P1", "01-06", None, None, 2, "45 minutes support 3 units; 5 billed"),
        ("UNITS_OVER_MINUTES", A, "P1", "02-02", None, None, 0, "60 minutes support 4 units; 4 billed"),
        ("DAILY_LIMIT", None, "P1", "01-06", None, None, 1, "5 units of 97112; the limit is 4"),
        ("MINUTES_MISSING", None, None, "01-06", "C4", 1, 2, "97110 billed for 2 units with no minutes"),
        ("OVERLAP", A, None, "01-05", None, None, 2, "2 visits with 2 different patients overlap"),
        ("DAILY_LIMIT", None, "P9", "01-05", None, None, 1, "5 units of 97112; the limit is 4"),
        ("IMPOSSIBLE_DAY", B, None, "01-06", None, None, 1, "NPI 1000000002 documented too many minutes"),
    ]
    return pl.DataFrame(
        [
            {
                "rule_id": r,
                "severity": "high",
                "rendering_npi": n,
                "patient_id": p,
                "service_date": day(d),
                "claim_id": c,
                "line_number": ln,
                "units_over": u,
                "amount_at_risk": 34.0 * u,
                "detail": t,
            }
            for r, n, p, d, c, ln, u, t in rows
        ],
        schema_overrides={
            "line_number": pl.Int64,
            "claim_id": pl.String,
            "rendering_npi": pl.String,
            "patient_id": pl.String,
        },
    )


# provider_metrics of the period 2026-01: (npi, metric, value, peer median, robust z, significant, bad direction)
METRICS = [
    (A, "share_days_97112_at_limit", 0.25, 0.0, 5.0, True, "high"),
    (A, "units_97112_per_patient_day", 1.375, 1.5, 4.0, True, "high"),
    (A, "minutes_per_timed_unit", 10.0, 15.0, -3.5, True, "low"),
    (A, "rate_overlap", 0.33, 0.0, 2.0, True, "high"),
    (A, "timed_units_per_patient_day", 6.0, 4.0, 1.0, False, "high"),  # not significant: not a reason
    (A, "share_days_over_8h", 0.33, 0.5, -0.5, True, "high"),  # significant but not in the bad direction
    (A, "share_97112_of_timed_units", 0.2, 0.5, 0.0, False, "high"),
    (A, "timed_hours_per_day_mean", 3.9, 2.0, 0.5, False, "high"),
    (B, "share_days_97112_at_limit", 0.5, 0.0, 4.0, True, "high"),
    (B, "units_97112_per_patient_day", 2.5, 1.5, 1.0, False, "high"),
    (C, "share_days_97112_at_limit", 0.0, 0.0, 0.0, False, "high"),
    (C, "units_97112_per_patient_day", 1.0, 1.5, -1.0, False, "high"),
    (D, "units_97112_per_patient_day", 0.0, 0.0, 0.0, False, "high"),
]


def build(path: Path, limit_units: int = 4, day_hours: int = 8) -> Path:
    """The hand-written snapshot at ``path`` (the review's own DDL for the lines, units and findings)."""
    lines = _lines()
    metrics = pl.DataFrame(
        [
            {
                "period": JAN,
                "rendering_npi": n,
                "peer_group": "OT" if n == D else "PT",
                "metric": m,
                "label": (
                    LIMIT_LABEL.format(limit_units)
                    if m == "share_days_97112_at_limit"
                    else DAY_LABEL.format(day_hours)
                    if m == "share_days_over_8h"
                    else m.replace("_", " ")
                ),
                "value": v,
                "peer_median": med,
                "robust_z": z,
                "percentile": 90.0,
                "p_value": 0.01,
                "significant": s,
                "direction_bad": dirn,
            }
            for n, m, v, med, z, s, dirn in METRICS
        ]
    )
    # the same rows for the whole window: another period, which a January query must not read
    metrics = pl.concat(
        [metrics, metrics.with_columns(pl.lit("all").alias("period"), pl.lit(False).alias("significant"))]
    )
    scores = pl.DataFrame(
        {"period": [JAN] * 4, "rendering_npi": [A, B, C, D], "provider_name": ["Avery", "Blake", "Casey", "Devon"]}
    )
    con = duckdb.connect(str(path))
    try:
        con.execute((ROOT / "sql" / "001_ingest.sql").read_text())
        con.execute((ROOT / "sql" / "004_rules.sql").read_text())
        for name, frame in [("claim_lines", lines), ("line_units", _units(lines)), ("findings", _findings())]:
            con.register("incoming", frame)
            con.execute(f"insert into {name} by name select * from incoming")
            con.unregister("incoming")
        for name, frame in [("provider_metrics", metrics), ("provider_scores", scores)]:
            con.register("incoming", frame)
            con.execute(f"create table {name} as select * from incoming")
            con.unregister("incoming")
    finally:
        con.close()
    return path


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("evidence") / "hand.duckdb")


@pytest.fixture()
def snap(snapshot):
    with reading(snapshot) as s:
        yield s


def listed(snap, metric: str, period: str = JAN, median: float | None = None) -> evidence.Selection:
    ev = evidence.definition(metric)
    return ev.select(evidence.provider_days(snap, A, period), evidence.limits(snap), median)


def keys(selection: evidence.Selection) -> list[tuple]:
    frame = selection.days
    if "patient_id" in frame.columns:
        return [(p, str(d)[5:]) for p, d in zip(frame["patient_id"], frame["service_date"], strict=True)]
    return [str(d)[5:] for d in frame["service_date"]]


def test_the_flagging_metrics_are_the_significant_ones_in_the_bad_direction_strongest_first(snap):
    flagged = evidence.flagged_metrics(snap, A, JAN)
    # minutes per unit counts low as bad: its z of -3.5 is 3.5 in the bad direction; days over 8 hours
    # is significant but below the peer median (not a reason); timed units per day is not significant
    assert flagged["metric"].to_list() == [
        "share_days_97112_at_limit",
        "units_97112_per_patient_day",
        "minutes_per_timed_unit",
        "rate_overlap",
    ]
    assert flagged["z_bad"].to_list() == [5.0, 4.0, 3.5, 2.0]
    assert evidence.flagged_metrics(snap, A, "all").height == 0  # another period's rows are not read


def test_peer_values_are_the_peer_group_of_the_period(snap):
    peers = evidence.peer_values(snap, JAN, "PT", ["units_97112_per_patient_day"])
    assert sorted(peers["rendering_npi"].to_list()) == [A, B, C]  # D is OT
    assert dict(zip(peers["rendering_npi"], peers["value"], strict=True)) == {A: 1.375, B: 2.5, C: 1.0}
    assert peers.filter(pl.col("rendering_npi") == B)["provider_name"].to_list() == ["Blake"]


def test_days_at_the_daily_limit_are_those_with_four_or_more_97112_units(snap):
    january = listed(snap, "share_days_97112_at_limit")
    assert keys(january) == [("P1", "01-06"), ("P1", "01-05")]  # 5 units, then 4
    assert january.days["units_97112"].to_list() == [5, 4]
    assert "daily limit (4 units or more)" in january.rule
    assert keys(listed(snap, "share_days_97112_at_limit", period="all")) == [
        ("P1", "01-06"),
        ("P1", "01-05"),
        ("P1", "02-02"),
    ]


def test_the_daily_limit_comes_from_the_scores_label(tmp_path):
    with reading(build(tmp_path / "limit5.duckdb", limit_units=5, day_hours=6)) as snap:
        assert evidence.limits(snap) == evidence.Limits(daily_limit_97112=5, oig_day_minutes=360)
        assert keys(listed(snap, "share_days_97112_at_limit")) == [("P1", "01-06")]
        # 01-07 (490 minutes) only over 6 hours too; 01-05 has 120
        assert keys(listed(snap, "share_days_over_8h")) == ["01-07"]


def test_unit_counts_list_the_days_beyond_the_peer_median_worst_first(snap):
    assert keys(listed(snap, "units_97112_per_patient_day", median=1.5)) == [
        ("P1", "01-06"),
        ("P1", "01-05"),
        ("P2", "01-05"),
    ]
    assert keys(listed(snap, "timed_units_per_patient_day", median=4.0)) == [
        ("P2", "01-07"),
        ("P4", "01-07"),
        ("P1", "01-05"),
        ("P1", "01-06"),
    ]
    # 4/5, 2/2 and 5/5 of the timed units in 97112 against a median of 50%; ties by date
    share = listed(snap, "share_97112_of_timed_units", median=0.5)
    assert keys(share) == [("P2", "01-05"), ("P1", "01-06"), ("P1", "01-05")]
    assert share.days["share_97112_pct"].to_list() == [100.0, 100.0, 80.0]


def test_minutes_per_unit_lists_the_days_below_the_peer_median_fewest_first(snap):
    # 45/5 = 9 and 250/17 = 14.7 are below 15; P3 on 01-06 documented no minutes and has no ratio
    low = listed(snap, "minutes_per_timed_unit", median=15.0)
    assert keys(low) == [("P1", "01-06"), ("P2", "01-07")]
    assert low.days["minutes_per_unit"].to_list() == pytest.approx([9.0, 250 / 17])


def test_working_day_metrics_list_therapist_days(snap):
    over = listed(snap, "share_days_over_8h")
    assert keys(over) == ["01-07"] and over.days["timed_minutes"].to_list() == [490]
    # 01-05 has 2.0 hours: not above a median of 2.0; 01-06 counts 2 undocumented units as 30 minutes
    assert keys(listed(snap, "timed_hours_per_day_mean", median=2.0)) == ["01-07"]
    days = evidence.provider_days(snap, A, JAN).working_days
    assert dict(zip(map(str, days["service_date"]), days["timed_minutes"], strict=True)) == {
        "2026-01-05": 120,
        "2026-01-06": 75,
        "2026-01-07": 490,
    }
    assert evidence.definition("share_days_over_8h").grain == evidence.THERAPIST_DAY


def test_finding_rates_list_the_days_their_findings_touch(snap):
    assert keys(listed(snap, "rate_units_over_minutes")) == [("P1", "01-06")]
    assert keys(listed(snap, "rate_units_over_minutes", period="all")) == [("P1", "01-06"), ("P1", "02-02")]
    assert keys(listed(snap, "rate_daily_limit")) == [("P1", "01-06")]  # shared, no therapist named
    assert keys(listed(snap, "rate_minutes_missing")) == [("P3", "01-06")]  # through its claim line
    assert keys(listed(snap, "rate_overlap")) == ["01-05"]  # a working day
    assert keys(listed(snap, "rate_impossible_day")) == []  # B's, not A's
    p1 = evidence.provider_days(snap, A, JAN).patient_days.filter(
        (pl.col("patient_id") == "P1") & (pl.col("service_date") == day("01-06"))
    )
    assert p1["findings"].to_list() == [2] and p1["rules"].to_list() == ["DAILY_LIMIT, UNITS_OVER_MINUTES"]


def test_listed_days_are_the_ones_scoring_counts(snap, snapshot):
    """The evidence and the metric agree: at-limit days and days over 8 hours are scoring's own
    counts (the real scoring run on the same lines), as are the days flagged by each rule."""
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        lines = con.sql("select * from claim_lines where service_date < date '2026-02-01'").pl()
        units = con.sql("select * from line_units where service_date < date '2026-02-01'").pl()
        found = con.sql("select * from findings where service_date < date '2026-02-01'").pl()
    finally:
        con.close()
    scores = compute_scores(lines, units, found).scores.filter(
        (pl.col("period") == JAN) & (pl.col("rendering_npi") == A)
    )
    row = scores.row(0, named=True)
    days = evidence.provider_days(snap, A, JAN)
    assert row["patient_days"] == days.patient_days.height == 8
    assert row["share_days_97112_at_limit"] * row["patient_days"] == pytest.approx(
        listed(snap, "share_days_97112_at_limit").days.height
    )
    assert row["share_days_over_8h"] * row["working_days"] == pytest.approx(
        listed(snap, "share_days_over_8h").days.height
    )
    assert row["timed_units"] == days.patient_days["timed_units"].sum()
    assert row["units_97112"] == days.patient_days["units_97112"].sum()


def test_every_metric_scoring_computes_has_evidence():
    """A metric added to scoring without a list of days behind it fails here."""
    specs = metric_specs(rule_ids({"A_NEW_RULE"}), ScoreSettings())
    names = [m.name for m in specs]
    assert "rate_a_new_rule" in names and "share_days_97112_at_limit" in names
    missing = [n for n in names if evidence.definition(n) is None]
    assert missing == []
    assert evidence.definition("rate_overlap").grain == evidence.THERAPIST_DAY
    assert evidence.definition("rate_impossible_day").grain == evidence.THERAPIST_DAY
    assert evidence.definition("rate_a_new_rule").grain == evidence.PATIENT_DAY
    assert evidence.definition("a_metric_nobody_defined") is None


def test_a_therapist_day_s_visits_overlaps_and_totals(snap):
    v = visits.therapist_day_visits(snap, A, day("01-05"))
    assert v["claim_id"].to_list() == ["C1", "C2", "C7", "C8"]  # by start; no times last
    assert v["timed_minutes"].to_list() == [75, 30, 0, 15]
    assert v["one_on_one"].to_list() == [True, True, False, True]
    shared = visits.overlaps(v)
    # C1 09:00-10:15 and C2 09:45-10:30 share 09:45-10:15; C7 (untimed) overlaps both but bills no time
    assert shared.select("claim_id", "other").rows() == [("C1", "P2"), ("C2", "P1")]
    assert set(shared["overlap_start"].to_list()) == {at("01-05", "09:45")}
    assert set(shared["overlap_end"].to_list()) == {at("01-05", "10:15")}
    totals = visits.day_totals(v, shared)
    assert totals == {
        "visits": 4,
        "patients": 4,
        "timed_minutes": 120,
        "first_start": at("01-05", "09:00"),
        "last_end": at("01-05", "10:30"),
        "day_minutes": 90,
        "covered_minutes": 90,
        "overlap_minutes": 30,
        "unplaced": 1,
    }
    # back-to-back visits (10:00 and 10:00) do not overlap: the intervals are half-open
    touching = pl.DataFrame(
        {
            "patient_id": ["X", "Y"],
            "claim_id": ["K1", "K2"],
            "one_on_one": [True, True],
            "visit_start": [at("01-05", "09:00"), at("01-05", "10:00")],
            "visit_end": [at("01-05", "10:00"), at("01-05", "11:00")],
        }
    )
    assert visits.overlaps(touching).height == 0


def _components(node):
    """Every Dash component under ``node``."""
    yield node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if hasattr(child, "to_plotly_json"):
            yield from _components(child)


def test_the_section_shows_a_manager_tokens_and_sends_at_most_max_days(snapshot, monkeypatch):
    monkeypatch.setattr(why_flagged, "MAX_DAYS", 1)
    app = create_app(snapshot, None, secret_key="section test")
    with app.server.test_request_context("/"):
        manager = Viewer("manager", context.settings().token_key)
        section = why_flagged.section(context.snapshot(), manager, A, JAN)
    parts = list(_components(section))
    grids = {
        c.id["metric"]: c for c in parts if isinstance(getattr(c, "id", None), dict) and c.id["type"] == "why-days"
    }
    graphs = [c for c in parts if isinstance(getattr(c, "id", None), dict) and c.id["type"] == "why-peers"]
    assert (
        list(grids)
        == ["share_days_97112_at_limit", "units_97112_per_patient_day", "minutes_per_timed_unit", "rate_overlap"]
        and len(graphs) == 4
    )
    at_limit = grids["share_days_97112_at_limit"].rowData
    assert len(at_limit) == 1 and "patient_id" not in at_limit[0]  # 2 days at the limit, 1 sent
    assert at_limit[0]["patient_ref"].startswith("pt-")
    assert at_limit[0]["row_id"] == f"/patient-day/{A}/{at_limit[0]['patient_ref']}/2026-01-06"
    assert grids["rate_overlap"].rowData[0]["row_id"] == f"/therapist-day/{A}/2026-01-05"
    words = " ".join(str(c.children) for c in parts if isinstance(getattr(c, "children", None), str))
    assert "2 of the 8 patient-days of this period. The first 1 are listed." in words
