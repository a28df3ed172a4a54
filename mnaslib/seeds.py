"""The one seed rule: every seed a run uses is derived from the run's seed, keyed by what it is for.

A run stores one seed (the ``seed`` of its profile, recorded with its config); every other seed is derived from it
again when needed, never stored: a trial's (``trial_seed``: its initialisation and training stream), a benchmark
comparison's arms (``arm_seed``), the held-out data split (``split_seed``) and the images a zero-cost score reads
(``image_batch_seed``, derived from the trial's seed, so one trial's images stay one draw).

Why ``numpy.random.SeedSequence`` and not arithmetic on the seed: a formula such as ``seed * 1000003 + step * 1009 +
index`` or ``seed + 1000 * arm + k`` lets two purposes (or two runs) land on the same number, and then two streams
that should be independent are the same one; a ``SeedSequence`` keyed by ``(purpose, *key)`` hashes the whole key,
so different keys give unrelated seeds. Derived seeds are below 2**32, the range every consumer takes (numpy,
Keras' ``set_random_seed``, ``tf.data``).
"""
from __future__ import annotations

import numpy as np

# purpose -> the first element of its spawn key; never renumber one (every derived seed would change)
PURPOSES = {"trial": 1, "arm": 2, "data split": 3, "image batch": 4}


def derive(seed: int, purpose: str, *key: int) -> int:
    """The seed for ``purpose`` (one of ``PURPOSES``) at ``key`` (non-negative integers) under the run's ``seed``."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown seed purpose {purpose!r}; known: {', '.join(PURPOSES)}")
    for name, value in (("seed", seed), *((f"{purpose} key", k) for k in key)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    sequence = np.random.SeedSequence(int(seed), spawn_key=(PURPOSES[purpose], *(int(k) for k in key)))
    return int(sequence.generate_state(1, np.uint32)[0])


def trial_seed(seed: int, step: int, index: int) -> int:
    """The seed of the ``index``-th child of step ``step``: its weights' initialisation and its training stream."""
    return derive(seed, "trial", step, index)


def arm_seed(seed: int, offset: int, k: int) -> int:
    """The ``k``-th seed of the arm at ``offset`` of a comparison run from ``seed``; arms at different offsets never
    share a seed, so two arms never sample the same networks by construction."""
    return derive(seed, "arm", offset, k)


def split_seed(seed: int) -> int:
    """The seed of the held-out validation split (and the training stream's order): one per run, so every child of a
    search is trained and judged on the same images."""
    return derive(seed, "data split")


def image_batch_seed(trial: int) -> int:
    """The seed of the training images a zero-cost score reads for the trial whose seed is ``trial``."""
    return derive(trial, "image batch")
