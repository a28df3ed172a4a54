"""Where the tests find the read-only data in ``shared/`` (benchmarks, data sets), and a clear skip where it is not.

Nothing under ``shared/`` may be copied into the repository; tests read it in place. The folder is looked for at
``$MNAS_SHARED_DIR``, beside the repository (``<repo>/../shared``, where CI has it) and at ``/work/shared``.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

_CANDIDATES = [Path(os.environ["MNAS_SHARED_DIR"])] if os.environ.get("MNAS_SHARED_DIR") else []
_CANDIDATES += [Path(__file__).resolve().parents[1].parent / "shared", Path("/work/shared")]
SHARED: Path | None = next((p for p in _CANDIDATES if p.is_dir()), None)


def shared_path(*parts: str) -> Path | None:
    """``shared/<parts>`` if the shared folder and that path exist, else None."""
    if SHARED is None:
        return None
    path = SHARED.joinpath(*parts)
    return path if path.exists() else None


def require_shared(*parts: str) -> Path:
    """``shared/<parts>``, or skip the calling test saying what is missing and how to provide it."""
    path = shared_path(*parts)
    if path is None:
        where = ", ".join(str(p) for p in _CANDIDATES)
        pytest.skip(f"needs shared/{'/'.join(parts)} (looked in {where}; set MNAS_SHARED_DIR to the folder that "
                    "holds benchmarks/ and datasets/)")
    return path
