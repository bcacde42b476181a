"""Pytest fixtures shared by the dashboard, report and export tests (imported by name, so that no
conftest.py is needed): a fixture warehouse and its published snapshot."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.fixtures_warehouse import FixtureInfo, build_fixture_warehouse
from pipelines.warehouse.snapshot import publish_snapshot


def publish(warehouse: Path, snapshot: Path) -> dict:
    con = duckdb.connect(str(warehouse))
    try:
        return publish_snapshot(con, snapshot)
    finally:
        con.close()


@pytest.fixture(scope="session")
def fixture_info(tmp_path_factory) -> FixtureInfo:
    return build_fixture_warehouse(tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb")


@pytest.fixture(scope="session")
def snapshot_path(fixture_info, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("published") / "snapshot.duckdb"
    publish(fixture_info.path, target)
    return target
