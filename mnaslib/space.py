"""The factorized hierarchical search space of MnasNet (paper section 4.1) and its representations.

Three views of one network, with lossless round trips between them:

* ``Arch``: the typed network description the model builder consumes (a stem, a tuple of ``BlockSpec`` and a
  head). Every reference model (MnasNet-A1, B1, small, D1, MobileNetV2) is an ``Arch``.
* Block strings: the official MnasNet format ``r2_k3_s22_e6_i16_o24_se0.25`` (``noskip`` disables the identity
  skip), extended with two flags so the whole space can be written down: ``poolskip`` (the paper's "pooling" SkipOp)
  and ``conv`` (the paper's regular convolution ConvOp). Official strings parse unchanged.
* Tokens: the list of integers a controller emits, one per decision. ``MnasNetSpace`` maps tokens to an ``Arch``.

The space keeps MobileNetV2's skeleton (7 blocks; base filters, layers and strides below) and searches, per block,
ConvOp x kernel x SE ratio x SkipOp x filter multiplier x layer delta = 4 x 2 x 2 x 3 x 3 x 3 = 432 choices.

Op semantics (documented choices where the paper is silent):

* ``dconv`` (depthwise-separable conv) is the MBConv block with expansion 1 - exactly the first block of A1
  ("SepConv") in the official code, ``e1``.
* ``mbconv3`` / ``mbconv6``: the inverted bottleneck with expansion 3 or 6.
* ``conv``: a regular k x k convolution from the block's input to its output filters, BN and ReLU (SE, if chosen,
  acts on its output).
* SkipOp ``identity`` adds the input wherever shapes match (stride 1 and equal filters), as in the official code.
  ``pooling`` also gives the block's *first* layer a residual when shapes differ: the input is average-pooled to the
  output resolution (pool size = stride, 'same' padding) and, if the filter counts differ, projected by a 1x1 conv and
  BN; later layers of the block have matching shapes and use the identity. ``none`` means no residual at all.
* Filter multipliers are applied exactly (every base filter count times 0.75, 1.0, 1.25 is an integer); a layer delta
  of -1 on a 1-layer block stays at 1 layer ("never below 1"), so tokens that differ only there build the same network
  and ``MnasNetSpace.encode`` returns the canonical (delta 0) tokens.
"""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from mnaslib.buildable import DEPLOYMENT, BuildOptions

if TYPE_CHECKING:
    import keras

SKIPS = ("identity", "pool", "none")
# Bounds far above any mobile network (A1 has 7 blocks, 4 layers, k5, e6, 1280 filters), so a typo such as r1000000
# is refused at once instead of building for minutes.
MAX_BLOCKS, MAX_REPEATS, MAX_KERNEL, MAX_EXPANSION, MAX_FILTERS = 32, 32, 15, 16, 8192
OPS = ("mbconv", "conv")
# The squeeze-excitation gate: MnasNet's sigmoid, or the hard sigmoid relu6(x + 3) / 6 of ReLU networks such as
# Accel-NASBench's (Keras' ``hard_sigmoid``, PyTorch's ``Hardsigmoid``).
SE_GATES = ("sigmoid", "hard_sigmoid")

_KEY_RE = re.compile(r"^(se|[rksieo])(.*)$")


