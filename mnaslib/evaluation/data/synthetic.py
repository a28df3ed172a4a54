"""The ``synthetic`` data set: noisy images whose mean colour gives the class, generated in memory from fixed seeds."""
from __future__ import annotations

import colorsys

import numpy as np

from mnaslib.evaluation.data.base import SPLITS, Located
from mnaslib.evaluation.data.cache import arrays_fingerprint

SYNTHETIC_SIZES = {"train": 2000, "test": 500}
SYNTHETIC_CLASSES: tuple[str, ...] = tuple(f"hue_{36 * c:03d}" for c in range(10))
SYNTHETIC_NOTE = "synthetic images with a class-dependent mean colour; for tests and smoke runs only"


def _synthetic(split: str, fit_size: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Noisy 32x32 images whose mean colour depends on the class (hues evenly spaced round the colour wheel).

    The noise (std 64 per pixel) hides the colour in any single pixel but averaging over the image recovers it:
    a nearest-mean-colour rule scores far above the 10% of chance, so a small network with global pooling has a
    signal to learn within a few epochs, which makes training code testable in seconds without real data.
    """
    rng = np.random.default_rng({"train": 1, "test": 2}[split])
    n = SYNTHETIC_SIZES[split]
    k = len(SYNTHETIC_CLASSES)
    y = rng.permutation(np.arange(n) % k).astype(np.uint8)
    palette = np.array([colorsys.hsv_to_rgb(c / k, 0.6, 0.8) for c in range(k)]) * 255.0
    x = palette[y][:, None, None, :] + rng.normal(0.0, 64.0, (n, 32, 32, 3))
    return np.clip(np.rint(x), 0, 255).astype(np.uint8), y


def _fingerprint() -> dict:
    """Both splits as generated here (a different numpy could, in principle, generate different images)."""
    arrays = {}
    for split in SPLITS:
        arrays[f"x_{split}"], arrays[f"y_{split}"] = _synthetic(split, None)
    return arrays_fingerprint(arrays, "both generated splits")


def synthetic_found() -> Located:
    """The synthetic data set as a located source."""
    return Located("synthetic (generated in memory, fixed seeds)", SYNTHETIC_CLASSES, "generated", "synthetic",
                   _fingerprint, read=_synthetic, note=SYNTHETIC_NOTE)
