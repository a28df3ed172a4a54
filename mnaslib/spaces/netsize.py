"""Whole-network bounds, checked before a network is built.

Every block of an architecture is bounded on its own (``mnaslib.spaces.arch``: filters, repeats, kernel, expansion), but
a network inside every per-block bound can still be too big for memory (``--multiplier 1000``, or four 8192-wide
blocks), and TensorFlow would then fail deep inside with ``ResourceExhaustedError`` after minutes of work. These
counts are analytic (``mnaslib.spaces.ops``), so the check costs microseconds and needs no graph. The commands
(``mnas describe``, ``latency``, ``export``), the profile check and the proxy trainer call it before they build;
the builders themselves cannot, since the analytic counts are built on them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from mnaslib.errors import UserError

if TYPE_CHECKING:
    from mnaslib.spaces.arch import Arch
    from mnaslib.spaces.buildable import BuildOptions

MAX_PARAMS = 500_000_000  # 2 GB of float32 weights; the paper's networks have 2 to 8 million
MAX_ACTIVATIONS = 1_000_000_000  # activation elements one image writes (4 GB at float32)


def check_network_size(arch: "Arch", options: "BuildOptions") -> None:
    """Refuse a network whose weights or activations would not fit in memory, or whose feature maps would shrink
    below one pixel (a stride-2 layer on a 1x1 map: the input is too small for the network's downsampling)."""
    from mnaslib.spaces.ops import arch_layers, layer_ops, layer_params  # lazy: keeps TensorFlow and pandas off import

    layers = arch_layers(arch, options)
    tiny = next((key for key in layers if key.stride > 1 and key.resolution < 2), None)
    if tiny is not None:
        raise UserError(f"at input_size {options.input_size} the feature maps shrink below one pixel before a "
                        f"stride-2 {tiny.part} layer; use a larger input_size (or fewer stride-2 blocks)")
    params = sum(layer_params(key) for key in layers)
    if params > MAX_PARAMS:
        raise UserError(f"this network would have {params:,} parameters (at width x{options.depth_multiplier:g}), "
                        f"more than the {MAX_PARAMS:,} mnaslib builds; use a smaller --multiplier or narrower blocks")
    activations = sum(op.out_elems for key in layers for op in layer_ops(key))
    if activations > MAX_ACTIVATIONS:
        raise UserError(f"this network would write {activations:,} activation values per image at "
                        f"{options.input_size}x{options.input_size}, more than the {MAX_ACTIVATIONS:,} mnaslib "
                        "builds; use a smaller --input-size, --multiplier or narrower blocks")
