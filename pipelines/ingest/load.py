"""Loading extracts into the warehouse: each file committed with its rows or not at all, in order, from
one thread, while worker threads hash and read the next files."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import duckdb

from pipelines.assets.progress import ProgressDisplay
from pipelines.ingest.extract import (
    UNREADABLE,
    FileResult,
    PreparedFile,
    finish_file,
    prepare_file,
    rejected_file,
    sha256_of,
)
from pipelines.ingest.readers import extract_format
from pipelines.warehouse import ingest_log


def _digest(path: Path, logged: dict[tuple[int, int], str]) -> tuple[str, str | None, tuple[int, int] | None]:
    """(SHA-256, None, read) where ``read`` is the (size, modification time in ns) of a file read and
    hashed now, None for one not read; or (UNREADABLE, why, None) when the file cannot be read (e.g.
    permission denied). A file whose (size, modification time) is in ``logged`` (its name's entries
    in the ingest log) is not read: its logged SHA-256 is taken, as git's index does; any write to
    the file changes its modification time, and it is then read and hashed."""
    try:
        stat = path.stat()
        seen = (stat.st_size, stat.st_mtime_ns)
        if seen in logged:
            return logged[seen], None, None
        return sha256_of(path), None, seen
    except OSError as exc:  # this file is rejected, the others go on
        return UNREADABLE, f"cannot be read: {exc.strerror or type(exc).__name__}", None


def _drop(work: Future | None) -> None:
    """Work done ahead for a file that is not loaded after all: cancelled if not started, else its
    result (or error) is ignored."""
    if work is not None:
        work.cancel()


def load_extracts(
    con: duckdb.DuckDBPyConnection,
    files: list[Path],
    names: list[str],
    profiles,
    run_id: str,
    shown: ProgressDisplay,
    log,
) -> list[dict]:
    """Load ``files`` (named ``names`` in the warehouse) unless already ingested or a duplicate
    delivery; one outcome per file (its ingest-log row, or status unchanged / duplicate). ``log``
    takes ``info`` and ``warning`` lines (file names and counts only)."""
    outcomes: list[dict] = []
    # Files commit one by one, in order, each in its own transaction, from this thread only. To use
    # both cores, worker threads work ahead: one hashes the next files, one reads and validates the
    # next file to load (prepare_file: no warehouse) while this thread writes the current one.
    # Whether a file is loaded is still decided at its turn, against the warehouse as it is then;
    # work done ahead for a file that turns out unchanged or a duplicate is dropped, and an error
    # raised ahead is raised at that file's turn.
    hasher = ThreadPoolExecutor(1, thread_name_prefix="ingest-hash")
    reader = ThreadPoolExecutor(1, thread_name_prefix="ingest-read")
    try:
        digests: dict[int, Future] = {}
        ahead: dict[int, Future] = {}

        def digest_of(i: int) -> Future:
            """File i's (sha256, unreadable reason), the two files after it hashed meanwhile."""
            for j in range(i, min(i + 3, len(files))):
                if j not in digests:
                    digests[j] = hasher.submit(_digest, files[j], logged.get(names[j], {}))
            return digests[i]

        lookup = ingest_log.existing_keys(con)
        logged = ingest_log.logged_file_stats(con)

        def read_ahead(i: int) -> None:
            """Start preparing file i if, as the warehouse is now, it is a file to load."""
            if i >= len(files) or i in ahead or digest_of(i).exception() is not None:
                return
            digest, unreadable, _ = digest_of(i).result()
            if unreadable or ingest_log.known_file(con, names[i], digest):
                return
            if ingest_log.loaded_as(con, digest) is None:
                ahead[i] = reader.submit(prepare_file, files[i], names[i], profiles, sha256=digest)

        for i, path in enumerate(files):
            name = names[i]
            digest, unreadable, read = digest_of(i).result()
            mtime_ns = read[1] if read else None
            if ingest_log.known_file(con, name, digest):
                _drop(ahead.pop(i, None))
                if read:  # read again (touched, or logged before the stat was kept): not next time
                    ingest_log.note_file_stat(con, name, digest, *read)
                outcomes.append({"source_file": name, "status": "unchanged"})
                shown.advance("ingest", f"{name}: already ingested")
                continue
            earlier = ingest_log.loaded_as(con, digest)
            if earlier is not None:
                _drop(ahead.pop(i, None))
                ingest_log.write_duplicate_delivery(
                    con, name, digest, extract_format(path), path.stat().st_size, earlier, run_id, mtime_ns
                )
                outcomes.append({"source_file": name, "status": "duplicate", "reason": f"same content as {earlier}"})
                shown.advance("ingest", f"{name}: duplicate of {earlier}")
                continue
            if unreadable:
                result = rejected_file(name, extract_format(path), unreadable)
            else:
                future = ahead.pop(i, None) or reader.submit(prepare_file, path, name, profiles, sha256=digest)
                read_ahead(i + 1)  # the next file is read while this one is finished and written
                prepared: PreparedFile | FileResult = future.result()
                result = prepared if isinstance(prepared, FileResult) else finish_file(prepared, lookup)
                del prepared
            ingest_log.write_file_result(con, result, run_id, mtime_ns)
            outcomes.append({**result.log_row(), "sha256": None})
            if result.status == "rejected":
                log.warning(f"rejected {name}: {result.reason}")
            else:
                log.info(
                    f"{name}: {result.rows_read} rows read, {result.rows_loaded} loaded, "
                    f"{result.rows_quarantined} quarantined"
                )
            shown.advance("ingest", f"{name}: {result.status}")
            del result
    finally:
        hasher.shutdown(wait=True, cancel_futures=True)
        reader.shutdown(wait=True, cancel_futures=True)

    return outcomes


def ingest_summary(outcomes: list[dict], files_seen: int) -> dict:
    """The run's counts: files by outcome, and rows read / loaded / quarantined of the files read."""
    read = [o for o in outcomes if o["status"] in ("loaded", "rejected")]
    return {
        "files_seen": files_seen,
        "files_loaded": sum(o["status"] == "loaded" for o in outcomes),
        "files_rejected": sum(o["status"] == "rejected" for o in outcomes),
        "files_duplicate": sum(o["status"] == "duplicate" for o in outcomes),
        "files_unchanged": sum(o["status"] == "unchanged" for o in outcomes),
        "rows_read": sum(o["rows_read"] for o in read),
        "rows_loaded": sum(o["rows_loaded"] for o in read),
        "rows_quarantined": sum(o["rows_quarantined"] for o in read),
    }
