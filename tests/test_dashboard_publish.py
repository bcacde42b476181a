"""Publishing the snapshot: a full copy with snapshot_info, swapped in atomically, never blocking
readers of the previous snapshot, and picked up by the next read."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from dashboards.data.snapshot import SnapshotUnavailable, open_snapshot, reading
from pipelines.warehouse import snapshot as publish_module
from pipelines.warehouse.snapshot import publish_snapshot
from tests.fixtures_warehouse import build_fixture_warehouse


@pytest.fixture()
def warehouse(tmp_path):
    return build_fixture_warehouse(tmp_path / "warehouse.duckdb").path


def test_publish_copies_every_table_and_records_snapshot_info(warehouse, tmp_path):
    target = tmp_path / "published" / "snapshot.duckdb"
    con = duckdb.connect(str(warehouse))
    result = publish_snapshot(con, target)
    expected = {
        t: con.execute(f"select count(*) from {t}").fetchone()[0]
        for (t,) in con.execute("select table_name from duckdb_tables()").fetchall()
    }
    con.close()
    assert result["tables"] == expected
    assert result["snapshot_path"] == str(target.resolve())
    assert result["source_warehouse"] == str(warehouse)
    assert result["taken_at"].tzinfo is not None
    with reading(target) as snap:
        info = snap.info()
        assert info.tables == expected
        assert info.source_warehouse == str(warehouse)
        assert info.taken_at_text().endswith("UTC")
        for table, rows in expected.items():
            assert snap.rows(f"select count(*) from {table}")[0][0] == rows
    assert sorted(p.name for p in target.parent.iterdir()) == ["snapshot.duckdb"], "no temp file left behind"


def test_new_snapshot_replaces_old_while_a_reader_holds_it(warehouse, tmp_path):
    target = tmp_path / "snapshot.duckdb"
    con = duckdb.connect(str(warehouse))
    publish_snapshot(con, target)
    old_reader = open_snapshot(target)  # e.g. a dashboard request in flight
    before = old_reader.rows("select count(*) from findings")[0][0]
    con.execute(
        "insert into findings (rule_id, severity, service_date, detail) "
        "values ('DUPLICATE', 'low', date '2026-02-10', 'added later')"
    )
    publish_snapshot(con, target)  # does not wait for, nor disturb, the reader
    con.close()
    assert old_reader.rows("select count(*) from findings")[0][0] == before
    with reading(target) as fresh:  # the next request sees the new snapshot
        assert fresh.rows("select count(*) from findings")[0][0] == before + 1
    old_reader.close()


def test_target_is_replaced_in_one_step(warehouse, tmp_path, monkeypatch):
    target = tmp_path / "snapshot.duckdb"
    target.write_bytes(b"the previous snapshot")
    seen = {}
    real_replace = os.replace

    def spy(src, dst):
        seen["src_exists"] = os.path.exists(src)
        seen["dst_before"] = Path(dst).read_bytes()
        seen["same_dir"] = os.path.dirname(os.path.abspath(src)) == os.path.dirname(os.path.abspath(dst))
        real_replace(src, dst)

    monkeypatch.setattr(publish_module.os, "replace", spy)
    con = duckdb.connect(str(warehouse))
    publish_snapshot(con, target)
    con.close()
    assert seen == {"src_exists": True, "dst_before": b"the previous snapshot", "same_dir": True}


def test_a_failed_publish_leaves_the_previous_snapshot(warehouse, tmp_path, monkeypatch):
    target = tmp_path / "snapshot.duckdb"
    con = duckdb.connect(str(warehouse))
    publish_snapshot(con, target)
    before = target.read_bytes()

    def boom(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(publish_module, "_fsync", boom)
    with pytest.raises(OSError):
        publish_snapshot(con, target)
    con.close()
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [], "temp file removed"


def test_missing_snapshot_is_reported_not_crashed(tmp_path):
    with pytest.raises(SnapshotUnavailable, match="no snapshot has been published"):
        open_snapshot(tmp_path / "nothing.duckdb")
