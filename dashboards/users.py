"""The users file: who may sign in to the review app, with which role.

TOML, one table per user::

    [users.alice]
    role = "manager"          # or "auditor"
    password_hash = "scrypt:32768:8:1$..."   # werkzeug.security

Add or change a user (the password is asked twice, or read from stdin with --password-stdin)::

    python -m dashboards.users add alice --role manager [--file users.toml]
    python -m dashboards.users remove alice [--file users.toml]
    python -m dashboards.users list [--file users.toml]

Without a users file the app runs in single-user local mode, as an auditor, on 127.0.0.1.

The running app re-reads the file when it changes (``UsersFile``): a removed user, a changed role or
password takes effect on the next request.
"""

from __future__ import annotations

import argparse
import functools
import getpass
import json
import logging
import os
import re
import secrets
import sys
import threading
import tomllib
from collections import Counter
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

ROLES = ("manager", "auditor")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
DEFAULT_FILE = Path("users.toml")


def load_users(path: Path) -> dict[str, dict]:
    """``{name: {"role", "password_hash"}}``; raises ValueError on an unknown role or a missing hash."""
    with open(path, "rb") as fh:
        doc = tomllib.load(fh)
    users = doc.get("users", {})
    out = {}
    for name, entry in users.items():
        role = entry.get("role")
        if role not in ROLES:
            raise ValueError(f"user {name}: role must be one of {ROLES}, not {role!r}")
        if not entry.get("password_hash"):
            raise ValueError(f"user {name}: no password_hash")
        out[name] = {"role": role, "password_hash": entry["password_hash"]}
    return out


def hash_method(password_hash: str) -> str:
    """The method and parameters of a werkzeug hash: "scrypt:32768:8:1$salt$hash" -> "scrypt:32768:8:1"."""
    return password_hash.split("$", 1)[0]


@functools.lru_cache(maxsize=8)
def dummy_hash(method: str) -> str:
    """A hash of a random password made with ``method``: checked for an unknown user name, so that
    it costs the same single check as a known name (precomputed when a users file is read)."""
    return generate_password_hash(secrets.token_urlsafe(16), method=method)


def usual_method(users: dict[str, dict]) -> str:
    """The method and parameters most of the users' hashes have (werkzeug's default for none)."""
    methods = Counter(hash_method(e["password_hash"]) for e in users.values())
    return methods.most_common(1)[0][0] if methods else hash_method(generate_password_hash("x"))


def authenticate(users: dict[str, dict], name: str, password: str) -> str | None:
    """The user's role when the password matches, else None. Exactly one hash check either way: an
    unknown name is checked against a dummy hash of the users' own method and parameters."""
    entry = users.get(name)
    password_hash = entry["password_hash"] if entry else dummy_hash(usual_method(users))
    matches = check_password_hash(password_hash, password)
    return entry["role"] if entry is not None and matches else None


class UsersFile:
    """The users file as the running app sees it: read again whenever it changes (modification time,
    size, inode), so that removing a user or changing a role needs no restart. A file that is
    missing or invalid lets nobody in (and says so once in the log) until it is fixed."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._users: dict[str, dict] = {}
        self._users = self.current(strict=True)

    def current(self, strict: bool = False) -> dict[str, dict]:
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError as exc:
            if strict:
                raise
            return self._failed(("missing",), f"cannot read the users file {self.path}: {exc.strerror}")
        if stamp == self._stamp:
            return self._users
        with self._lock:
            if stamp != self._stamp:
                try:
                    users = load_users(self.path)
                except (OSError, ValueError, tomllib.TOMLDecodeError) as exc:
                    if strict:
                        raise
                    return self._failed(stamp, f"the users file {self.path} is invalid, nobody can sign in: {exc}")
                dummy_hash(usual_method(users))  # precomputed here, not during a sign-in
                self._users, self._stamp = users, stamp
        return self._users

    def _failed(self, stamp: tuple, message: str) -> dict[str, dict]:
        with self._lock:
            if self._stamp != stamp:
                logging.getLogger("unitreview.dashboard").error(message)
                self._users, self._stamp = {}, stamp
        return {}


def save_users(path: Path, users: dict[str, dict]) -> None:
    lines = ["# unitreview app users: python -m dashboards.users add NAME --role manager|auditor", ""]
    for name in sorted(users):
        lines += [
            f"[users.{name}]",
            f"role = {json.dumps(users[name]['role'])}",
            f"password_hash = {json.dumps(users[name]['password_hash'])}",
            "",
        ]
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def add_user(path: Path, name: str, role: str, password: str) -> None:
    if not NAME_PATTERN.match(name):
        raise ValueError("a user name is 1-64 letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    if not password:
        raise ValueError("empty password")
    users = load_users(path) if path.exists() else {}
    users[name] = {"role": role, "password_hash": generate_password_hash(password)}
    save_users(path, users)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.users", description="Manage the review app's users.")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="add a user or change a user's role and password")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--file", type=Path, default=DEFAULT_FILE)
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin's first line")
    rm = sub.add_parser("remove", help="remove a user")
    rm.add_argument("name")
    rm.add_argument("--file", type=Path, default=DEFAULT_FILE)
    ls = sub.add_parser("list", help="list users and roles")
    ls.add_argument("--file", type=Path, default=DEFAULT_FILE)
    args = parser.parse_args(argv)
    try:
        if args.command == "add":
            if args.password_stdin:
                password = sys.stdin.readline().rstrip("\n")
            else:
                password = getpass.getpass(f"password for {args.name}: ")
                if password != getpass.getpass("again: "):
                    print("the passwords differ", file=sys.stderr)
                    return 1
            add_user(args.file, args.name, args.role, password)
            print(f"{args.name}: {args.role} in {args.file}")
        elif args.command == "remove":
            users = load_users(args.file)
            if users.pop(args.name, None) is None:
                print(f"no user {args.name} in {args.file}", file=sys.stderr)
                return 1
            save_users(args.file, users)
        else:
            for name, entry in sorted(load_users(args.file).items()):
                print(f"{name}\t{entry['role']}")
    except (OSError, ValueError, tomllib.TOMLDecodeError) as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
