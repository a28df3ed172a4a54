"""A network in the MnasNet family: ``BlockSpec``, ``Arch`` and the official block strings.

Two of the three views of one network (the third, tokens, is ``mnaslib.spaces.mnasnet``):

* ``Arch``: the typed network description the model builder consumes (a stem, a tuple of ``BlockSpec`` and a
  head). Every reference model (MnasNet-A1, B1, small, D1, MobileNetV2) is an ``Arch``, and so is every network of
  the MnasNet space and of Accel-NASBench's; ``Arch`` is a ``Buildable``.
* Block strings: the official MnasNet format ``r2_k3_s22_e6_i16_o24_se0.25`` (``noskip`` disables the identity
  skip), extended with two flags so the whole space can be written down: ``poolskip`` (the paper's "pooling" SkipOp)
  and ``conv`` (the paper's regular convolution ConvOp). Official strings parse unchanged.

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
"""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Iterable

from mnaslib.spaces.buildable import DEPLOYMENT, BuildOptions
from mnaslib.errors import UserError, as_int, shown
from mnaslib.registry import did_you_mean

if TYPE_CHECKING:
    import keras

# Bounds far above any mobile network (A1 has 7 blocks, 4 layers, k5, e6, 1280 filters), so a typo such as r1000000
# is refused at once instead of building for minutes.
MAX_BLOCKS, MAX_REPEATS, MAX_KERNEL, MAX_EXPANSION, MAX_FILTERS = 32, 32, 15, 16, 8192
ARCH_KEYS = ("name", "stem_filters", "block_strings", "head_filters", "dropout", "se_gate", "arch_id")
OPS = ("mbconv", "conv")  # how a block's layers are built; the paper's ConvOp names map onto them (CONV_OPS)
# The paper's ConvOp choices, each as (BlockSpec.op, expansion): the one vocabulary both the block strings and the
# space use, so the expansion is read off the table rather than out of a name.
CONV_OPS = {"conv": ("conv", 1), "dconv": ("mbconv", 1), "mbconv3": ("mbconv", 3), "mbconv6": ("mbconv", 6)}
SKIP_OPS = ("pool", "identity", "none")  # the paper's SkipOp choices, in the space's token order
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
        _check(self.skip in SKIP_OPS, f"skip must be one of {SKIP_OPS}, got {self.skip!r}")
        _check(self.op in OPS, f"op must be one of {OPS}, got {self.op!r}")
        _check(self.op != "conv" or self.expand_ratio == 1,
               f"a regular conv block has no expansion: use e1 with the conv flag, got e{self.expand_ratio}")

    @property
    def conv_op(self) -> str:
        """The paper's ConvOp name: conv, dconv, or mbconv<e> (``mbconv9`` for D1's expansion, outside the space)."""
        for name, (op, expansion) in CONV_OPS.items():
            if (op, expansion) == (self.op, self.expand_ratio):
                return name
        return f"mbconv{self.expand_ratio}"

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
            raise UserError(f"a block string must be text such as 'r2_k3_s22_e6_i16_o24_se0.25', got {text!r} "
                            f"({type(text).__name__})")
        if not text.strip():
            raise UserError(f"empty block string {text!r}; expected e.g. 'r2_k3_s22_e6_i16_o24_se0.25'")
        values: dict[str, str] = {}
        skip, op = "identity", "mbconv"
        for part in text.strip().split("_"):
            if part in ("noskip", "poolskip"):
                if skip != "identity":
                    raise UserError(f"block string {text!r}: more than one skip flag ('noskip'/'poolskip')")
                skip = "none" if part == "noskip" else "pool"
                continue
            if part == "conv":
                op = "conv"
                continue
            match = _KEY_RE.match(part)
            if not match or not match.group(2):
                raise UserError(f"block string {text!r}: unknown part {part!r}; known keys are r, k, s, e, i, o, "
                                "se and the flags noskip, poolskip, conv")
            key, value = match.groups()
            if key in values:
                raise UserError(f"block string {text!r}: key {key!r} given twice")
            values[key] = value
        for key, meaning in (("r", "repeats"), ("k", "kernel"), ("s", "strides"), ("e", "expansion"),
                             ("i", "input filters"), ("o", "output filters")):
            if key not in values:
                raise UserError(f"block string {text!r}: missing {meaning} ('{key}...')")
        stride_text = values["s"]
        if not re.fullmatch(r"[0-9][0-9]?", stride_text) or len(set(stride_text)) != 1:
            raise UserError(f"block string {text!r}: strides 's{stride_text}' must be two equal digits, 's11' or "
                            "'s22'")
        stride = int(stride_text[0])
        if stride not in (1, 2):
            raise UserError(f"block string {text!r}: stride {stride} is not supported; use s11 or s22")
        ints = {key: _parse_int(text, key, values[key]) for key in "rkeio"}
        se_ratio = _parse_float(text, "se", values["se"]) if "se" in values else 0.0
        if not 0.0 < se_ratio <= 1.0 and "se" in values:
            raise UserError(f"block string {text!r}: se ratio {se_ratio} must be in (0, 1]")
        try:
            return cls(repeats=ints["r"], kernel=ints["k"], stride=stride, expand_ratio=ints["e"],
                       in_filters=ints["i"], out_filters=ints["o"], se_ratio=se_ratio, skip=skip, op=op)
        except ValueError as err:
            raise UserError(f"block string {text!r}: {err}") from None


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
        """The functional Keras model of this network (``mnaslib.spaces.models.build_model``)."""
        from mnaslib.spaces.models import build_model  # lazy: keeps TensorFlow out of this module's import

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
            raise UserError("no block strings given")
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
        A stored ``arch_id`` must match the parsed network, so a hand-edited file cannot pass for another; a key
        this form does not have (``stem_filter``) and a value of the wrong type (``head_filters: 12.9``) are
        refused, never ignored or truncated."""
        if not isinstance(values, dict) or "block_strings" not in values:
            raise UserError("an architecture file needs a 'block_strings' list (and optionally 'stem_filters', "
                            "'head_filters', 'name', 'se_gate'); write one with `mnas export MODEL -o arch.json`")
        unknown = sorted(set(values) - set(ARCH_KEYS))
        if unknown:
            raise UserError(f"unknown architecture key {shown(unknown[0])}{did_you_mean(unknown[0], ARCH_KEYS)}; "
                            f"known: {', '.join(ARCH_KEYS)}")
        strings = values["block_strings"]
        if not (isinstance(strings, str) or isinstance(strings, list) and all(isinstance(b, str) for b in strings)):
            raise UserError(f"block_strings must be a list of block strings (text), got {shown(strings)}")
        for key in ("name", "se_gate"):
            if not isinstance(values.get(key, ""), str):
                raise UserError(f"{key} must be text, got {shown(values[key])}")
        stem = None if values.get("stem_filters") is None else as_int(values["stem_filters"], "stem_filters")
        arch = cls.from_block_strings(strings, stem, as_int(values.get("head_filters", 1280), "head_filters"),
                                      values.get("name", ""), values.get("se_gate", "sigmoid"))
        if "dropout" in values:
            dropout = values["dropout"]
            if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
                raise UserError(f"dropout must be a number in [0, 1), got {shown(dropout)}")
            arch = replace(arch, dropout=float(dropout))
        if "arch_id" in values and values["arch_id"] != arch.arch_id:
            raise UserError(f"arch_id {shown(values['arch_id'])} does not match the block strings (id "
                            f"{arch.arch_id}); remove the arch_id or fix the blocks")
        return arch


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise UserError(message)


def _parse_int(text: str, key: str, value: str) -> int:
    if not re.fullmatch(r"-?[0-9]+", value):  # ASCII digits only: int() would also read full-width ones
        raise UserError(f"block string {text!r}: '{key}{value}' needs an integer after '{key}'")
    number = int(value)
    if number < 0:
        raise UserError(f"block string {text!r}: '{key}{value}' must not be negative")
    return number


def _parse_float(text: str, key: str, value: str) -> float:
    if not re.fullmatch(r"[0-9]*\.?[0-9]+(e-?[0-9]+)?", value):  # ASCII only, like _parse_int
        raise UserError(f"block string {text!r}: '{key}{value}' needs a number after '{key}'")
    number = float(value)
    if not math.isfinite(number):
        raise UserError(f"block string {text!r}: '{key}{value}' must be finite")
    return number
