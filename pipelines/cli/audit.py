"""The auditors' commands: ``unitreview sample``, ``appraise`` and ``sample-size`` (pipelines/audit).

Registered on the main command by ``register``; they print sample item numbers and totals, never a
patient identifier (the worksheet itself names patients: auditors need them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

DATE = ["%Y-%m-%d"]


def register(app: typer.Typer, out: Console, fail: Callable[..., None]) -> None:

    @app.command()
    def sample(
        warehouse: Annotated[Path, typer.Option("--warehouse", help="The DuckDB warehouse a review wrote")],
        provider: Annotated[str, typer.Option("--provider", help="The rendering NPI to audit")],
        seed: Annotated[
            int, typer.Option("--seed", min=0, help="Random seed, recorded so that anyone can reproduce the draw")
        ],
        out_file: Annotated[
            Path, typer.Option("--out", help="The auditor's worksheet to write (.xlsx; it names patients)")
        ],
        size: Annotated[
            int | None, typer.Option("--size", min=1, help="Sample size (allocated proportionally over the strata)")
        ] = None,
        strata: Annotated[
            str | None, typer.Option("--strata", help="Bounds of examined amounts, e.g. 0,100,250")
        ] = None,
        stratum_sizes: Annotated[
            str | None, typer.Option("--stratum-sizes", help="Sizes per stratum instead of --size, e.g. 10,20,all")
        ] = None,
        date_from: Annotated[
            dt.datetime | None, typer.Option("--from", formats=DATE, help="First service date")
        ] = None,
        date_to: Annotated[
            dt.datetime | None, typer.Option("--to", formats=DATE, help="Last service date (inclusive)")
        ] = None,
    ) -> None:
        """Draw a random sample of a provider's beneficiary-days and write the audit worksheet."""
        import duckdb

        from pipelines.audit.commands import draw_sample

        try:
            summary = draw_sample(
                warehouse,
                provider,
                seed=seed,
                size=size,
                strata=strata,
                stratum_sizes=stratum_sizes,
                start=date_from.date() if date_from else None,
                end=date_to.date() if date_to else None,
                out=out_file,
            )
        except (ValueError, LookupError, FileNotFoundError) as exc:
            fail(str(exc), 2)
        except duckdb.Error as exc:  # e.g. the warehouse is open in a review
            fail(f"cannot use the warehouse {warehouse}: {exc}")
        for line in summary.summary_lines():
            out.print(line, highlight=False)

    @app.command()
    def appraise(
        worksheet: Annotated[Path, typer.Option("--worksheet", help="The completed audit worksheet (.xlsx)")],
        warehouse: Annotated[
            Path | None, typer.Option("--warehouse", help="Check against the stored sample and store the appraisal")
        ] = None,
    ) -> None:
        """Appraise a completed audit worksheet: overpayment estimate, limits, "at least $X"."""
        import duckdb

        from pipelines.audit.commands import appraise_worksheet

        try:
            summary = appraise_worksheet(worksheet, warehouse)
        except (ValueError, LookupError, FileNotFoundError) as exc:  # AppraisalError is a ValueError
            fail(str(exc), 2)
        except duckdb.Error as exc:
            fail(f"cannot use the warehouse {warehouse}: {exc}")
        for line in summary.summary_lines():
            out.print(line, highlight=False)

    @app.command("sample-size")
    def sample_size_command(
        frame_size: Annotated[
            int | None, typer.Option("--frame-size", min=1, help="N; or give --warehouse and --provider")
        ] = None,
        warehouse: Annotated[Path | None, typer.Option("--warehouse")] = None,
        provider: Annotated[str | None, typer.Option("--provider")] = None,
        date_from: Annotated[dt.datetime | None, typer.Option("--from", formats=DATE)] = None,
        date_to: Annotated[dt.datetime | None, typer.Option("--to", formats=DATE)] = None,
        probe: Annotated[Path | None, typer.Option("--probe", help="A completed probe worksheet")] = None,
        mean: Annotated[
            float | None, typer.Option("--mean", help="Expected mean overpayment per beneficiary-day")
        ] = None,
        sd: Annotated[float | None, typer.Option("--sd", help="Its standard deviation")] = None,
        error_rate: Annotated[
            float | None, typer.Option("--error-rate", help="Expected share of beneficiary-days in error")
        ] = None,
        confidence: Annotated[float, typer.Option("--confidence")] = 0.90,
        precision: Annotated[float, typer.Option("--precision", help="Relative precision (0.25 = ±25%)")] = 0.25,
    ) -> None:
        """The sample size for a target precision (OIG: 90% confidence, 25% precision)."""
        from pipelines.audit.commands import sample_size

        try:
            res = sample_size(
                frame_size,
                warehouse=warehouse,
                npi=provider,
                start=date_from.date() if date_from else None,
                end=date_to.date() if date_to else None,
                mean=mean,
                sd=sd,
                error_rate=error_rate,
                probe_worksheet=probe,
                confidence=confidence,
                precision=precision,
            )
        except (ValueError, LookupError, FileNotFoundError) as exc:
            fail(str(exc), 2)
        out.print(
            f"n = {res.n} of N = {res.population_size} (n0 = {res.n0:.1f} before the finite population correction; "
            f"{res.confidence:.0%} confidence, ±{res.precision:.0%} precision, z = {res.z:.3f}, mean {res.mean:.4g}, "
            f"sd {res.sd:.4g} from {res.basis}); {res.formula}",
            highlight=False,
        )
