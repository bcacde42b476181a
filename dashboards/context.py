"""What a request of the app knows: its settings, who is looking, and the snapshot it reads.

The snapshot is opened read-only once per request (``flask.g``) and closed when the request ends,
so a snapshot published while the app runs shows on the next page load.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import flask

from dashboards import data
from dashboards.access import privacy
from dashboards.access.privacy import Viewer
from dashboards.access.sessions import SessionStore
from dashboards.access.throttle import LoginThrottle
from dashboards.data.snapshot import Snapshot, open_snapshot
from dashboards.users import UsersFile

CONFIG_KEY = "UNITREVIEW"


@dataclass(frozen=True)
class AppSettings:
    snapshot: Path
    users: UsersFile | None  # None: single-user local mode
    token_key: bytes
    sessions: SessionStore | None = None
    throttle: LoginThrottle | None = None

    @property
    def local_mode(self) -> bool:
        return self.users is None


def settings() -> AppSettings:
    return flask.current_app.config[CONFIG_KEY]


def viewer() -> Viewer:
    """The signed-in user; in local mode (no users file) the single user is an auditor."""
    s = settings()
    if s.local_mode:
        return Viewer(role="auditor", key=s.token_key, name=None)
    # the guard puts the signed-in user and the role the users file gives now in flask.g; a request
    # context the guard did not see (tests rendering a layout) reads a plain session instead
    name, role = flask.g.get("unitreview_user") or (flask.session.get("user"), flask.session.get("role"))
    if role not in ("manager", "auditor"):
        role = "manager"  # never more than the least privileged role when unsure
    return Viewer(role=role, key=s.token_key, name=name)


def snapshot() -> Snapshot:
    """The request's read-only snapshot (raises ``SnapshotUnavailable`` when none is published)."""
    snap = flask.g.get("unitreview_snapshot")
    if snap is None:
        snap = open_snapshot(settings().snapshot)
        flask.g.unitreview_snapshot = snap
    return snap


_PATIENT_IDS: dict[tuple, list[str]] = {}


def known_patient_ids(snap: Snapshot) -> list[str]:
    """Every patient id of the snapshot, for scrubbing text shown to managers; cached until the
    snapshot file changes (path, size, modification time)."""
    try:
        st = os.stat(snap.path)
        key = (str(snap.path), st.st_size, st.st_mtime_ns, st.st_ino)
    except OSError:
        return data.all_patient_ids(snap)
    ids = _PATIENT_IDS.get(key)
    if ids is None:
        ids = data.all_patient_ids(snap)
        _PATIENT_IDS.clear()
        _PATIENT_IDS[key] = ids
    return ids


def known_for(snap: Snapshot, viewer: Viewer) -> list[str]:
    """The patient ids to mask for this viewer (none to look up for an auditor)."""
    return [] if viewer.sees_patients else known_patient_ids(snap)


def masked(snap: Snapshot, viewer: Viewer, text):
    """A label, name or notice from the snapshot as ``viewer`` may see it (``privacy.protect_text``)."""
    return privacy.protect_text(text, viewer, known_for(snap, viewer))


def close_snapshot(_exc=None) -> None:
    snap = flask.g.pop("unitreview_snapshot", None)
    if snap is not None:
        snap.close()
