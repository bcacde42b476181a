"""Server-side sign-in sessions of the review app: revocable, with an idle and an absolute timeout.

The browser's (signed) cookie carries only a random session id; what the id stands for lives here,
in a SQLite file in the app's state folder (``unitreview-dashboard-sessions.sqlite3``), so that
sign-out ends the session at once, a session outlives a restart of the app (as the key file does),
and two processes over the same folder share it. Each row keeps the user name, a fingerprint of the
user's password hash (a changed password ends the user's sessions), when the session started and
when it was last used. Roles are never stored: the guard reads them from the users file on every
request, so a demotion or a removal takes effect on the next request.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

FILE_NAME = "unitreview-dashboard-sessions.sqlite3"
DEFAULT_IDLE_MINUTES = 30.0
DEFAULT_SESSION_HOURS = 12.0
TOUCH_EVERY = 10.0  # seconds: "last used" is written at most this often per session (idle precision)


def clock() -> float:
    """Seconds since the epoch; the one clock sessions and sign-in throttling read (tests move it)."""
    return time.time()


@dataclass(frozen=True)
class SessionPolicy:
    """How long a sign-in lasts: ``idle_minutes`` without a request, ``session_hours`` in all."""

    idle_minutes: float = DEFAULT_IDLE_MINUTES
    session_hours: float = DEFAULT_SESSION_HOURS

    def __post_init__(self):
        if not (self.idle_minutes > 0 and self.session_hours > 0):
            raise ValueError("session timeouts must be positive")

    @property
    def idle_seconds(self) -> float:
        return self.idle_minutes * 60.0

    @property
    def absolute_seconds(self) -> float:
        return self.session_hours * 3600.0


@dataclass(frozen=True)
class Session:
    user: str
    credential: str
    started: float
    seen: float


def credential_fingerprint(password_hash: str) -> str:
    """What a session remembers of the password it was opened with (a changed password ends it)."""
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:32]


def _key(sid: str) -> str:  # the file holds digests of session ids, never the ids a cookie carries
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


class SessionStore:
    """Sessions in SQLite (``path``), or in memory when ``path`` is None (they end with the app)."""

    def __init__(self, path: Path | None, policy: SessionPolicy):
        self.path = path
        self.policy = policy
        self._lock = threading.Lock()
        self._con = sqlite3.connect(
            str(path) if path else ":memory:", check_same_thread=False, isolation_level=None, timeout=10
        )
        with self._lock:
            if path:
                self._con.execute("pragma journal_mode=wal")
            self._con.execute(
                "create table if not exists sessions (key text primary key, user text not null, "
                "credential text not null, started real not null, seen real not null)"
            )

    def _expired(self, started: float, seen: float, now: float) -> bool:
        return now - seen > self.policy.idle_seconds or now - started > self.policy.absolute_seconds

    def start(self, user: str, credential: str) -> str:
        """A new session for ``user``; returns its id (for the cookie)."""
        sid = secrets.token_urlsafe(32)
        now = clock()
        with self._lock:
            self._con.execute(
                "delete from sessions where ? - seen > ? or ? - started > ?",
                (now, self.policy.idle_seconds, now, self.policy.absolute_seconds),
            )
            self._con.execute("insert into sessions values (?, ?, ?, ?, ?)", (_key(sid), user, credential, now, now))
        return sid

    def get(self, sid: str | None) -> Session | None:
        """The live session ``sid`` names (marking it used), or None: unknown, ended or timed out."""
        if not sid or not isinstance(sid, str):
            return None
        now = clock()
        key = _key(sid)
        with self._lock:
            row = self._con.execute(
                "select user, credential, started, seen from sessions where key = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            user, credential, started, seen = row
            if self._expired(started, seen, now):
                self._con.execute("delete from sessions where key = ?", (key,))
                return None
            if now - seen >= TOUCH_EVERY:
                self._con.execute("update sessions set seen = ? where key = ?", (now, key))
                seen = now
        return Session(user=user, credential=credential, started=started, seen=seen)

    def end(self, sid: str | None) -> None:
        if sid and isinstance(sid, str):
            with self._lock:
                self._con.execute("delete from sessions where key = ?", (_key(sid),))
