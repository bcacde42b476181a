"""The rules engine: pure Polars functions from ``claim_lines`` to ``line_units`` and ``findings``.

    ref = Reference.load()                      # seed tables (pipelines/reference/*.csv)
    settings = RuleSettings()                   # defaults of the contract
    units = line_units(lines, ref, settings).collect(engine="in-memory")   # one row per line
    found = findings(lines, units.lazy(), ref, settings).collect(engine="in-memory")

No Dagster, no DuckDB: frames in, frames out. Collect with the in-memory engine, as the review does:
polars 2.1's streaming engine can panic on a large month's findings.
"""

from pipelines.rules.chart import units_for_minutes
from pipelines.rules.findings._common import FINDINGS_SCHEMA
from pipelines.rules.reference import Reference, load_mue_table
from pipelines.rules.registry import RULES, findings
from pipelines.rules.settings import RuleSettings
from pipelines.rules.units import LINE_UNITS_SCHEMA, line_units

__all__ = [
    "FINDINGS_SCHEMA",
    "LINE_UNITS_SCHEMA",
    "RULES",
    "Reference",
    "RuleSettings",
    "findings",
    "line_units",
    "load_mue_table",
    "units_for_minutes",
]
