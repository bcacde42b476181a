"""Scheduled reviews: the landing-folder sensor, the schedule, incremental months, review history."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipelines.definitions import build_defs
from pipelines.generate import generate_extract
from tests.extracts import row, write_csv

pytestmark = pytest.mark.slow  # Dagster runs of the review job

SAMPLES = Path(__file__).resolve().parent.parent / "data_samples"


@pytest.fixture(scope="module")
def months(tmp_path_factory) -> Path:
    """Three monthly extracts of a generated practice."""
    folder = tmp_path_factory.mktemp("generated")
    generate_extract(folder, 9_000, seed=5, start_month="2026-06", months=3)
    return folder


def run(defs: dg.Definitions, job: str = "review", run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    result = defs.resolve_job_def(job).execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), run_config=run_config or {}, raise_on_error=False
    )
    assert result.success
    return result


def query(warehouse: Path, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql(sql).pl()


def sensor_requests(defs: dg.Definitions, cursor: str | None = None):
    sensor = defs.resolve_sensor_def("landing_folder_sensor")
    context = dg.build_sensor_context(cursor=cursor, resources=defs.resources)
    result = sensor(context)
    requests = [] if isinstance(result, dg.SkipReason) else list(result)
    return requests, context.cursor


def test_the_sensor_asks_for_a_run_per_new_extract_and_none_for_files_already_ingested(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(SAMPLES / "claims_2026_09.csv", landing)
    defs = build_defs(warehouse_path=str(tmp_path / "w.duckdb"), input_path=str(landing))

    requests, cursor = sensor_requests(defs)
    assert [r.tags["unitreview/extract"] for r in requests] == ["claims_2026_09.csv"]
    assert requests[0].run_config == {"ops": {"ingest_extracts": {"config": {"files": ["claims_2026_09.csv"]}}}}

    run(defs, "ingest", requests[0].run_config)  # the sensor's run reads the dropped file
    assert query(tmp_path / "w.duckdb", "select source_file, status from ingest_log").rows() == [
        ("claims_2026_09.csv", "loaded")
    ]

    assert sensor_requests(defs, cursor)[0] == []  # seen: nothing more
    assert sensor_requests(defs, None)[0] == []  # even with a fresh cursor: already in ingest_log

    shutil.copy(SAMPLES / "claims_2026_10_bad_rows.csv", landing)  # a new file lands
    requests, _ = sensor_requests(defs, cursor)
    assert [r.tags["unitreview/extract"] for r in requests] == ["claims_2026_10_bad_rows.csv"]


def test_the_schedule_runs_the_whole_review_weekly_by_default(tmp_path):
    defs = build_defs(warehouse_path=str(tmp_path / "w.duckdb"), input_path=str(SAMPLES))
    schedule = defs.resolve_schedule_def("scheduled_review")
    assert schedule.cron_schedule == "0 6 * * 1" and schedule.job_name == "review"
    context = dg.build_schedule_context(scheduled_execution_time=None)
    requests = list(schedule.evaluate_tick(context).run_requests)
    assert len(requests) == 1


def test_the_schedules_cron_comes_from_the_configuration(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[schedule]\ncron = "0 7 * * *"\n')
    defs = build_defs(warehouse_path=str(tmp_path / "w.duckdb"), input_path=str(SAMPLES), config_path=str(config))
    assert defs.resolve_schedule_def("scheduled_review").cron_schedule == "0 7 * * *"


def test_the_scheduled_job_runs_in_process_with_every_check_passing(tmp_path):
    defs = build_defs(warehouse_path=str(tmp_path / "w.duckdb"), input_path=str(SAMPLES))
    result = run(defs)
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)
    assert (tmp_path / "w.snapshot.duckdb").exists() and (tmp_path / "w_report.html").exists()


def test_run_metadata_carries_counts_but_no_patient_identifier(tmp_path):
    defs = build_defs(warehouse_path=str(tmp_path / "w.duckdb"), input_path=str(SAMPLES))
    result = run(defs)
    patients = set(query(tmp_path / "w.duckdb", "select distinct patient_id from claim_lines")["patient_id"])
    text = json.dumps(
        [
            {k: str(v.value) for k, v in e.step_materialization_data.materialization.metadata.items()}
            for e in result.get_asset_materialization_events()
        ]
    )
    assert "rows_loaded" in text
    assert not [p for p in patients if p in text]


# a monthly review writes its month in place; more months go through staged tables, small months
# written together (FLUSH_ROWS) or, when large, one at a time: every way must match
@pytest.mark.parametrize(
    ("in_place_months", "flush_rows"),
    [(1, None), (0, None), (0, 1)],
    ids=["in place", "staged, months written together", "staged, a month a write"],
)
def test_a_new_month_recomputes_only_that_month_and_matches_a_full_rebuild(
    months, tmp_path, monkeypatch, in_place_months, flush_rows
):
    monkeypatch.setattr("pipelines.rules.incremental.IN_PLACE_MONTHS", in_place_months)
    if flush_rows is not None:
        monkeypatch.setattr("pipelines.rules.incremental.FLUSH_ROWS", flush_rows)
    landing = tmp_path / "landing"
    landing.mkdir()
    files = sorted(months.glob("claims_*.csv"))
    for f in files[:2]:
        shutil.copy(f, landing)
    incremental = tmp_path / "inc.duckdb"
    defs = build_defs(warehouse_path=str(incremental), input_path=str(landing))
    run(defs)
    shutil.copy(files[2], landing)
    result = run(defs)
    units_event = next(
        e
        for e in result.get_asset_materialization_events()
        if e.step_materialization_data.materialization.asset_key.to_user_string() == "line_units"
    )
    assert units_event.step_materialization_data.materialization.metadata["months_recomputed"].value == ["2026-08"]
    scores_event = next(
        e
        for e in result.get_asset_materialization_events()
        if e.step_materialization_data.materialization.asset_key.to_user_string() == "provider_scores"
    )
    assert scores_event.step_materialization_data.materialization.metadata["months_scored"].value == ["2026-08"]

    full = tmp_path / "full.duckdb"
    run(build_defs(warehouse_path=str(full), input_path=str(months)))
    columns = "rule_id, patient_id, service_date, rendering_npi, claim_id, line_number, units_over, detail"
    order = f"order by {columns}"
    assert query(incremental, f"select {columns} from findings {order}").equals(
        query(full, f"select {columns} from findings {order}")
    )
    units = "select * from line_units order by claim_id, line_number"
    assert query(incremental, units).equals(query(full, units))
    # scores of the new month plus the two months' stored pieces: those of scoring all three at once
    for table, key in (("provider_scores", "period, risk_rank"), ("provider_metrics", "period, rendering_npi, metric")):
        assert query(incremental, f"select * from {table} order by {key}").equals(
            query(full, f"select * from {table} order by {key}")
        )
    # the DOCUMENTATION coverage counts every month's patient-days, also the months not recomputed
    from pipelines.rules.findings.documentation import documentation_coverage_frame

    every_line = documentation_coverage_frame(query(incremental, "select * from claim_lines"))
    coverage = "select * from rule_coverage where rule_id = 'DOCUMENTATION'"
    assert query(incremental, coverage).equals(every_line) and query(full, coverage).equals(every_line)
    assert every_line["patient_days_checked"][0] > 0


def test_a_second_review_marks_new_and_resolved_findings(months, tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    files = sorted(months.glob("claims_*.csv"))
    shutil.copy(files[0], landing)
    warehouse = tmp_path / "w.duckdb"
    run(build_defs(warehouse_path=str(warehouse), input_path=str(landing)))
    first = query(warehouse, "select count(*) n from findings")["n"][0]
    # 97112's (the generator's scenarios also put other codes over their MUE)
    of_97112 = "select count(*) n from findings where rule_id = 'DAILY_LIMIT' and detail like '97112:%'"
    daily_limit_before = query(warehouse, of_97112)["n"][0]
    assert daily_limit_before > 0

    # one new month arrives, and the practice's payer contract now allows 8 units of 97112 a day
    shutil.copy(files[1], landing)
    config = tmp_path / "c.toml"
    config.write_text('[rules]\ndaily_limits = { "97112" = 8 }\n')
    run(build_defs(warehouse_path=str(warehouse), input_path=str(landing), config_path=str(config)))

    runs = query(warehouse, "select new_findings, resolved_findings, rows_read from review_runs order by finished_at")
    assert runs.height == 2
    new_month = query(warehouse, "select count(*) n from findings where service_date >= date '2026-07-01'")["n"][0]
    assert runs["new_findings"][1] == new_month
    resolved = query(warehouse, "select count(*) n from finding_history where resolved_at is not null")["n"][0]
    assert runs["resolved_findings"][1] == resolved == daily_limit_before
    assert query(warehouse, of_97112)["n"][0] == 0
    still = query(warehouse, "select count(*) n from findings where first_seen < last_seen")["n"][0]
    assert still == first - daily_limit_before  # the rest of the first month's findings were seen again


def test_the_report_and_overview_say_what_is_new_and_what_was_resolved(months, tmp_path):
    from dashboards import data
    from dashboards.data.snapshot import reading

    landing = tmp_path / "landing"
    landing.mkdir()
    files = sorted(months.glob("claims_*.csv"))
    shutil.copy(files[0], landing)
    warehouse = tmp_path / "w.duckdb"
    run(build_defs(warehouse_path=str(warehouse), input_path=str(landing)))
    assert "First review" in (tmp_path / "w_report.html").read_text()
    shutil.copy(files[1], landing)
    config = tmp_path / "c.toml"
    config.write_text('[rules]\ndaily_limits = { "97112" = 8 }\n')
    run(build_defs(warehouse_path=str(warehouse), input_path=str(landing), config_path=str(config)))
    runs = query(warehouse, "select new_findings, resolved_findings from review_runs order by finished_at")
    with reading(tmp_path / "w.snapshot.duckdb") as snap:
        changes = data.review_changes(snap)
    assert (changes["new"], changes["resolved"]) == (runs["new_findings"][1], runs["resolved_findings"][1])
    assert changes["by_rule"].filter(pl.col("rule_id") == "DAILY_LIMIT")["resolved"][0] == runs["resolved_findings"][1]
    html = (tmp_path / "w_report.html").read_text()
    assert f"{changes['new']:,} new findings, {changes['resolved']:,} resolved" in html


def visit_on(day: str) -> dict[str, str]:
    """A line's service date with a 45-minute visit that morning."""
    return {"service_date": day, "visit_start": f"{day}T09:00", "visit_end": f"{day}T09:45"}


