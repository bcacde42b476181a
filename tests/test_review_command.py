"""`unitreview review` end to end on small extracts: counts, reruns, redeliveries, exit status."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.extracts import VALID_ROW, row, rows, write_csv
from tests.reviews import review

pytestmark = pytest.mark.slow  # each test runs reviews


def counts(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [r[0] for r in con.execute("select table_name from information_schema.tables order by 1").fetchall()]
        return {t: con.execute(f"select count(*) from {t}").fetchall()[0][0] for t in tables}


def log(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select source_file, status, rows_read, rows_loaded, rows_quarantined from ingest_log order by ingested_at, source_file"
        ).fetchall()


@pytest.fixture
def extracts(tmp_path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(folder / "good.csv", rows(5))
    write_csv(folder / "mixed.csv", [row(claim_id="M-1"), row(claim_id="M-2", units_billed="x")])
    (folder / "broken.parquet").write_bytes(b"PAR1 not really")
    (folder / "notes.txt").write_text("not an extract: ignored")
    return folder


def test_a_bad_file_never_stops_the_good_ones_and_counts_reconcile(extracts, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    result = review(extracts, warehouse)
    assert result.exit_code == 0, result.output
    assert log(warehouse) == [
        ("broken.parquet", "rejected", 0, 0, 0),
        ("good.csv", "loaded", 5, 5, 0),
        ("mixed.csv", "loaded", 2, 1, 1),
    ]
    assert "rows: 7 read = 6 loaded + 1 quarantined" in result.output
    assert "broken.parquet" in result.output and "rejected" in result.output


def test_the_summary_says_how_long_each_step_took(extracts, tmp_path):
    result = review(extracts, tmp_path / "w.duckdb")
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("time by step (s): "))
    steps = dict(part.rsplit(" ", 1) for part in line.removeprefix("time by step (s): ").split(", "))
    assert {"ingest_extracts", "review_rules", "review_scores", "review_runs", "review_publish"} <= set(steps)
    assert all(float(seconds) >= 0 for seconds in steps.values())


def test_reviewing_the_same_input_twice_changes_no_table(extracts, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    assert review(extracts, warehouse).exit_code == 0
    before = counts(warehouse)
    second = review(extracts, warehouse)
    assert second.exit_code == 0, second.output
    assert counts(warehouse) == before
    assert "3 already ingested" in second.output


def test_a_file_already_ingested_is_not_read_again_until_its_size_or_modification_time_changes(
    extracts, tmp_path, monkeypatch
):
    import pipelines.ingest.load as ingest

    warehouse = tmp_path / "w.duckdb"
    assert review(extracts, warehouse).exit_code == 0
    hashed: list[str] = []
    real = ingest.sha256_of
    monkeypatch.setattr(ingest, "sha256_of", lambda path: hashed.append(path.name) or real(path))
    second = review(extracts, warehouse)
    assert second.exit_code == 0 and "3 already ingested" in second.output
    assert hashed == []  # name, size and modification time as logged: not read
    stat = (extracts / "good.csv").stat()
    os.utime(extracts / "good.csv", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # touched
    write_csv(extracts / "mixed.csv", [row(claim_id="M-1"), row(claim_id="M-3")])  # rewritten: new content
    third = review(extracts, warehouse)
    assert third.exit_code == 0, third.output
    assert sorted(hashed) == ["good.csv", "mixed.csv"]
    assert ("good.csv", "loaded", 5, 5, 0) in log(warehouse) and log(warehouse).count(
        ("good.csv", "loaded", 5, 5, 0)
    ) == 1
    # read again as a new delivery: M-3 loaded, M-1 (already loaded) quarantined
    assert [entry for entry in log(warehouse) if entry[0] == "mixed.csv"] == [("mixed.csv", "loaded", 2, 1, 1)] * 2
    hashed.clear()
    assert review(extracts, warehouse).exit_code == 0
    assert hashed == []  # the touched file's new modification time was kept: not read a third time


def test_a_file_logged_before_its_modification_time_was_kept_is_read_once_more_then_not(
    extracts, tmp_path, monkeypatch
):
    import pipelines.ingest.load as ingest

    warehouse = tmp_path / "w.duckdb"
    assert review(extracts, warehouse).exit_code == 0
    with duckdb.connect(str(warehouse)) as con:  # as a warehouse from before file_mtime_ns
        con.execute("update ingest_log set file_mtime_ns = null")
    hashed: list[str] = []
    real = ingest.sha256_of
    monkeypatch.setattr(ingest, "sha256_of", lambda path: hashed.append(path.name) or real(path))
    assert "3 already ingested" in review(extracts, warehouse).output
    assert len(hashed) == 3
    hashed.clear()
    assert "3 already ingested" in review(extracts, warehouse).output
    assert hashed == []


def test_a_redelivered_file_with_the_same_content_is_logged_not_loaded(extracts, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    assert review(extracts, warehouse).exit_code == 0
    shutil.copy(extracts / "good.csv", extracts / "good_again.csv")
    assert review(extracts, warehouse).exit_code == 0
    assert ("good_again.csv", "duplicate", 0, 0, 0) in log(warehouse)
    assert counts(warehouse)["claim_lines"] == 6


def test_a_single_file_can_be_reviewed(extracts, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    assert review(extracts / "good.csv", warehouse).exit_code == 0
    assert log(warehouse) == [("good.csv", "loaded", 5, 5, 0)]


def test_a_missing_input_path_is_one_clear_sentence_and_a_nonzero_exit(tmp_path):
    result = review(tmp_path / "nowhere", tmp_path / "w.duckdb")
    assert result.exit_code != 0
    assert "input path" in result.output and "does not exist" in result.output
    assert "Traceback" not in result.output


def test_a_configuration_with_an_unknown_key_is_refused_by_name(extracts, tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[rules]\nimpossible_day_minute = 600\n")
    result = review(extracts, tmp_path / "w.duckdb", "--config", str(config))
    assert result.exit_code != 0
    assert "rules.impossible_day_minute" in result.output


def test_a_configuration_value_of_the_wrong_type_is_refused_by_name(extracts, tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[rules]\nimpossible_day_minutes = "twelve hours"\n')
    result = review(extracts, tmp_path / "w.duckdb", "--config", str(config))
    assert result.exit_code != 0 and "rules.impossible_day_minutes" in result.output


def test_a_users_mapping_profile_reads_their_headers(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    record = {("Svc Dt" if k == "service_date" else k): v for k, v in row().items()}
    write_csv(folder / "vendor.csv", [record])
    config = tmp_path / "profile.toml"
    config.write_text('[ingest.profiles.acme]\n"Svc Dt" = "service_date"\n')
    assert review(folder, tmp_path / "w.duckdb", "--config", str(config)).exit_code == 0
    assert log(tmp_path / "w.duckdb") == [("vendor.csv", "loaded", 1, 1, 0)]


def test_documentation_check_says_it_could_not_run_without_flags_or_notes(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(folder / "plain.csv", rows(3))  # 97112 lines with neither documentation flags nor notes
    warehouse = tmp_path / "w.duckdb"
    result = review(folder, warehouse)
    assert result.exit_code == 0, result.output
    assert "DOCUMENTATION: could not run" in result.output
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select ran from rule_coverage where rule_id = 'DOCUMENTATION'").fetchall() == [(False,)]
        assert con.execute("select count(*) from findings where rule_id = 'DOCUMENTATION'").fetchall() == [(0,)]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its permissions")
def test_an_unreadable_file_is_rejected_and_the_others_still_load(extracts, tmp_path):
    locked = extracts / "locked.csv"
    write_csv(locked, rows(2))
    locked.chmod(0)
    result = review(extracts, tmp_path / "w.duckdb")
    assert result.exit_code == 0, result.output
    assert ("locked.csv", "rejected", 0, 0, 0) in log(tmp_path / "w.duckdb")
    assert ("good.csv", "loaded", 5, 5, 0) in log(tmp_path / "w.duckdb")


def test_a_file_that_cannot_be_opened_is_rejected_and_the_others_still_load(extracts, tmp_path, monkeypatch):
    import pipelines.ingest.load as ingest_asset

    real = ingest_asset.sha256_of

    def refuse(path):
        if path.name == "good.csv":
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(ingest_asset, "sha256_of", refuse)
    result = review(extracts, tmp_path / "w.duckdb")
    assert result.exit_code == 0, result.output
    assert ("good.csv", "rejected", 0, 0, 0) in log(tmp_path / "w.duckdb")
    assert ("mixed.csv", "loaded", 2, 1, 1) in log(tmp_path / "w.duckdb")
    assert "cannot be read: Permission denied" in result.output


def test_the_report_a_review_publishes_is_the_report_of_the_snapshot_it_published(extracts, tmp_path):
    # the publish step renders the report from the warehouse while its bytes are copied into the
    # snapshot: the same document as one rendered from the snapshot afterwards, snapshot time included
    import re

    from dashboards.files.report import write_report

    warehouse = tmp_path / "w.duckdb"
    assert review(extracts, warehouse).exit_code == 0
    again = write_report(tmp_path / "w.snapshot.duckdb", tmp_path / "again.html")

    def normalized(path: Path) -> str:  # plotly's random div ids and the per-render patient tokens
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "ID", text)
        return re.sub(r"pt-[0-9a-f]{16}", "pt-TOKEN", text)

    published = normalized(tmp_path / "w_report.html")
    assert "Snapshot taken at " in published and "unknown (no snapshot_info table)" not in published
    assert published == normalized(again)


def test_the_summary_counts_corrections_naming_no_known_claim_and_lines_without_an_mue(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(
        folder / "corrections.csv",
        [
            row(claim_id="CLM-1"),
            row(claim_id="CLM-2", claim_frequency="7", original_claim_id="CLM-1"),  # replaces a known claim
            row(claim_id="CLM-3", claim_frequency="8", original_claim_id="CLM-GONE"),  # voids an unknown one
            row(claim_id="CLM-4", cpt_code="97010", units_billed="1", minutes=None, total_timed_minutes=None),
            row(claim_id="CLM-5", claim_frequency="9"),  # not an X12 claim frequency: quarantined
        ],
        header=[*VALID_ROW, "claim_frequency", "original_claim_id"],
    )
    result = review(folder, tmp_path / "w.duckdb")
    assert result.exit_code == 0, result.output
    assert "voids naming no known claim: 1 claim(s), kept in the review as billed" in result.output
    assert "replacements naming no known claim" not in result.output
    assert "claim_frequency: not 1, 7 or 8" in result.output
    assert "DAILY_LIMIT: 1 billed lines of MUE payers, code MUE 0 (not separately payable)" in result.output
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        status = dict(con.execute("select claim_id, claim_status from line_units").fetchall())
    assert status == {"CLM-1": "replaced", "CLM-2": "replacement", "CLM-3": "unresolved_void", "CLM-4": "original"}


def test_every_total_sums_exposure_one_line_counted_once(tmp_path):
    # one $200 line (97112 x5 on 60 minutes, a pain diagnosis only) that DAILY_LIMIT, DX_SUPPORT and
    # UNITS_OVER_MINUTES all question: their own amounts add up to more, every total is $200
    from dashboards import data
    from dashboards.data.snapshot import reading

    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(
        folder / "one.csv",
        [row(units_billed="5", minutes="60", total_timed_minutes="60", paid_amount="200.00", diagnosis_codes="M54.50")],
    )
    warehouse = tmp_path / "w.duckdb"
    result = review(folder, warehouse)
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(warehouse), read_only=True) as con:
        own, exposure = con.execute("select sum(amount_at_risk), sum(exposure) from findings").fetchall()[0]
        provider = con.execute("select amount_at_risk from provider_scores where period = 'all'").fetchall()[0][0]
    assert own == 440.0 and exposure == 200.0  # 200 + 200 + 40 against the line's 200
    assert provider == 200.0
    assert "total exposure (each line's amount at risk counted once): 200.00" in result.output
    with reading(warehouse.with_name("w.snapshot.duckdb")) as snap:
        head = data.headline(snap, data.Filters())
    assert head["amount_at_risk"] == 200.0
