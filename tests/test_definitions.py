"""The Dagster definitions load, as `dagster dev` and `dg` load them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pipelines.definitions import build_defs

ROOT = Path(__file__).resolve().parent.parent


def test_one_definitions_object_holds_the_review_assets_checks_and_job(tmp_path):
    defs = build_defs(warehouse_path=str(tmp_path / "w.duckdb"), input_path=str(tmp_path))
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"claim_lines", "quarantine", "ingest_log"} <= keys
    review = defs.resolve_job_def("review")  # raises if there were no such job
    # the one job a schedule or `dagster job execute` starts runs every stage, ingest to report
    assert {key.to_user_string() for key in review.asset_layer.executable_asset_keys} == keys
    checks = {c.name for c in defs.resolve_asset_graph().asset_check_keys}
    assert {"rows_reconcile", "line_keys_unique"} <= checks


@pytest.mark.slow  # a subprocess or a Dagster run
def test_dg_check_defs_passes():
    dg_cli = Path(sys.executable).parent / "dg"
    result = subprocess.run([str(dg_cli), "check", "defs"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_the_dagster_instance_settings_load_and_serialize_warehouse_writes(tmp_path):
    import shutil

    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", tmp_path / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
    finally:
        instance.dispose()


def test_every_warehouse_writer_is_in_the_one_writer_pool(tmp_path):
    defs = build_defs(warehouse_path=str(tmp_path / "w.duckdb"), input_path=str(tmp_path))
    graph = defs.resolve_asset_graph()
    writers = {"claim_lines", "line_units", "provider_scores", "review_runs", "review_snapshot"}
    for key in graph.get_all_asset_keys():
        if key.to_user_string() in writers:
            assert graph.get(key).pools == {"warehouse_writes"}, key