def dx_support_claims(warehouse: Path) -> list[str]:
    """The claims DX_SUPPORT flags, in order."""
    return query(warehouse, "select claim_id from findings where rule_id = 'DX_SUPPORT' order by 1")[
        "claim_id"
    ].to_list()


def test_a_claim_spanning_two_months_is_judged_on_all_its_lines_in_a_review(tmp_path):
    """DX_SUPPORT reads a claim's diagnoses across all its lines, also when the lines fall in two
    service months (each month is computed on its own)."""
    june, july = visit_on("2026-06-30"), visit_on("2026-07-01")
    landing = tmp_path / "landing"
    landing.mkdir()
    write_csv(
        landing / "claims.csv",
        [
            # the 97112 line's own diagnosis is weakness; the claim's July line carries hemiplegia
            row(claim_id="SPAN-1", line_number="1", cpt_code="97112", diagnosis_codes="M62.81", **june),
            row(claim_id="SPAN-1", line_number="2", cpt_code="97110", diagnosis_codes="G81.91", **july),
            # a June claim with weakness only: not supported
            row(
                claim_id="ALONE-1",
                line_number="1",
                cpt_code="97112",
                diagnosis_codes="M62.81",
                patient_id="PAT-0002",
                **june,
            ),
        ],
    )
    warehouse = tmp_path / "w.duckdb"
    run(build_defs(warehouse_path=str(warehouse), input_path=str(landing)))
    assert dx_support_claims(warehouse) == ["ALONE-1"]


