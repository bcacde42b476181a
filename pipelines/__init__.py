"""unitreview: utilization review of timed therapy codes (CPT 97112 and its 8-minute-rule group)."""

__version__ = "0.1.0"
