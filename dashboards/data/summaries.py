"""Derived tables that the overview's filters read, built once per snapshot instead of per query.

A filter by clinic, payer type or discipline needs every finding enriched from its claim lines and
every line's discipline from ``line_units``: joins over all claim lines that take seconds on a large
review. ``dashboards.data.derived`` defines those tables (grouped so that each filter still picks the
same rows); the queries read them through ``frame(snap, names, query, params)``:

* in the app, each snapshot file gets one in-memory DuckDB (the file attached read-only, as every
  request attaches it) that holds the tables, built on first use and kept until a newer snapshot is
  swapped in at the same path; ``prefetch`` builds them in a background thread, e.g. when the
  overview is first shown, so that a filter answers at once;
* a snapshot opened without a known file identity builds them in its own connection, once per open.

Tables live in the in-memory catalog (``memory.main.<name>``), never in the snapshot file.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import duckdb
import polars as pl

from dashboards.data.snapshot import ALIAS, Snapshot, attach_read_only, file_identity

CATALOG = "memory.main"
MAX_CACHED = 4  # snapshot files with tables kept in memory (one per path: an older one is dropped)

# name -> function giving the "select" that fills the table, from the snapshot's schema
Builder = Callable[[Snapshot], str]
_BUILDERS: dict[str, Builder] = {}
_NEEDS: dict[str, tuple[str, ...]] = {}


def register(name: str, builder: Builder, needs: tuple[str, ...] = ()) -> None:
    """A derived table: ``builder`` gives its select (which may read the tables in ``needs``).
    Tables are built in the order they are registered."""
    _BUILDERS[name] = builder
    _NEEDS[name] = needs


def _with_needs(names) -> list[str]:
    out: list[str] = []
    for name in names:
        for need in (*_with_needs(_NEEDS[name]), name):
            if need not in out:
                out.append(need)
    return out


def table(name: str) -> str:
    """The qualified name to use in a query."""
    return f"{CATALOG}.{name}"


class SummaryDatabase:
    """One snapshot file attached read-only in its own in-memory DuckDB, with the derived tables."""

    def __init__(self, path, identity: tuple | None):
        self.identity = identity
        self.con = duckdb.connect(":memory:")
        try:
            attach_read_only(self.con, path)
        except BaseException:
            self.con.close()
            raise
        self.snap = Snapshot(self.con, path, identity)
        self._built: set[str] = set()
        self._locks = {name: threading.Lock() for name in _BUILDERS}
        self._cursor_lock = threading.Lock()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection of this thread's own to the database (requests and the builder run in
        parallel), reading the snapshot's tables by their names."""
        with self._cursor_lock:
            cur = self.con.cursor()
        cur.execute(f"use {ALIAS}")
        return cur

    def ensure(self, *names: str) -> None:
        for name in _with_needs(names):
            if name in self._built:
                continue
            with self._locks[name]:  # one build per table; a second request waits for it
                if name not in self._built:
                    with self._cursor() as cur:
                        cur.execute(f"create or replace table {table(name)} as {_BUILDERS[name](self.snap)}")
                    self._built.add(name)

    def frame(self, query: str, params: dict | None) -> pl.DataFrame:
        with self._cursor() as cur:
            return cur.sql(query, params=params).pl()


_CACHE: OrderedDict[tuple, SummaryDatabase] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def _database(snap: Snapshot) -> SummaryDatabase | None:
    """The shared database of the snapshot's file, or None when the snapshot has no identity (or the
    file was replaced since it was opened): then the tables are built in the snapshot's connection."""
    key = snap.identity
    if key is None:
        return None
    with _CACHE_LOCK:
        db = _CACHE.get(key)
        if db is not None:
            _CACHE.move_to_end(key)
            return db
        try:
            db = SummaryDatabase(snap.path, key)
        except duckdb.Error:
            return None
        if file_identity(snap.path) != key:  # replaced meanwhile: this is not the request's file
            db.con.close()
            return None
        for old in [k for k in _CACHE if k[0] == key[0]]:  # an older snapshot at the same path
            del _CACHE[old]  # closed when no request uses it any more
        _CACHE[key] = db
        while len(_CACHE) > MAX_CACHED:
            _CACHE.popitem(last=False)
        return db


def frame(snap: Snapshot, names: tuple[str, ...], query: str, params: dict | None = None) -> pl.DataFrame:
    """Run ``query`` (which reads the derived tables ``names`` as ``table(name)`` and the snapshot's
    own tables by their names) after building what is missing."""
    db = _database(snap)
    if db is not None:
        db.ensure(*names)
        return db.frame(query, params)
    built = snap.memo.setdefault("summaries_built", set())
    for name in _with_needs(names):
        if name not in built:
            snap.con.execute(f"create or replace table {table(name)} as {_BUILDERS[name](snap)}")
            built.add(name)
    return snap.frame(query, params)


def ready(snap: Snapshot, *names: str) -> bool:
    """Whether the tables (all when none is named) are built, so that reading them costs nothing."""
    names = names or tuple(_BUILDERS)
    if all(n in snap.memo.get("summaries_built", ()) for n in names):
        return True
    db = _CACHE.get(snap.identity) if snap.identity is not None else None
    return db is not None and all(n in db._built for n in names)


class _Identity:
    """What ``_database`` reads of a snapshot (the background thread does not use the request's
    connection)."""

    def __init__(self, path, identity):
        self.path = path
        self.identity = identity


_PREFETCHING: set[tuple] = set()  # snapshot files being built in the background


def prefetch(snap: Snapshot, *names: str) -> threading.Thread | None:
    """Build the derived tables of ``snap``'s file in a background thread (all when no name is given);
    None when there is nothing to do."""
    names = names or tuple(_BUILDERS)
    if snap.identity is None or ready(snap, *names):
        return None
    key = snap.identity
    with _CACHE_LOCK:
        if key in _PREFETCHING:
            return None
        _PREFETCHING.add(key)

    def run() -> None:
        try:
            db = _database(snap_like)
            if db is not None:
                db.ensure(*names)
        except Exception:
            pass
        finally:
            with _CACHE_LOCK:
                _PREFETCHING.discard(key)

    snap_like = _Identity(snap.path, key)
    thread = threading.Thread(target=run, name="unitreview-summaries", daemon=True)
    thread.start()
    return thread


_VALUES: OrderedDict[tuple, object] = OrderedDict()


def remember(snap: Snapshot, key: str, compute: Callable[[], object]):
    """``compute()`` once per snapshot file (e.g. the filters' choices, asked on every page load);
    without a file identity, once per open."""
    if snap.identity is None:
        if key not in snap.memo:
            snap.memo[key] = compute()
        return snap.memo[key]
    full = (snap.identity, key)
    with _CACHE_LOCK:
        if full in _VALUES:
            _VALUES.move_to_end(full)
            return _VALUES[full]
    value = compute()
    with _CACHE_LOCK:
        for old in [k for k in _VALUES if k[1] == key and k[0][0] == snap.identity[0] and k[0] != snap.identity]:
            del _VALUES[old]  # the same path's older snapshot
        _VALUES[full] = value
        while len(_VALUES) > 8 * MAX_CACHED:
            _VALUES.popitem(last=False)
    return value