def test_a_month_recomputed_after_a_delivery_still_reads_its_claims_lines_in_other_months(tmp_path):
    """A new June claim makes the next review recompute June; a June claim whose other line lies in
    May (outside the months recomputed) is still judged on both lines."""
    may, june = visit_on("2026-05-29"), visit_on("2026-06-02")
    landing = tmp_path / "landing"
    landing.mkdir()
    write_csv(
        landing / "claims_1.csv",
        [
            # the June 97112 line's own diagnosis is weakness; the claim's May line carries hemiplegia
            row(claim_id="SPAN-2", line_number="1", cpt_code="97110", diagnosis_codes="G81.91", **may),
            row(claim_id="SPAN-2", line_number="2", cpt_code="97112", diagnosis_codes="M62.81", **june),
        ],
    )
    warehouse = tmp_path / "w.duckdb"
    run(build_defs(warehouse_path=str(warehouse), input_path=str(landing)))
    assert dx_support_claims(warehouse) == []
    write_csv(
        landing / "claims_2.csv",
        [
            row(
                claim_id="NEW-1",
                line_number="1",
                cpt_code="97112",
                diagnosis_codes="M62.81",
                patient_id="PAT-0003",
                **june,
            )
        ],
    )
    run(build_defs(warehouse_path=str(warehouse), input_path=str(landing)))
    assert dx_support_claims(warehouse) == ["NEW-1"]


