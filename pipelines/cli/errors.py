"""What the command prints when it cannot go on: one sentence, never a traceback nor a data value."""

from __future__ import annotations

import os
import re
from pathlib import Path

import typer
from rich.console import Console

out = Console()
err = Console(stderr=True)


class ReviewFailed(Exception):
    """The review could not complete; the message is the sentence the user sees."""


# UNITREVIEW_DEBUG=1 shows Dagster's error log and Python tracebacks (they may quote data values).
DEBUG = os.environ.get("UNITREVIEW_DEBUG", "") not in ("", "0")


def fail(message: str, code: int = 1) -> None:
    """Say ``message`` on stderr and end the command with exit status ``code``."""
    err.print("[bold red]unitreview:[/] ", end="", highlight=False)
    err.print(message, highlight=False, soft_wrap=True, markup=False)
    raise typer.Exit(code)


def explain(text: str, warehouse: Path) -> str | None:
    """One sentence for an operational error (lock, damaged file, full disk, no permission), or None."""
    if "Could not set lock" in text or "Conflicting lock" in text:
        pid = re.search(r"PID (\d+)", text)
        return (
            f"the warehouse {warehouse} is open in another program (pid {pid.group(1) if pid else '?'}), "
            "such as a DuckDB shell, a notebook or dagster dev; close it and run the review again"
        )
    damaged = ("not a valid DuckDB database file", "Corrupt database file", "checksum", "Could not read enough bytes")
    if any(sign in text for sign in damaged):
        return (
            f"{warehouse} is not a usable DuckDB warehouse (the file is damaged or of another kind); "
            "restore it from a backup or give another --warehouse path"
        )
    if "No space left on device" in text or "Disk quota exceeded" in text:
        return (
            f"the disk holding {warehouse} is full; free some space and run the review again "
            "(what was committed is kept, and the rerun continues from there)"
        )
    if "File too large" in text:
        return (
            f"the warehouse {warehouse} cannot grow any larger on this system (file too large); "
            "free some space or raise the file size limit and run the review again"
        )
    about_warehouse = str(warehouse) in text or warehouse.name in text or "Errno" not in text
    if ("Read-only file system" in text or "Permission denied" in text) and about_warehouse:
        return f"the warehouse {warehouse} cannot be written (read-only or permission denied)"
    if "Is a directory" in text and about_warehouse:
        return (
            f"the warehouse path {warehouse} is a folder: give a file name, such as {warehouse / 'unitreview.duckdb'}"
        )
    return None


def redacted(text: str, limit: int = 200) -> str:
    """An unexpected error's first line with quoted and bracketed literals taken out: a library's
    message can quote a cell value, and cells may be PHI."""
    lines = text.strip().splitlines()
    line = lines[0] if lines else ""
    line = re.sub(r"'[^']*'|\"[^\"]*\"|\[[^\]]*\]|`[^`]*`", "…", line)
    return line[:limit]
