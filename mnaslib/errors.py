"""The one exception type for a mistake of the user's, and the helpers that keep its message to one clear line.

``mnas`` prints a ``UserError`` (a bad value, a bad file, a busy or damaged run directory) as one line and exits
with status 2; any other exception is a bug in mnaslib and is shown with its traceback and a request to report it.
So a user error must be named where it is detected: raise ``UserError`` there, or convert a parser's ``ValueError``
at the boundary where user input enters (``user_input``). ``UserError`` is a ``ValueError``, so library callers
that catch ``ValueError`` keep working.
"""
from __future__ import annotations

import operator
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SHOWN_CHARACTERS = 120  # an echoed value longer than this is cut: a 200 KB value must not fill the terminal


class UserError(ValueError):
    """Input that cannot be used, with a message that says what is wrong and how to fix it (one line)."""


class ProfileError(UserError):
    """A profile that cannot run: unknown key, wrong type, bad value, unreadable YAML. One line, with the fix."""


def shown(value: Any, limit: int = SHOWN_CHARACTERS) -> str:
    """``repr(value)`` for an error message, cut to ``limit`` characters with the full length noted."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


def as_int(value: Any, what: str) -> int:
    """An integer (Python or numpy) as ``int``; anything else, floats and booleans included, is a ``ValueError``
    naming ``what``: ``steps: 1.5`` or ``True`` is a mistake, not a count."""
    if isinstance(value, bool):
        raise UserError(f"{what} must be an integer, got {shown(value)}")
    try:
        return operator.index(value)
    except TypeError:
        raise UserError(f"{what} must be an integer, got {shown(value)}") from None


@contextmanager
def user_input(what: str = "") -> Iterator[None]:
    """Inside: a ``ValueError`` (a parser refusing what the user gave it) becomes a ``UserError``, prefixed by
    ``what`` when given. Other exceptions pass unchanged: they are bugs."""
    try:
        yield
    except UserError:
        raise
    except (ValueError, RecursionError) as err:
        text = str(err) if not isinstance(err, RecursionError) else "it is nested too deeply"
        raise UserError(f"{what}: {text}" if what else text) from None
