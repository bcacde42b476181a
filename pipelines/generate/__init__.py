"""Synthetic claims-line extracts with planted findings and their answer key.

    generate_extract(out_dir, lines=1_000_000, seed=7)   # claims_YYYY_MM.csv per month + answer_key.ndjson
    write_samples(out_dir)                               # the small committed sample set

The answer key lists every finding a correct rules engine should raise on the extract (rule_id and
the rule's grain columns); see ``extract.py`` for its semantics and ``month.py`` for how each plant
is kept from raising any other rule.
"""

from pipelines.generate.extract import DEFAULT_RATES, GenerateSummary, generate_extract
from pipelines.generate.npi import is_valid_npi
from pipelines.generate.samples import write_samples

__all__ = ["DEFAULT_RATES", "GenerateSummary", "generate_extract", "is_valid_npi", "write_samples"]
