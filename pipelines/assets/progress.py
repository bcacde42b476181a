"""Progress of a review, for whoever is watching: the CLI's progress bar, or nobody.

Assets report file and stage progress here; the ``unitreview`` command installs a terminal display.
Nothing reported here may carry a patient identifier: file names, stage names and counts only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class ProgressDisplay(Protocol):
    def start(self, stage: str, total: int | None) -> None: ...
    def advance(self, stage: str, note: str) -> None: ...
    def finish(self, stage: str) -> None: ...


class _Quiet:
    def start(self, stage: str, total: int | None) -> None:
        pass

    def advance(self, stage: str, note: str) -> None:
        pass

    def finish(self, stage: str) -> None:
        pass


_display: ProgressDisplay = _Quiet()


@contextmanager
def showing(display: ProgressDisplay) -> Iterator[None]:
    """Route progress to ``display`` for the duration of a run in this process."""
    global _display
    previous, _display = _display, display
    try:
        yield
    finally:
        _display = previous


@contextmanager
def stage(name: str, total: int | None = None) -> Iterator[ProgressDisplay]:
    _display.start(name, total)
    try:
        yield _display
    finally:
        _display.finish(name)
