"""The factorized hierarchical search space of MnasNet (paper section 4.1): decisions, tokens, sampling.

Tokens are the list of integers a controller emits, one per decision; ``MnasNetSpace`` maps them to an ``Arch``
(``mnaslib.spaces.arch``) and back. ``Decision`` and ``validate_tokens`` serve every space of the package.

The space keeps MobileNetV2's skeleton (7 blocks; base filters, layers and strides below) and searches, per block,
ConvOp x kernel x SE ratio x SkipOp x filter multiplier x layer delta = 4 x 2 x 2 x 3 x 3 x 3 = 432 choices.
Filter multipliers are applied exactly (every base filter count times 0.75, 1.0, 1.25 is an integer); a layer delta
of -1 on a 1-layer block stays at 1 layer ("never below 1"), so tokens that differ only there build the same network
and ``MnasNetSpace.encode`` returns the canonical (delta 0) tokens.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from mnaslib.spaces.arch import CONV_OPS, SKIP_OPS, Arch, BlockSpec
from mnaslib.errors import UserError
from mnaslib.registry import Registry

@dataclass(frozen=True)
class Decision:
    """One categorical decision of a search space: its name and its choices (for display)."""

    name: str
    choices: tuple

    @property
    def size(self) -> int:
        return len(self.choices)


# MobileNetV2's skeleton, the base of the MnasNet space (paper section 4.1).
BASE_FILTERS = (16, 24, 32, 64, 96, 160, 320)
BASE_LAYERS = (1, 2, 3, 4, 3, 3, 1)
BASE_STRIDES = (1, 2, 2, 2, 1, 2, 1)
KERNELS = (3, 5)
SE_RATIOS = (0.0, 0.25)
FILTER_MULTIPLIERS = (0.75, 1.0, 1.25)
LAYER_DELTAS = (-1, 0, 1)
PER_BLOCK = ("op", "kernel", "se", "skip", "filters", "layers")


@dataclass(frozen=True)
class MnasNetSpace:
    """The factorized hierarchical space: per block, one choice from each sub-space.

    The choice tuples are fields so ablations reuse the same machinery (``MnasNetSpace(se_ratios=(0.0,))`` is the
    space without SE of Table 2).
    """

    base_filters: tuple[int, ...] = BASE_FILTERS
    base_layers: tuple[int, ...] = BASE_LAYERS
    base_strides: tuple[int, ...] = BASE_STRIDES
    conv_ops: tuple[str, ...] = tuple(CONV_OPS)
    kernels: tuple[int, ...] = KERNELS
    se_ratios: tuple[float, ...] = SE_RATIOS
    skip_ops: tuple[str, ...] = SKIP_OPS
    filter_multipliers: tuple[float, ...] = FILTER_MULTIPLIERS
    layer_deltas: tuple[int, ...] = LAYER_DELTAS
    stem_filters: int = 32
    head_filters: int = 1280
    _choices: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lengths = {len(self.base_filters), len(self.base_layers), len(self.base_strides)}
        _check(len(lengths) == 1, "base_filters, base_layers and base_strides must have the same length")
        for op in self.conv_ops:
            _check(op in CONV_OPS, f"unknown conv op {op!r}; expected some of {tuple(CONV_OPS)}")
        for skip in self.skip_ops:
            _check(skip in SKIP_OPS, f"unknown skip op {skip!r}; expected some of {SKIP_OPS}")
        choices = {"op": self.conv_ops, "kernel": self.kernels, "se": self.se_ratios, "skip": self.skip_ops,
                   "filters": self.filter_multipliers, "layers": self.layer_deltas}
        for name, values in choices.items():
            _check(len(values) >= 1, f"the {name} sub-space is empty")
        object.__setattr__(self, "_choices", choices)

    @property
    def num_blocks(self) -> int:
        return len(self.base_filters)

    @property
    def choices_per_block(self) -> int:
        return math.prod(len(values) for values in self._choices.values())

    @property
    def decisions(self) -> list[Decision]:
        """The ordered decisions a controller must make: 6 per block, block by block."""
        return [Decision(f"block{b + 1}_{name}", tuple(self._choices[name]))
                for b in range(self.num_blocks) for name in PER_BLOCK]

    def decision_sizes(self) -> list[tuple[str, int]]:
        """``(name, number of choices)`` pairs, the form the controllers take."""
        return [(d.name, d.size) for d in self.decisions]

    def log10_size(self) -> float:
        """log10 of the number of token sequences (432^7 for the default space)."""
        return self.num_blocks * math.log10(self.choices_per_block)

    def check_tokens(self, tokens: Sequence[int]) -> list[int]:
        """Validate a token list, naming the first bad position."""
        decisions = self.decisions
        if len(tokens) != len(decisions):
            raise ValueError(f"expected {len(decisions)} tokens ({len(PER_BLOCK)} per block x {self.num_blocks} "
                             f"blocks), got {len(tokens)}")
        return validate_tokens(tokens, decisions)

    def decode(self, tokens: Sequence[int], name: str = "") -> Arch:
        """Tokens -> the network they describe."""
        tokens = self.check_tokens(tokens)
        blocks, previous = [], self.stem_filters
        for b in range(self.num_blocks):
            t = dict(zip(PER_BLOCK, tokens[b * len(PER_BLOCK):(b + 1) * len(PER_BLOCK)]))
            op, expansion = CONV_OPS[self.conv_ops[t["op"]]]
            out_filters = self._filters(b, self.filter_multipliers[t["filters"]])
            blocks.append(BlockSpec(
                repeats=max(1, self.base_layers[b] + self.layer_deltas[t["layers"]]),
                kernel=self.kernels[t["kernel"]], stride=self.base_strides[b], expand_ratio=expansion,
                in_filters=previous, out_filters=out_filters, se_ratio=self.se_ratios[t["se"]],
                skip=self.skip_ops[t["skip"]], op=op))
            previous = out_filters
        return Arch(tuple(blocks), self.stem_filters, self.head_filters, name)

    def encode(self, arch: Arch) -> list[int]:
        """The network -> canonical tokens; raises ``ValueError`` naming the first block outside the space."""
        if len(arch.blocks) != self.num_blocks:
            raise ValueError(f"the space has {self.num_blocks} blocks, the architecture has {len(arch.blocks)}")
        if arch.se_gate != "sigmoid":
            raise ValueError(f"the MnasNet space gates SE with a sigmoid, the architecture with {arch.se_gate}")
        if arch.stem_filters != self.stem_filters or arch.head_filters != self.head_filters:
            raise ValueError(f"the space uses stem {self.stem_filters} / head {self.head_filters}, the architecture "
                             f"stem {arch.stem_filters} / head {arch.head_filters}")
        tokens: list[int] = []
        for b, block in enumerate(arch.blocks):
            where = f"block {b + 1} ({block.to_string()})"
            if block.stride != self.base_strides[b]:
                raise ValueError(f"{where}: stride {block.stride}, the space fixes {self.base_strides[b]}")
            delta_options = [i for i, d in enumerate(self.layer_deltas)
                             if max(1, self.base_layers[b] + d) == block.repeats]
            filter_options = [i for i, m in enumerate(self.filter_multipliers)
                              if self._filters(b, m) == block.out_filters]
            for options, what in ((delta_options, f"{block.repeats} layers"),
                                  (filter_options, f"{block.out_filters} filters")):
                if not options:
                    raise ValueError(f"{where}: {what} is not a choice of this space")
            canonical_delta = min(delta_options, key=lambda i: abs(self.layer_deltas[i]))
            tokens += [_index(self.conv_ops, block.conv_op, where, "conv op"),
                       _index(self.kernels, block.kernel, where, "kernel"),
                       _index(self.se_ratios, block.se_ratio, where, "se ratio"),
                       _index(self.skip_ops, block.skip, where, "skip op"),
                       filter_options[0], canonical_delta]
        return tokens

    def sample(self, rng: np.random.Generator | int | None = None) -> list[int]:
        """Uniformly random tokens (seeded by an int or a numpy Generator)."""
        rng = np.random.default_rng(rng)
        return [int(rng.integers(d.size)) for d in self.decisions]

    def _filters(self, block_index: int, multiplier: float) -> int:
        return max(1, int(round(self.base_filters[block_index] * multiplier)))


@dataclass(frozen=True)
class MnasNetOptions:
    """The ``mnasnet`` space's one option: ``se: false`` is the space without squeeze-excitation (Table 2)."""

    se: bool = True


