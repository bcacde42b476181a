"""The review app's secret key: it signs the session cookie and keys the patient tokens in URLs, so
the same key after a restart keeps sign-ins and patient-day links valid.

Precedence: a key given to ``create_app``, then ``UNITREVIEW_SECRET_KEY``, then the key file
``unitreview-dashboard.key`` in the app's state folder (by default the snapshot's folder): 32 random
bytes, created once with mode 0600 and reused. A key file that others may read is refused (it may
have leaked). When the folder cannot be written, a random key is drawn for this run, with a warning:
sessions and links then last until the app stops.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
from pathlib import Path

log = logging.getLogger("unitreview.dashboard")
FILE_NAME = "unitreview-dashboard.key"
ENV = "UNITREVIEW_SECRET_KEY"
KEY_BYTES = 32


class KeyFileError(RuntimeError):
    """The key file exists but cannot be used (readable by others, unreadable, too short)."""


def app_secret(given: str | bytes | None, state_dir: Path | None) -> tuple[bytes, Path | None]:
    """The secret the app runs with, and the key file it came from (None: given, env, or drawn)."""
    secret = given or os.environ.get(ENV)
    if secret:
        return (secret.encode() if isinstance(secret, str) else secret), None
    if state_dir is not None:
        path = Path(state_dir) / FILE_NAME
        try:
            return load_or_create(path), path
        except OSError as exc:  # a read-only or missing folder: the app still runs, on a key of its own
            log.warning(
                "cannot keep the key file %s (%s): drew a key for this run only (sessions and "
                "patient-day links end when the app stops; set %s or make the folder writable)",
                path,
                exc.strerror or exc,
                ENV,
            )
    return secrets.token_bytes(KEY_BYTES), None


def load_or_create(path: Path) -> bytes:
    """The key in ``path``, created (mode 0600, whole or not at all) when there is none."""
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(KEY_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # another process made the key first: that key is used
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> bytes:
    st = os.stat(path)
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"the key file {path} may be read by others (mode {stat.S_IMODE(st.st_mode):o}): "
            f"chmod 600 it, or delete it to draw a new key (signing everyone out)"
        )
    key = path.read_bytes()
    if len(key) < KEY_BYTES:
        raise KeyFileError(f"the key file {path} holds {len(key)} bytes, not {KEY_BYTES}: delete it to draw a new key")
    return key