@dataclass(frozen=True)
class BlockSpec:
    """One block of identical layers: what the official block string encodes, plus the op and skip flavour."""

    repeats: int
    kernel: int
    stride: int
    expand_ratio: int
    in_filters: int
    out_filters: int
    se_ratio: float = 0.0
    skip: str = "identity"
    op: str = "mbconv"

    def __post_init__(self) -> None:
        _check(1 <= self.repeats <= MAX_REPEATS, f"repeats must be >= 1 and <= {MAX_REPEATS}, got {self.repeats}")
        _check(1 <= self.kernel <= MAX_KERNEL and self.kernel % 2 == 1,
               f"kernel must be odd, between 1 and {MAX_KERNEL}, got {self.kernel}")
        _check(self.stride in (1, 2), f"stride must be 1 or 2, got {self.stride}")
        _check(1 <= self.expand_ratio <= MAX_EXPANSION,
               f"expansion must be >= 1 and <= {MAX_EXPANSION}, got {self.expand_ratio}")
        _check(1 <= self.in_filters <= MAX_FILTERS, f"input filters must be >= 1 and <= {MAX_FILTERS}, got "
                                                    f"{self.in_filters}")
        _check(1 <= self.out_filters <= MAX_FILTERS, f"output filters must be >= 1 and <= {MAX_FILTERS}, got "
                                                     f"{self.out_filters}")
        _check(0.0 <= self.se_ratio <= 1.0, f"se ratio must be in [0, 1], got {self.se_ratio}")
        _check(self.skip in SKIPS, f"skip must be one of {SKIPS}, got {self.skip!r}")
        _check(self.op in OPS, f"op must be one of {OPS}, got {self.op!r}")
        _check(self.op != "conv" or self.expand_ratio == 1,
               f"a regular conv block has no expansion: use e1 with the conv flag, got e{self.expand_ratio}")

    @property
    def conv_op(self) -> str:
        """The paper's ConvOp name: conv, dconv, or mbconv<e>."""
        if self.op == "conv":
            return "conv"
        return "dconv" if self.expand_ratio == 1 else f"mbconv{self.expand_ratio}"

    def to_string(self) -> str:
        """Encode in the official block-string format (plus ``conv``/``poolskip`` flags when needed)."""
        parts = [f"r{self.repeats}", f"k{self.kernel}", f"s{self.stride}{self.stride}", f"e{self.expand_ratio}",
                 f"i{self.in_filters}", f"o{self.out_filters}"]
        if self.se_ratio > 0:
            parts.append(f"se{self.se_ratio:g}")
        if self.skip == "none":
            parts.append("noskip")
        elif self.skip == "pool":
            parts.append("poolskip")
        if self.op == "conv":
            parts.append("conv")
        return "_".join(parts)

    @classmethod
    def from_string(cls, text: str) -> "BlockSpec":
        """Parse one block string; every malformed part raises a ``ValueError`` that names it."""
        if not isinstance(text, str):
            raise ValueError(f"a block string must be text such as 'r2_k3_s22_e6_i16_o24_se0.25', got {text!r} "
                             f"({type(text).__name__})")
        if not text.strip():
            raise ValueError(f"empty block string {text!r}; expected e.g. 'r2_k3_s22_e6_i16_o24_se0.25'")
        values: dict[str, str] = {}
        skip, op = "identity", "mbconv"
        for part in text.strip().split("_"):
            if part in ("noskip", "poolskip"):
                if skip != "identity":
                    raise ValueError(f"block string {text!r}: more than one skip flag ('noskip'/'poolskip')")
                skip = "none" if part == "noskip" else "pool"
                continue
            if part == "conv":
                op = "conv"
                continue
            match = _KEY_RE.match(part)
            if not match or not match.group(2):
                raise ValueError(f"block string {text!r}: unknown part {part!r}; known keys are r, k, s, e, i, o, "
                                 "se and the flags noskip, poolskip, conv")
            key, value = match.groups()
            if key in values:
                raise ValueError(f"block string {text!r}: key {key!r} given twice")
            values[key] = value
        for key, meaning in (("r", "repeats"), ("k", "kernel"), ("s", "strides"), ("e", "expansion"),
                             ("i", "input filters"), ("o", "output filters")):
            if key not in values:
                raise ValueError(f"block string {text!r}: missing {meaning} ('{key}...')")
        stride_text = values["s"]
        if not re.fullmatch(r"[0-9][0-9]?", stride_text) or len(set(stride_text)) != 1:
            raise ValueError(f"block string {text!r}: strides 's{stride_text}' must be two equal digits, 's11' or "
                             "'s22'")
        stride = int(stride_text[0])
        if stride not in (1, 2):
            raise ValueError(f"block string {text!r}: stride {stride} is not supported; use s11 or s22")
        ints = {key: _parse_int(text, key, values[key]) for key in "rkeio"}
        se_ratio = _parse_float(text, "se", values["se"]) if "se" in values else 0.0
        if not 0.0 < se_ratio <= 1.0 and "se" in values:
            raise ValueError(f"block string {text!r}: se ratio {se_ratio} must be in (0, 1]")
        try:
            return cls(repeats=ints["r"], kernel=ints["k"], stride=stride, expand_ratio=ints["e"],
                       in_filters=ints["i"], out_filters=ints["o"], se_ratio=se_ratio, skip=skip, op=op)
        except ValueError as err:
            raise ValueError(f"block string {text!r}: {err}") from None