def test_a_change_of_scoring_settings_rescores_every_month_and_nothing_else_changes_none(months, tmp_path):
    """Scoring pieces are kept per month with the settings they were made with: a review with the
    same data and settings rescores no month; other [scores] settings rescore them all."""
    landing = tmp_path / "landing"
    landing.mkdir()
    for f in sorted(months.glob("claims_*.csv"))[:2]:
        shutil.copy(f, landing)
    warehouse = tmp_path / "w.duckdb"

    def months_scored(config_path: Path | None = None) -> list[str]:
        defs = build_defs(
            warehouse_path=str(warehouse),
            input_path=str(landing),
            config_path=str(config_path) if config_path else None,
        )
        event = next(
            e
            for e in run(defs).get_asset_materialization_events()
            if e.step_materialization_data.materialization.asset_key.to_user_string() == "provider_scores"
        )
        return event.step_materialization_data.materialization.metadata["months_scored"].value

    assert months_scored() == ["2026-06", "2026-07"]
    before = query(warehouse, "select * from provider_scores order by period, risk_rank")
    assert months_scored() == []
    assert query(warehouse, "select * from provider_scores order by period, risk_rank").equals(before)
    config = tmp_path / "c.toml"
    config.write_text("[scores]\nmin_patient_days = 5\n")
    assert months_scored(config) == ["2026-06", "2026-07"]


def test_a_rules_change_line_units_do_not_read_recomputes_the_findings_from_the_stored_units(months, tmp_path):
    """A [rules] change that no line unit depends on (a daily limit, the impossible-day ceiling), with
    no new lines: the stored line units stand and every month's findings are recomputed from them,
    equal to a new review with that configuration; a change of a payer's method recomputes the units."""
    landing = tmp_path / "landing"
    landing.mkdir()
    for f in sorted(months.glob("claims_*.csv"))[:2]:
        shutil.copy(f, landing)
    june, july = visit_on("2026-06-30"), visit_on("2026-07-01")
    write_csv(  # a claim spanning the two months: its June 97112 line is supported by its July diagnosis
        landing / "claims_span.csv",
        [
            row(claim_id="SPAN-1", line_number="1", cpt_code="97112", diagnosis_codes="M62.81", **june),
            row(claim_id="SPAN-1", line_number="2", cpt_code="97110", diagnosis_codes="G81.91", **july),
        ],
    )

    def review(warehouse: Path, rules: str = "") -> dict[str, list[str]]:
        config = tmp_path / f"{warehouse.stem}.toml"
        config.write_text(f"[rules]\n{rules}")
        result = run(build_defs(warehouse_path=str(warehouse), input_path=str(landing), config_path=str(config)))
        return {
            key: e.step_materialization_data.materialization.metadata["months_recomputed"].value
            for e in result.get_asset_materialization_events()
            if (key := e.step_materialization_data.materialization.asset_key.to_user_string())
            in ("line_units", "findings")
        }

    both = ["2026-06", "2026-07"]
    units = "select * from line_units order by claim_id, line_number"
    found = "select * exclude (first_seen, last_seen) from findings order by all"
    scores = "select * from provider_scores order by period, risk_rank"
    coverage = "select * from rule_coverage order by all"
    warehouse = tmp_path / "w.duckdb"
    assert review(warehouse) == {"line_units": both, "findings": both}
    units_before = query(warehouse, units)
    limits_before = query(
        warehouse, "select count(*) n from findings where rule_id in ('DAILY_LIMIT', 'IMPOSSIBLE_DAY')"
    )["n"][0]

    findings_only = 'daily_limits = { "97112" = 2 }\nimpossible_day_minutes = 300\n'
    assert review(warehouse, findings_only) == {"line_units": [], "findings": both}
    fresh = tmp_path / "fresh.duckdb"
    assert review(fresh, findings_only) == {"line_units": both, "findings": both}
    assert query(warehouse, units).equals(units_before) and query(fresh, units).equals(units_before)
    for sql in (found, scores, coverage):
        assert query(warehouse, sql).equals(query(fresh, sql)), sql
    assert (
        query(warehouse, "select count(*) n from findings where rule_id in ('DAILY_LIMIT', 'IMPOSSIBLE_DAY')")["n"][0]
        > limits_before
    )
    assert "SPAN-1" not in dx_support_claims(warehouse)

    payer = findings_only + 'payer_type_methods = { commercial = "cms" }\n'
    assert review(warehouse, payer) == {"line_units": both, "findings": both}
    fresh_payer = tmp_path / "fresh_payer.duckdb"
    review(fresh_payer, payer)
    assert not query(warehouse, units).equals(units_before)
    for sql in (units, found, scores, coverage):
        assert query(warehouse, sql).equals(query(fresh_payer, sql)), sql
