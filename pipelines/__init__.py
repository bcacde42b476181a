"""unitreview: utilization review of timed therapy codes (CPT 97112 and its 8-minute-rule group)."""

import os

__version__ = "0.1.0"

# The review frees and rebuilds a month's frames every few seconds: jemalloc keeps freed pages 5 s (polars'
# own 0.5-1 s would fault them in again each month). Set before polars is imported; polars appends it to its
# defaults so it wins; a value the user set is kept.
ALLOCATOR_CONF = "dirty_decay_ms:5000,muzzy_decay_ms:5000"
os.environ.setdefault("_RJEM_MALLOC_CONF", ALLOCATOR_CONF)
