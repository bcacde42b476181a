"""Running the review job in this process (the same Dagster job the schedules run)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from pipelines.cli.errors import DEBUG, ReviewFailed, err, explain, redacted
from pipelines.cli.progress_bars import RichDisplay


def run_review(input: Path, warehouse: Path, config_path: Path | None, settings) -> tuple[str, dict]:
    import dagster as dg

    from pipelines.assets import progress
    from pipelines.definitions import build_defs

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    # Dagster's error log carries stack traces and exception text (which can quote a data value): the
    # user gets one sentence instead (_failure_reason); UNITREVIEW_DEBUG=1 shows the full log.
    log_level = "ERROR" if DEBUG else "CRITICAL"
    logging.getLogger("dagster").setLevel(log_level)
    defs = build_defs(
        warehouse_path=str(warehouse),
        input_path=str(input),
        config_path=str(config_path) if config_path else None,
        config=settings,
    )
    job = defs.resolve_job_def("review")
    columns = [
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ]
    # the instance is disposed on leaving: its temporary artifact folder is removed then, not left to
    # an interpreter teardown that main() skips
    with (
        dg.DagsterInstance.ephemeral() as instance,
        Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar,
        progress.showing(RichDisplay(bar)),
    ):
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
    if not result.success:
        raise ReviewFailed(_failure_reason(result, warehouse))
    meta: dict = {"step_seconds": _step_seconds(result)}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key.to_user_string() == "claim_lines":
            meta.update({k: v.value for k, v in materialization.metadata.items()})
    return result.run_id, meta


def _step_seconds(result) -> dict[str, float]:
    """Seconds each step of the run took (Dagster's own step durations), in the order they ended."""
    seconds: dict[str, float] = {}
    for event in result.all_events:
        if event.is_step_success:
            seconds[event.step_key] = event.event_specific_data.duration_ms / 1000
    return seconds


def _failure_reason(result, warehouse: Path) -> str:
    """The first failed step's error as one sentence: an operational error (lock, full disk, damaged
    file) in plain words, anything else as the step and the error's first line without literals."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error:
            error = event.step_failure_data.error
            chain, link = [], error
            while link is not None:
                chain.append(link.message)
                link = link.cause or link.context
            known = explain("\n".join(chain), warehouse)
            if known:
                return known
            while error.cause is not None and error.cls_name in {"DagsterExecutionStepExecutionError"}:
                error = error.cause
            first = redacted(error.message)
            hint = "" if DEBUG else " (set UNITREVIEW_DEBUG=1 to see the full error)"
            return f"{event.step_key}: {first or error.cls_name}{hint}"
    return "the run failed"
