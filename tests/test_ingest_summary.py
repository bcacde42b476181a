"""A review's ingest counts (pipelines.ingest.load.ingest_summary): files by outcome, and the rows of the
files actually read, so that rows read = loaded + quarantined in the summary and the run's metadata."""

from pipelines.ingest.load import ingest_summary


def read(status: str, rows_read: int, loaded: int, quarantined: int) -> dict:
    return {
        "source_file": f"{status}.csv",
        "status": status,
        "rows_read": rows_read,
        "rows_loaded": loaded,
        "rows_quarantined": quarantined,
    }


OUTCOMES = [
    read("loaded", 100, 97, 3),
    read("loaded", 50, 50, 0),
    read("rejected", 0, 0, 0),
    {"source_file": "again.csv", "status": "duplicate", "reason": "same content as loaded.csv"},
    {"source_file": "old.csv", "status": "unchanged"},
]


def test_files_are_counted_by_what_became_of_them():
    summary = ingest_summary(OUTCOMES, files_seen=6)
    assert summary["files_seen"] == 6
    assert (summary["files_loaded"], summary["files_rejected"]) == (2, 1)
    assert (summary["files_duplicate"], summary["files_unchanged"]) == (1, 1)


def test_rows_are_those_of_the_files_read_and_reconcile():
    summary = ingest_summary(OUTCOMES, files_seen=5)
    assert (summary["rows_read"], summary["rows_loaded"], summary["rows_quarantined"]) == (150, 147, 3)
    assert summary["rows_read"] == summary["rows_loaded"] + summary["rows_quarantined"]


def test_a_run_that_read_nothing_counts_zero_rows():
    assert ingest_summary([{"source_file": "old.csv", "status": "unchanged"}], files_seen=1)["rows_read"] == 0