@dataclass(frozen=True)
class Arch:
    """A whole network: stem filters, blocks and head filters (the depth multiplier is applied at build time).

    As in the official code, a block's declared input filters (``i``) set its expansion width, its SE width and
    whether the identity skip applies; the tensor it actually receives comes from the previous layer. The two differ
    only in the official ``mnasnet-small`` (stem 8, first block ``i16``), which is kept verbatim.

    ``se_gate`` is the gate of every SE module (``SE_GATES``). Block strings do not carry it, so the id adds it
    where it is not the default sigmoid (every sigmoid network keeps the id it always had) and the JSON form keeps
    it.
    """

    blocks: tuple[BlockSpec, ...]
    stem_filters: int = 32
    head_filters: int = 1280
    name: str = ""
    dropout: float = 0.2  # before the classifier, when training; not part of the id (it changes no inference)
    se_gate: str = "sigmoid"

    def __post_init__(self) -> None:
        _check(len(self.blocks) >= 1, "an architecture needs at least one block")
        _check(len(self.blocks) <= MAX_BLOCKS, f"an architecture has at most {MAX_BLOCKS} blocks, got "
                                               f"{len(self.blocks)}")
        _check(1 <= self.stem_filters <= MAX_FILTERS and 1 <= self.head_filters <= MAX_FILTERS,
               f"stem and head filters must be between 1 and {MAX_FILTERS}")
        for index in range(1, len(self.blocks)):
            previous, block = self.blocks[index - 1], self.blocks[index]
            _check(block.in_filters == previous.out_filters,
                   f"block {index + 1} ({block.to_string()}) declares i{block.in_filters} but block {index} outputs "
                   f"o{previous.out_filters}; a block's input filters must equal the previous block's output")
        _check(0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}")
        _check(self.se_gate in SE_GATES, f"se_gate must be one of {SE_GATES}, got {self.se_gate!r}")
        object.__setattr__(self, "blocks", tuple(self.blocks))

    def block_strings(self) -> list[str]:
        return [block.to_string() for block in self.blocks]

    def build(self, options: BuildOptions = DEPLOYMENT) -> "keras.Model":
        """The functional Keras model of this network (``mnaslib.models.build_model``)."""
        from mnaslib.models import build_model

        return build_model(self, options)

    @classmethod
    def from_block_strings(cls, strings: Iterable[str] | str, stem_filters: int | None = None,
                           head_filters: int = 1280, name: str = "", se_gate: str = "sigmoid") -> "Arch":
        """Parse block strings (a list, or one string separated by spaces/commas); the stem defaults to the first
        block's input filters."""
        if isinstance(strings, str):
            strings = [s for s in re.split(r"[\s,]+", strings) if s]
        blocks = tuple(BlockSpec.from_string(s) for s in strings)
        if not blocks:
            raise ValueError("no block strings given")
        return cls(blocks, stem_filters if stem_filters is not None else blocks[0].in_filters, head_filters, name,
                   se_gate=se_gate)

    @property
    def arch_id(self) -> str:
        """A stable 12-hex-digit id: the same network always gets the same id, whatever produced it."""
        key = f"stem{self.stem_filters}|" + "|".join(self.block_strings()) + f"|head{self.head_filters}"
        if self.se_gate != "sigmoid":
            key += f"|gate-{self.se_gate}"
        return hashlib.sha1(key.encode()).hexdigest()[:12]

    @property
    def num_layers(self) -> int:
        return sum(block.repeats for block in self.blocks)

    def with_name(self, name: str) -> "Arch":
        return replace(self, name=name)

    def to_dict(self) -> dict:
        """A JSON-ready form that keeps everything (stem and head too), for ``mnas export -o arch.json``."""
        return {"name": self.name, "stem_filters": self.stem_filters, "block_strings": self.block_strings(),
                "head_filters": self.head_filters, "dropout": self.dropout, "se_gate": self.se_gate,
                "arch_id": self.arch_id}

    @classmethod
    def from_dict(cls, values: dict) -> "Arch":
        """Inverse of ``to_dict``; a bare ``{"block_strings": [...]}`` also works (stem from the first block).
        A stored ``arch_id`` must match the parsed network, so a hand-edited file cannot pass for another."""
        if not isinstance(values, dict) or "block_strings" not in values:
            raise ValueError("an architecture file needs a 'block_strings' list (and optionally 'stem_filters', "
                             "'head_filters', 'name', 'se_gate'); write one with `mnas export MODEL -o arch.json`")
        arch = cls.from_block_strings(values["block_strings"], values.get("stem_filters"),
                                      int(values.get("head_filters", 1280)), str(values.get("name", "")),
                                      str(values.get("se_gate", "sigmoid")))
        if "dropout" in values:
            arch = replace(arch, dropout=float(values["dropout"]))
        if "arch_id" in values and values["arch_id"] != arch.arch_id:
            raise ValueError(f"arch_id {values['arch_id']!r} does not match the block strings (id {arch.arch_id}); "
                             "remove the arch_id or fix the blocks")
        return arch


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
CONV_OPS = ("conv", "dconv", "mbconv3", "mbconv6")
KERNELS = (3, 5)
SE_RATIOS = (0.0, 0.25)
SKIP_OPS = ("pool", "identity", "none")
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
    conv_ops: tuple[str, ...] = CONV_OPS
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
            _check(op in CONV_OPS, f"unknown conv op {op!r}; expected some of {CONV_OPS}")
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
            conv_op = self.conv_ops[t["op"]]
            out_filters = self._filters(b, self.filter_multipliers[t["filters"]])
            blocks.append(BlockSpec(
                repeats=max(1, self.base_layers[b] + self.layer_deltas[t["layers"]]),
                kernel=self.kernels[t["kernel"]], stride=self.base_strides[b],
                expand_ratio=int(conv_op[6:]) if conv_op.startswith("mbconv") else 1,
                in_filters=previous, out_filters=out_filters, se_ratio=self.se_ratios[t["se"]],
                skip=self.skip_ops[t["skip"]], op="conv" if conv_op == "conv" else "mbconv"))
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


