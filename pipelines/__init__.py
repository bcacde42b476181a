"""unitreview: utilization review of timed therapy codes (CPT 97112 and its 8-minute-rule group)."""

import os

__version__ = "0.1.0"

# Polars' allocator (jemalloc) hands freed pages back to the OS after 0.5-1 s (polars sets
# "dirty_decay_ms:500,muzzy_decay_ms:1000" on import and appends this variable to it, so the later
# value wins). The review frees and rebuilds a month's frames every few seconds, and the pages were
# faulted in again each time: kernel time was 27 s of a 10M-line review's 168 s of CPU. Kept 5 s,
# the review ran in 86.7 / 88.6 s against 94.9-96.1 s, kernel time 18.8 s, peak memory 3.0-3.1 GB
# against 2.8 GB (docs/performance.md). Set before anything imports polars; a value the user set is
# kept.
ALLOCATOR_CONF = "dirty_decay_ms:5000,muzzy_decay_ms:5000"
os.environ.setdefault("_RJEM_MALLOC_CONF", ALLOCATOR_CONF)
