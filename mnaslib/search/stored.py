"""Teaching from stored runs: a profile with ``stored_runs: <profile>`` (the packaged ``class``) computes nothing
slow, it reads what ``make reproduce PROFILE=<profile>`` stored.

A lecturer runs the full reproduction the day before; in class every notebook then reads the finished searches and
proxy trainings in ``outputs/<profile>/runs`` and runs in seconds to a few minutes. A search or a training that is
not there is never started behind the lecturer's back (it could take an hour): it is one line saying which command
makes it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from mnaslib.errors import UserError

if TYPE_CHECKING:
    from mnaslib.search.profile import Profile


class StoredRunMissing(UserError):
    """A profile that only reads stored runs was asked for one that was never made (or not finished)."""


def make_command(profile: "Profile") -> str:
    """The command that makes the runs ``profile`` reads."""
    return f"make reproduce PROFILE={profile.stored_runs}"


def missing(profile: "Profile", what: str, where: str | os.PathLike) -> StoredRunMissing:
    """The one-line error for a stored run that is not there."""
    return StoredRunMissing(
        f"the {profile.name} profile only reads stored runs, and {what} is not stored in {where}: make it first "
        f"with `{make_command(profile)}` (its runs land in outputs/{profile.stored_runs}/runs; in Jupyter set "
        f"run_dir to that folder)")


def stored_search(run_dir: Path) -> tuple[dict, int]:
    """The config the search stored in ``run_dir`` was last run with ({} without a store) and how many of its trials
    finished. Read-only."""
    from mnaslib.search.store import STORE_FILENAME, TrialStore  # lazy: keeps pandas out of this module's import

    if not (run_dir / STORE_FILENAME).is_file():
        return {}, 0
    with TrialStore(run_dir / STORE_FILENAME, read_only=True) as store:
        run = store.read()
    return dict(run.config), sum(not t.unfinished for t in run.trials)


def require_finished_search(profile: "Profile", run_dir: Path) -> int:
    """For a stored-runs profile, the number of children of the finished search in ``run_dir``; a
    ``StoredRunMissing`` when it is absent, unfinished, or was searched with other settings than ``profile``'s (a
    stored-runs profile never searches, and must not show another search as this one)."""
    from mnaslib.search.rundir import config_differences  # lazy: keeps pandas out of this module's import

    needed = profile.steps * profile.batch_size
    config, done = stored_search(run_dir)
    wanted = profile.to_dict()
    differences = config_differences({k: v for k, v in config.items() if k in wanted}, wanted,
                                     profile.RESUMABLE_KEYS)
    if config and differences:
        raise missing(profile, f"the search {run_dir.name!r} with these settings (the stored one differs in "
                               f"{', '.join(differences)})", run_dir)
    if done < needed:
        found = f"{done} of its {needed} children" if done else "no search"
        raise missing(profile, f"the search {run_dir.name!r} ({found} found)", run_dir)
    return done
