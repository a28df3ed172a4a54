"""Accel-NASBench's search space: EfficientNet-B0's skeleton with four decisions per block, as an ``Arch``.

The space (Ahmad, Xie et al., DAC 2024) keeps EfficientNet-B0's seven blocks, widths and strides and chooses, per
block, the MBConv expansion (1, 4, 6), the depthwise kernel (3, 5), the number of layers (1-3; 1-4 in block 5,
counting from 0 as the benchmark's keys ``block0_e`` ... ``block6_se`` do) and squeeze-excitation (off, on):
36^6 x 48 = 1.0e11 networks. ``AccelSpace`` has the interface of ``MnasNetSpace`` (decisions, ``decode`` to an
``Arch``, ``encode``, ``sample``), so the builder, the mult-add and parameter counts, the Pixel-1 cost model and the
host measurement all work on it unchanged.

How the authors' PyTorch network (torchvision's ``MBConv``) maps onto ``mnaslib.spaces.arch.Arch``, rule by rule:

* stem 3x3/2 conv to 32, head 1x1 conv to 1280 (4 x 320), ReLU everywhere: ``models.build_model``'s stem, head and
  activation;
* expansion width ``make_divisible(in * e, 8)``: every ``in * e`` of the space is already a multiple of 8 (the
  widths are 16 to 320, all multiples of 8), so it is our exact ``in * e``; e = 1 has no expansion conv in both;
* SE on the expanded tensor with ``max(1, in // 4)`` squeeze channels, ``in`` the layer's input width: our
  ``max(1, int(in * se_ratio))`` with ``se_ratio`` 0.25 (exact in binary, so ``int(in * 0.25) == in // 4``); its
  1x1 convs have biases in both; the gate is a hard sigmoid (``Arch.se_gate``), since the activation is ReLU;
* the residual add when stride 1 and in == out: our ``identity`` SkipOp;
* convolutions without bias, batch norm after each (2 trainable parameters per channel in both frameworks).

The tests check the result against the benchmark's own ``model_info`` for every one of its networks: the trainable
parameter count exactly, and the MACs exactly as :func:`published_macs` counts them.

``model_info.macs`` is not a plain mult-add count. It is reproduced, to its last published digit, at 224x224 (not
at the training resolutions 160/192 nor the evaluation resolution 256) by our mult-adds (every convolution,
the SE's 1x1 convolutions included, and the classifier) plus the conventions of the ``thop`` profiler: 4 operations
per batch-norm output element and ``h * w + 1`` per output channel of each average pool (the SE squeezes and the
head's pool); ReLU, the hard sigmoid, the SE rescale and the residual adds count nothing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from mnaslib.spaces.buildable import BuildOptions
from mnaslib.errors import UserError
from mnaslib.spaces.ops import arch_layers, layer_ops
from mnaslib.spaces.arch import Arch, BlockSpec
from mnaslib.spaces.mnasnet import Decision, validate_tokens

IN_FILTERS = (32, 16, 24, 40, 80, 112, 192)
OUT_FILTERS = (16, 24, 40, 80, 112, 192, 320)
STRIDES = (1, 2, 2, 2, 1, 2, 1)
EXPANSIONS = (1, 4, 6)
KERNELS = (3, 5)
LAYERS = (1, 2, 3)
LONG_BLOCK, LONG_LAYERS = 5, (1, 2, 3, 4)  # block 5 (0-based; 112 -> 192) may have a fourth layer
SE_CHOICES = (False, True)
SE_RATIO = 0.25
STEM_FILTERS, HEAD_FILTERS = 32, 1280
PER_BLOCK = ("e", "k", "l", "se")  # the benchmark's key suffixes, in its order
# EfficientNet-B0 (Tan & Le 2019) as a point of the space, in the benchmark's terms.
EFFICIENTNET_B0 = {"e": (1, 6, 6, 6, 6, 6, 6), "k": (3, 3, 5, 3, 5, 5, 3), "l": (1, 2, 2, 3, 3, 4, 1),
                   "se": (True,) * 7}


class ArchitectureFormatError(UserError):
    """A benchmark ``architecture`` mapping that is not a network of the space; the message names the key."""


@dataclass(frozen=True)
class AccelSpace:
    """The 7-block space of Accel-NASBench: 4 decisions per block, 28 tokens, decoded to an ``Arch``.

    ``se=False`` is the space without squeeze-excitation (Table 2's ablation: the SE decisions keep one choice, off),
    whose networks the benchmark and its surrogate cover all the same.
    """

    se: bool = True

    @property
    def num_blocks(self) -> int:
        return len(IN_FILTERS)

    @property
    def decisions(self) -> list[Decision]:
        """``block<i>_e``, ``block<i>_k``, ``block<i>_l``, ``block<i>_se`` for blocks 0-6 (the benchmark's keys)."""
        return [Decision(f"block{b}_{name}", choices) for b in range(self.num_blocks)
                for name, choices in zip(PER_BLOCK, _block_choices(b, self.se))]

    def decision_sizes(self) -> list[tuple[str, int]]:
        """``(name, number of choices)`` pairs, the form the controllers take."""
        return [(d.name, d.size) for d in self.decisions]

    def log10_size(self) -> float:
        """log10 of the number of networks: 36^6 x 48, about 10^11.0 (every token sequence is another network)."""
        return sum(math.log10(d.size) for d in self.decisions)

    def check_tokens(self, tokens: Sequence[int]) -> list[int]:
        """Validate a token list, naming the first bad position."""
        decisions = self.decisions
        if len(tokens) != len(decisions):
            raise ValueError(f"expected {len(decisions)} tokens ({len(PER_BLOCK)} per block x {self.num_blocks} "
                             f"blocks: {', '.join(PER_BLOCK)}), got {len(tokens)}")
        return validate_tokens(tokens, decisions)

    def decode(self, tokens: Sequence[int], name: str = "") -> Arch:
        """Tokens -> the network as trained by the benchmark's authors (module docstring)."""
        tokens = self.check_tokens(tokens)
        blocks = []
        for b in range(self.num_blocks):
            e, k, n, se = (choices[t] for choices, t in zip(_block_choices(b, self.se), tokens[4 * b:4 * b + 4]))
            blocks.append(BlockSpec(repeats=n, kernel=k, stride=STRIDES[b], expand_ratio=e, in_filters=IN_FILTERS[b],
                                    out_filters=OUT_FILTERS[b], se_ratio=SE_RATIO if se else 0.0))
        return Arch(tuple(blocks), STEM_FILTERS, HEAD_FILTERS, name, se_gate="hard_sigmoid")

    def encode(self, arch: Arch) -> list[int]:
        """The network -> its tokens; raises ``ValueError`` naming the first part outside the space."""
        skeleton = (arch.stem_filters, arch.head_filters, arch.se_gate, len(arch.blocks))
        if skeleton != (STEM_FILTERS, HEAD_FILTERS, "hard_sigmoid", self.num_blocks):
            raise ValueError(f"not a network of Accel-NASBench's space: stem {arch.stem_filters}, head "
                             f"{arch.head_filters}, SE gate {arch.se_gate}, {len(arch.blocks)} blocks (the space has "
                             f"stem {STEM_FILTERS}, head {HEAD_FILTERS}, hard_sigmoid, {self.num_blocks} blocks)")
        tokens: list[int] = []
        for b, block in enumerate(arch.blocks):
            fixed = (block.stride, block.in_filters, block.out_filters, block.skip, block.op)
            if fixed != (STRIDES[b], IN_FILTERS[b], OUT_FILTERS[b], "identity", "mbconv"):
                raise ValueError(f"block {b} ({block.to_string()}): the space fixes stride {STRIDES[b]}, widths "
                                 f"{IN_FILTERS[b]} -> {OUT_FILTERS[b]}, identity skip and MBConv")
            if block.se_ratio not in (0.0, SE_RATIO):
                raise ValueError(f"block {b} ({block.to_string()}): SE ratio {block.se_ratio}, the space has 0 or "
                                 f"{SE_RATIO}")
            values = (block.expand_ratio, block.kernel, block.repeats, block.se_ratio > 0)
            for value, choices, name in zip(values, _block_choices(b, self.se), PER_BLOCK):
                if value not in choices:
                    raise ValueError(f"block {b} ({block.to_string()}): block{b}_{name} = {value} is not one of "
                                     f"{choices}")
                tokens.append(choices.index(value))
        return tokens

    def sample(self, rng: np.random.Generator | int | None = None) -> list[int]:
        """Uniformly random tokens (seeded by an int or a numpy Generator)."""
        rng = np.random.default_rng(rng)
        return [int(rng.integers(d.size)) for d in self.decisions]

    def tokens_from_architecture(self, architecture: Mapping[str, Any]) -> list[int]:
        """A result file's ``architecture`` mapping (``{"block0_e": 6, ..., "block6_se": false}``) -> tokens."""
        if not isinstance(architecture, Mapping):
            raise ArchitectureFormatError(f"an architecture is a mapping of block<i>_e/k/l/se keys, got "
                                          f"{type(architecture).__name__}")
        expected = [d.name for d in self.decisions]
        unknown = sorted(set(architecture) - set(expected))
        missing = [key for key in expected if key not in architecture]
        if unknown or missing:
            raise ArchitectureFormatError(f"architecture keys: missing {missing or 'none'}, unknown "
                                          f"{unknown or 'none'}; expected {expected[0]} ... {expected[-1]}")
        tokens = []
        for decision in self.decisions:
            value = architecture[decision.name]
            # bool is an int in Python: a flag must be a bool and a count an integer that is not one.
            typed = isinstance(value, bool) if decision.name.endswith("_se") else \
                isinstance(value, (int, np.integer)) and not isinstance(value, bool)
            if not typed or value not in decision.choices:
                raise ArchitectureFormatError(f"architecture {decision.name} = {value!r}; expected one of "
                                              f"{decision.choices}")
            tokens.append(decision.choices.index(value))
        return tokens

    def architecture_from_tokens(self, tokens: Sequence[int]) -> dict[str, Any]:
        """Tokens -> the benchmark's ``architecture`` mapping (the inverse of ``tokens_from_architecture``)."""
        tokens = self.check_tokens(tokens)
        return {d.name: d.choices[t] for d, t in zip(self.decisions, tokens)}

    def efficientnet_b0(self) -> Arch:
        """EfficientNet-B0's blocks in this space (ReLU and hard-sigmoid SE, as the benchmark trains them)."""
        architecture = {f"block{b}_{name}": EFFICIENTNET_B0[name][b] for b in range(self.num_blocks)
                        for name in PER_BLOCK}
        return self.decode(self.tokens_from_architecture(architecture), name="efficientnet-b0-relu")


def published_macs(arch: Arch, input_size: int = 224) -> int:
    """MACs as the benchmark's ``model_info.macs`` counts them (module docstring): our mult-adds plus 4 per batch-norm
    output element plus ``(h * w + 1)`` per average-pooled channel. Defined for MBConv networks like this space's."""
    total = 0
    for key in arch_layers(arch, BuildOptions(input_size=input_size)):
        ops = list(layer_ops(key))
        total += sum(op.mult_adds for op in ops)
        total += sum(op.in_elems + op.out_elems for op in ops if op.kind == "pool")  # h*w*c read, c written
        if key.part == "stem":
            batch_norm = key.out_resolution ** 2 * key.out_channels
        elif key.part == "head":
            batch_norm = key.resolution ** 2 * key.out_channels
        else:
            if key.op != "mbconv" or key.skip not in ("add", "none"):
                raise ValueError(f"published_macs counts MBConv layers with identity skips, not {key.text}")
            mid = key.in_filters * key.expand_ratio if key.expand_ratio != 1 else key.in_channels
            expand = key.resolution ** 2 * mid if key.expand_ratio != 1 else 0
            batch_norm = expand + key.out_resolution ** 2 * (mid + key.out_channels)  # expand, depthwise, project
        total += 4 * batch_norm
    return total


def _block_choices(block: int, se: bool = True) -> tuple[tuple, ...]:
    """The choices of block ``block``'s four decisions, in ``PER_BLOCK`` order."""
    return EXPANSIONS, KERNELS, LONG_LAYERS if block == LONG_BLOCK else LAYERS, SE_CHOICES if se else (False,)
