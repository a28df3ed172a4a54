"""The ``mnas`` command: describe, latency, calibrate, export, search, runs, reproduce.

Each subcommand is a thin wrapper over the library, so what a notebook does and what the command does are the same.
Errors of the user's making (``mnaslib.errors.UserError``: a bad block string, an unknown provider, a missing phone, a
bad profile, a busy or damaged run directory) and of the user's environment (an ``OSError``: a missing file, no
permission, a full disk) print one line that says what is wrong and how to fix it, and exit with status 2; an
interrupted search says how to resume and exits with 130. Anything else is a bug in mnaslib: its traceback is shown,
followed by a line asking for a report, and the status is 1.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from importlib import metadata

from mnaslib.cli import networks, searches
from mnaslib.errors import UserError
from mnaslib.evaluation.data.base import ENV_CACHE_DIR, cache_dir

EXIT_BUG = 1
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
MAX_LINE = 2000  # an error line is cut here: a value pasted by mistake must not fill the terminal


def _version() -> str:
    try:
        return metadata.version("mnaslib")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mnas", description="MnasNet reproduction toolkit: networks, latency, "
                                     "searches and the notebooks' reproduction")
    parser.add_argument("--version", action="version", version=f"mnaslib {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    networks.add_commands(sub)
    searches.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from mnaslib.search.loop import SearchInterrupted  # lazy: keeps SciPy and pandas out of this module's import

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return args.func(args)
    except BrokenPipeError:  # `mnas describe a1 | head`: the reader has gone, nothing more to say
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (SearchInterrupted, KeyboardInterrupt) as stop:
        print(f"mnas {args.command}: {stop or 'interrupted'}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UserError, OSError) as err:
        print(f"mnas {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception:
        traceback.print_exc()
        print(f"mnas {args.command}: this is a bug in mnaslib {_version()}, not a mistake of yours; please report it "
              "with the traceback above and the command you ran", file=sys.stderr)
        return EXIT_BUG
    finally:
        signal.signal(signal.SIGTERM, previous)


def _terminate(signum, frame) -> None:
    """SIGTERM stops like Ctrl-C: the search marks its unfinished trials for a resume and says how."""
    raise KeyboardInterrupt("terminated")


def _one_line(err: BaseException) -> str:
    """The error as one line; an OSError names its file (``[Errno 28] No space left on device`` alone does not say
    where)."""
    text = str(err).strip() or type(err).__name__
    if isinstance(err, OSError):
        text = err.strerror or text if err.filename else text
        if err.filename and str(err.filename) not in text:
            text = f"{err.filename}: {text}"
        if err.filename2:
            text = f"{text} (and {err.filename2})"
        text += _environment_hint(err)
    text = " ".join(text.split())
    return text if len(text) <= MAX_LINE else f"{text[:MAX_LINE]}... (cut: {len(text):,} characters)"


def _environment_hint(err: OSError) -> str:
    """What to do about an OSError: a link to nowhere says where it points; a file in mnaslib's cache folder names
    the variable that moves it."""
    path = str(err.filename or "")
    hint = ""
    if path and os.path.islink(path) and not os.path.exists(path):
        hint = f"; it is a link to {os.readlink(path)}, which does not exist: create that, or remove the link"
    cache = str(cache_dir())
    if path and (path == cache or path.startswith(cache + os.sep)):
        hint += f"; this is mnaslib's cache folder: set {ENV_CACHE_DIR} to a writable folder (now {cache})"
    return hint


if __name__ == "__main__":
    sys.exit(main())
