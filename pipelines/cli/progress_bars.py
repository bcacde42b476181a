"""Terminal progress bars for the stages the assets report (``pipelines.assets.progress``)."""

from __future__ import annotations

from rich.progress import Progress


class RichDisplay:
    """Terminal progress: one bar per stage, advanced per file (file names only, never PHI)."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.tasks: dict[str, int] = {}

    def start(self, stage: str, total: int | None) -> None:
        self.tasks[stage] = self.progress.add_task(stage, total=total)

    def advance(self, stage: str, note: str) -> None:
        self.progress.update(self.tasks[stage], advance=1, description=f"{stage}: {note}")

    def finish(self, stage: str) -> None:
        task = self.tasks[stage]
        self.progress.update(
            task,
            description=stage,
            completed=self.progress.tasks[task].total or 1,
            total=self.progress.tasks[task].total or 1,
        )
