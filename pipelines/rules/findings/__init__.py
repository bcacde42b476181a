"""One module per finding rule; each is a pure ``(lines, units, ref, settings) -> LazyFrame`` in the
FINDINGS schema. ``pipelines.rules.registry`` maps rule ids to them."""
