"""Raters' names: who did what.

A name is what a task's history records as the actor of an event and what
config tables (`owner`, `[raters.NAME]`, `[dashboard.users]`) key on. It is
checked once, at the edge (command line, config, dashboard, API), so every
event's actor is one short line.
"""

from __future__ import annotations

import getpass
import unicodedata
from collections.abc import Mapping

NAME_MAX = 64
USER_ENV = "WATCHER_USER"
FALLBACK = "cli"  # when neither $WATCHER_USER nor the login name is known


def check_name(name: str) -> str:
    """`name` stripped, or ValueError saying in one line why it cannot be a rater's name."""
    name = name.strip()
    if not name:
        raise ValueError("a rater's name cannot be empty")
    if any(unicodedata.category(char)[0] == "C" for char in name):
        raise ValueError("a rater's name cannot hold control or invisible formatting characters")
    if len(name) > NAME_MAX:
        raise ValueError(f"a rater's name is at most {NAME_MAX} characters, got {len(name)}")
    return name


def default_name(environ: Mapping[str, str]) -> str:
    """Who runs the command: $WATCHER_USER, then the login name, then "cli"."""
    name = environ.get(USER_ENV, "").strip()
    if name:
        return name
    try:
        login = getpass.getuser()
    except Exception:  # no $USER/$LOGNAME and no passwd entry (a container's uid)
        return FALLBACK
    return login.strip() or FALLBACK