def _mnasnet(options: MnasNetOptions) -> MnasNetSpace:
    return MnasNetSpace(se_ratios=SE_RATIOS if options.se else (0.0,))


# The spaces a profile's ``space`` section names; the cell-based space of Table 5 is its own options (``CellSpace``'s
# fields), imported on first use because it builds Keras layers.
SPACES: Registry = Registry("search space", hint=" (or set benchmark: to search a tabular benchmark's own space)")
SPACES.add("mnasnet", _mnasnet, MnasNetOptions)
SPACES.add("nasnet-cell", "mnaslib.registry:options_as_built", "mnaslib.spaces.cell:CellSpace")


def validate_tokens(tokens: Sequence[int], decisions: Sequence[Decision]) -> list[int]:
    """Each token an integer within its decision's choices (the length is checked by the caller, whose message
    knows the space's layout); the error names the first bad position and its decision."""
    out = []
    for position, (token, decision) in enumerate(zip(tokens, decisions)):
        if isinstance(token, (bool, np.bool_)) or not isinstance(token, (int, np.integer)):
            raise UserError(f"token {position} ({decision.name}) must be an integer, got {token!r}")
        if not 0 <= token < decision.size:
            raise UserError(f"token {position} ({decision.name}) = {token} is out of range 0..{decision.size - 1}"
                            f" (choices {decision.choices})")
        out.append(int(token))
    return out


def search_space_sizes(choices_per_block: int = 432, blocks: int = 5, layers_per_block: int = 3) -> dict[str, float]:
    """The paper's size example: the factorized space has S^B models, a flat per-layer one S^(B*N)."""
    return {"factorized_log10": blocks * math.log10(choices_per_block),
            "per_layer_log10": blocks * layers_per_block * math.log10(choices_per_block)}


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _index(options: Sequence, value, where: str, what: str) -> int:
    for i, option in enumerate(options):
        if option == value:
            return i
    raise ValueError(f"{where}: {what} {value!r} is not a choice of this space {tuple(options)}")
