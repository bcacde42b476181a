"""The review lock: one review writes a warehouse at a time (an advisory ``flock`` on ``<warehouse>.lock``)."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipelines.cli.errors import err, explain


def lock_path(warehouse: Path) -> Path:
    """warehouse/unitreview.duckdb -> warehouse/unitreview.duckdb.lock (the review lock's file)."""
    resolved = warehouse.resolve()
    return resolved.with_name(resolved.name + ".lock")


class WarehouseBusy(Exception):
    def __init__(self, pid: str | None):
        super().__init__(pid)
        self.pid = pid


class LockUnavailable(Exception):
    """The lock file cannot be created: the warehouse's folder cannot be written."""


@contextmanager
def review_lock(warehouse: Path, wait: float) -> Iterator[None]:
    """Hold ``<warehouse>.lock`` (an advisory ``flock``) for a whole review: one review writes a
    warehouse at a time. A second review waits up to ``wait`` seconds, then raises WarehouseBusy with
    the holder's pid. The lock goes with the process, also when it is killed."""
    try:
        fd = os.open(lock_path(warehouse), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise LockUnavailable(
            explain(str(exc), warehouse) or f"the warehouse {warehouse} cannot be written ({exc.strerror})"
        ) from None
    try:
        deadline = time.monotonic() + wait
        said = False
        blank_until = 0.0
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or None
                if holder is None and time.monotonic() < (blank_until := blank_until or time.monotonic() + 2.0):
                    # A holder writes its pid just after taking the lock and clears it just before
                    # letting go: an empty file means one of those moments, so try the lock again.
                    time.sleep(0.01)
                    continue
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(holder) from None
                if not said:
                    err.print(
                        f"unitreview: waiting up to {wait:g} s for another review of {warehouse} (pid {holder or '?'}) to finish",
                        highlight=False,
                        markup=False,
                        soft_wrap=True,
                    )
                    said = True
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
