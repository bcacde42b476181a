"""Scheduled reviews: a sensor on the landing folder and a weekly schedule.

The landing folder is the review's input path (``UNITREVIEW_INPUT`` for ``dagster dev``). The sensor
starts one ingest run per new or changed extract; the schedule runs the whole review, which
recomputes only the service months that new lines touch and republishes the snapshot and report.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from pipelines.assets.ingest import source_name
from pipelines.ingest.extract import sha256_of
from pipelines.ingest.readers import find_extracts
from pipelines.resources import ReviewSettings


def _ingested(database: str) -> set[tuple[str, str]] | None:
    """(source_file, sha256) pairs already read, or None while a review holds the warehouse."""
    if database != ":memory:" and not Path(database).exists():
        return set()
    try:
        with duckdb.connect(database, read_only=True) as con:
            return set(con.execute("select source_file, sha256 from ingest_log").fetchall())
    except duckdb.CatalogException:
        return set()  # a new warehouse has no ingest_log yet
    except (duckdb.IOException, duckdb.ConnectionException):
        return None


def build_landing_sensor(job_name: str, interval_seconds: int) -> dg.SensorDefinition:
    @dg.sensor(
        name="landing_folder_sensor",
        job_name=job_name,
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Starts an ingest run for each new or changed extract in the landing folder.",
    )
    def landing_folder_sensor(
        context: dg.SensorEvaluationContext, review: ReviewSettings, warehouse_db: DuckDBResource
    ):
        root = review.input_root()
        if not root.exists():
            return dg.SkipReason(f"landing folder {root} does not exist")
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        ingested = _ingested(warehouse_db.database)
        if ingested is None:
            return dg.SkipReason("the warehouse is busy with a review; looking again next time")
        requests = []
        for path in find_extracts(root):
            name = source_name(path, root)
            stat = path.stat()
            stamp = f"{stat.st_size}:{stat.st_mtime_ns}"
            if seen.get(name) == stamp:
                continue
            digest = sha256_of(path)
            seen[name] = stamp
            if (name, digest) in ingested:
                continue  # read before (by a review or an earlier run): nothing to do
            requests.append(
                dg.RunRequest(
                    run_key=f"{name}:{digest}",
                    run_config={"ops": {"ingest_extracts": {"config": {"files": [name]}}}},
                    tags={"unitreview/extract": name},
                )
            )
        context.update_cursor(json.dumps(seen, sort_keys=True))
        return requests or dg.SkipReason("no new or changed extracts")

    return landing_folder_sensor
