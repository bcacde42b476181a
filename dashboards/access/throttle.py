"""Sign-in throttling: after too many failed sign-ins for one user name, or from one address, within
a window, sign-in is refused (even with the right password) until the window has passed again.

In process, in memory: the app is one process (Flask's threaded server), and what an attacker gains
from a restart is one more window. Only failures count (a page load or a successful sign-in does
not), a lock lasts a whole window from the failure that set it, and setting it is logged once.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from dataclasses import dataclass

from dashboards.access import sessions

log = logging.getLogger("unitreview.dashboard")
MAX_KEYS = 10_000  # past this many tracked names and addresses, the expired ones are dropped


@dataclass(frozen=True)
class LoginLimits:
    """At most ``per_user`` failed sign-ins for one user name and ``per_address`` from one address
    within ``window_minutes``; the next attempt is refused for ``window_minutes``."""

    per_user: int = 5
    per_address: int = 20
    window_minutes: float = 15.0

    @property
    def window(self) -> float:
        return self.window_minutes * 60.0


def minutes_text(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60.0))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class LoginThrottle:
    def __init__(self, limits: LoginLimits | None = None):
        self.limits = limits or LoginLimits()
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], deque] = {}
        self._locked_until: dict[tuple[str, str], float] = {}

    def wait(self, user: str, address: str) -> float:
        """Seconds until ``user`` may try to sign in from ``address`` (0: now)."""
        now = sessions.clock()
        with self._lock:
            return max(0.0, *(self._locked_until.get(k, 0.0) - now for k in self._keys(user, address)))

    def failed(self, user: str, address: str) -> None:
        """Count a failed sign-in; the failure that reaches a limit locks that user name or address."""
        now = sessions.clock()
        window = self.limits.window
        with self._lock:
            if len(self._failures) > MAX_KEYS:
                self._forget_expired(now)
            for key, limit in zip(
                self._keys(user, address), (self.limits.per_user, self.limits.per_address), strict=True
            ):
                recent = self._failures.setdefault(key, deque())
                recent.append(now)
                while recent and recent[0] <= now - window:
                    recent.popleft()
                if len(recent) >= limit:
                    self._locked_until[key] = now + window
                    recent.clear()
                    what = (
                        f"user {key[1]!r} (from address {address})"
                        if key[0] == "user"
                        else f"address {address} (last tried user {user[:64]!r})"
                    )
                    log.warning(
                        "sign-in locked for %s after %d failed attempts within %s: %s",
                        minutes_text(window),
                        limit,
                        minutes_text(window),
                        what,
                    )

    def succeeded(self, user: str) -> None:
        """A successful sign-in clears the user name's failures (never the address's)."""
        with self._lock:
            self._failures.pop(("user", user), None)

    @staticmethod
    def _keys(user: str, address: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return ("user", user[:64]), ("address", address or "unknown")

    def _forget_expired(self, now: float) -> None:
        window = self.limits.window
        self._failures = {k: q for k, q in self._failures.items() if q and q[-1] > now - window}
        self._locked_until = {k: t for k, t in self._locked_until.items() if t > now}
