"""Audit sampling and overpayment extrapolation for a flagged provider (RAT-STATS conventions).

- ``stats``: the pure statistics (no DuckDB, no Dagster): variable and attribute appraisals,
  sample size, allocation to strata and the seeded selection.
- ``frame``: a provider's beneficiary-days (the sampling frame) and the detail of sampled days.
- ``draw``: building the frame, stratifying, allocating, drawing; re-drawing a stored sample.
- ``worksheet``: the auditor's Excel worksheet (formula-safe), reading it back, filling it.
- ``appraise``: the appraisal of a completed worksheet, checked against the stored sample.
- ``store``: the ``audit_samples`` and ``audit_appraisals`` tables (``sql/003_audit.sql``).
- ``commands``: ``draw_sample``, ``appraise_worksheet`` and ``sample_size`` for the command line.

``pipelines/audit/README.md`` states every formula, its source and the exact draw procedure.
"""