def validate_tokens(tokens: Sequence[int], decisions: Sequence[Decision]) -> list[int]:
    """Each token an integer within its decision's choices (the length is checked by the caller, whose message
    knows the space's layout); the error names the first bad position and its decision."""
    out = []
    for position, (token, decision) in enumerate(zip(tokens, decisions)):
        if isinstance(token, (bool, np.bool_)) or not isinstance(token, (int, np.integer)):
            raise ValueError(f"token {position} ({decision.name}) must be an integer, got {token!r}")
        if not 0 <= token < decision.size:
            raise ValueError(f"token {position} ({decision.name}) = {token} is out of range 0..{decision.size - 1}"
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


def _parse_int(text: str, key: str, value: str) -> int:
    if not re.fullmatch(r"-?[0-9]+", value):  # ASCII digits only: int() would also read full-width ones
        raise ValueError(f"block string {text!r}: '{key}{value}' needs an integer after '{key}'")
    number = int(value)
    if number < 0:
        raise ValueError(f"block string {text!r}: '{key}{value}' must not be negative")
    return number


def _parse_float(text: str, key: str, value: str) -> float:
    if not re.fullmatch(r"[0-9]*\.?[0-9]+(e-?[0-9]+)?", value):  # ASCII only, like _parse_int
        raise ValueError(f"block string {text!r}: '{key}{value}' needs a number after '{key}'")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"block string {text!r}: '{key}{value}' must be finite")
    return number


def _index(options: Sequence, value, where: str, what: str) -> int:
    for i, option in enumerate(options):
        if option == value:
            return i
    raise ValueError(f"{where}: {what} {value!r} is not a choice of this space {tuple(options)}")
