"""NAS-Bench-Macro's search space and network: 8 layers x 3 choices of a CIFAR-10 MobileNet-style network.

NAS-Bench-Macro (Su et al., "Prioritized Architecture Sampling with Monto-Carlo Tree Search", CVPR 2021) trained
every network of a small MBConv space on CIFAR-10, which makes it the ground truth this project has for proxy
fidelity and for search strategies on real accuracies. A network is an 8-character key, one digit per searchable
layer: ``0`` Identity, ``1`` MB3_K3 (MBConv, expansion 3, kernel 3), ``2`` MB6_K5 (expansion 6, kernel 5).

The network, as its authors trained it (PyTorch; the data set's README gives it in full):

* stem: 3x3 conv, 32 filters, stride 1, BN, ReLU;
* three stages of 2, 3 and 3 layers; a stage's first layer has stride 2 and doubles the width (32 -> 64 -> 128 ->
  256), the others keep stride 1 and the width;
* an MBConv layer is 1x1 conv to ``in * t`` channels, BN, ReLU; k x k depthwise conv (padding k // 2), BN, ReLU;
  1x1 conv to the output width, BN, no activation; plus the input when the stride is 1 and the widths match;
* an Identity layer is the input itself, except where the stride or the width changes (a stage's first layer):
  there it is a 1x1 conv with the stride to the new width and BN, without activation;
* head: 1x1 conv to 1280, BN, ReLU, global average pooling, a dense classifier with bias. No squeeze-excitation,
  no dropout, no bias in any conv.

``MacroArch.build`` (in ``macro_network``) writes it as plain functional Keras. Its counts match the table exactly:
trainable parameters are its ``params``, ``mnaslib.spaces.counting`` mult-adds its ``flops``.

Equivalent keys: the authors trained only a canonical form of each key (within a stage, Identity layers after the
first layer are moved to the end), because an Identity layer at stride 1 changes nothing, so ``[first, 0, b]``
computes what ``[first, b, 0]`` computes. The 6,561 keys are 3,969 distinct networks (``distinct_keys``).
"""
from __future__ import annotations

import functools
import hashlib
import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Sequence

import numpy as np

from mnaslib.spaces.buildable import BuildOptions
from mnaslib.spaces.mnasnet import Decision, validate_tokens

if TYPE_CHECKING:
    import keras

CHOICES = ("Identity", "MB3_K3", "MB6_K5")
MBCONV = {1: (3, 3), 2: (6, 5)}  # token -> (expansion, kernel)
STAGE_LAYERS = (2, 3, 3)
STAGE_WIDTHS = (64, 128, 256)
STEM_WIDTH = 32
HEAD_WIDTH = 1280
NUM_LAYERS = sum(STAGE_LAYERS)
NUM_KEYS = len(CHOICES) ** NUM_LAYERS
# The benchmark's own network: 32x32 CIFAR-10 images, 10 classes, stride-1 stem.
MACRO_OPTIONS = BuildOptions(input_size=32, num_classes=10, stem_stride=1)


def check_key(key: object) -> str:
    """A key of the space (8 characters, each 0, 1 or 2), or a ``ValueError`` that says what is wrong."""
    if not isinstance(key, str):
        raise ValueError(f"a NAS-Bench-Macro key is a string of {NUM_LAYERS} digits 0-2 such as '22212220', "
                         f"got {type(key).__name__} {key!r}")
    if len(key) != NUM_LAYERS or any(c not in "012" for c in key):
        raise ValueError(f"a NAS-Bench-Macro key has {NUM_LAYERS} digits, each 0 (Identity), 1 (MB3_K3) or 2 "
                         f"(MB6_K5), such as '22212220'; got {key!r}")
    return key


def canonical_key(key: str) -> str:
    """The form the authors trained: in each stage, Identity layers after the first layer moved to the stage's end."""
    check_key(key)
    parts, start = [], 0
    for length in STAGE_LAYERS:
        first, rest = key[start], key[start + 1:start + length]
        parts.append(first + rest.replace("0", "") + "0" * rest.count("0"))
        start += length
    return "".join(parts)


def all_keys() -> list[str]:
    """The 6,561 keys, in sorted order."""
    return ["".join(digits) for digits in itertools.product("012", repeat=NUM_LAYERS)]


@functools.cache
def distinct_keys() -> tuple[str, ...]:
    """The canonical keys: one per distinct network (3,969), in sorted order."""
    return tuple(sorted({canonical_key(key) for key in all_keys()}))


class MacroLayer(NamedTuple):
    """One searchable layer at width multiplier 1: its place, its choice, stride and widths."""

    stage: int
    index: int
    token: int
    stride: int
    in_filters: int
    out_filters: int

    @property
    def name(self) -> str:
        return f"stage{self.stage}_layer{self.index}"

    @property
    def mbconv(self) -> tuple[int, int]:
        """(expansion, kernel) of an MBConv layer."""
        return MBCONV[self.token]

    @property
    def projects(self) -> bool:
        """An Identity layer that must change the stride or the width becomes a 1x1 conv + BN."""
        return self.token == 0 and (self.stride != 1 or self.in_filters != self.out_filters)

    def describe(self) -> str:
        """``stage1_layer1:MB6_K5_s2_i32_o64``; a projecting Identity reads ``Identity_proj1x1_s2_i32_o64``."""
        choice = CHOICES[self.token] + ("_proj1x1" if self.projects else "")
        return f"{self.name}:{choice}_s{self.stride}_i{self.in_filters}_o{self.out_filters}"


@dataclass(frozen=True)
class MacroArch:
    """A network of NAS-Bench-Macro, held as its 8-character key (``Buildable``).

    ``arch_id`` is computed from the *canonical* key, so equivalent keys (``22212220`` and ``22212202``) share one
    id: they are one network, trained once by the benchmark's authors, and a search that caches by id evaluates it
    once. ``block_strings`` and ``build`` follow the key as given; for equivalent keys they differ only in where a
    stride-1 Identity sits, which computes the same function.
    """

    key: str

    def __post_init__(self) -> None:
        check_key(self.key)

    @property
    def name(self) -> str:
        return f"nas-bench-macro-{self.key}"

    @property
    def canonical(self) -> "MacroArch":
        """The equivalent network in the form the authors trained."""
        return MacroArch(canonical_key(self.key))

    @property
    def arch_id(self) -> str:
        """A stable 12-hex-digit id of the canonical key: equivalent keys share it."""
        return hashlib.sha1(f"nas-bench-macro|{canonical_key(self.key)}".encode()).hexdigest()[:12]

    def layers(self) -> list[MacroLayer]:
        """The 8 searchable layers at width multiplier 1."""
        layers, position, width = [], 0, STEM_WIDTH
        for stage, (length, out_width) in enumerate(zip(STAGE_LAYERS, STAGE_WIDTHS), start=1):
            for index in range(1, length + 1):
                stride = 2 if index == 1 else 1
                layers.append(MacroLayer(stage, index, int(self.key[position]), stride, width, out_width))
                position, width = position + 1, out_width
        return layers

    def block_strings(self) -> list[str]:
        """One readable string per searchable layer (``stage1_layer1:MB6_K5_s2_i32_o64`` ...)."""
        return [layer.describe() for layer in self.layers()]

    def build(self, options: BuildOptions = MACRO_OPTIONS) -> "keras.Model":
        """The benchmark's network as a functional Keras model returning logits (see the module docstring).

        ``options.depth_multiplier`` scales every width (stem, stages, head; the expansions follow) with
        ``round_filters``, so a proxy can train it narrower; ``input_size``, ``num_classes``, ``stem_stride``
        and ``dropout`` (none by default, as the benchmark) apply as given. At ``MACRO_OPTIONS`` it is exactly the
        trained network.
        """
        # Imported here so that the space, the table and the searches on it work without loading TensorFlow.
        from mnaslib.spaces.macro_network import build_network  # lazy: keeps TensorFlow out of this module's import

        return build_network(self.layers(), self.name, options, STEM_WIDTH, HEAD_WIDTH)


@dataclass(frozen=True)
class MacroSpace:
    """The space as a controller sees it: 8 decisions of 3 choices; tokens are the key's digits."""

    @property
    def decisions(self) -> list[Decision]:
        return [Decision(layer.name, CHOICES) for layer in MacroArch("0" * NUM_LAYERS).layers()]

    @property
    def num_layers(self) -> int:
        return NUM_LAYERS

    def decision_sizes(self) -> list[tuple[str, int]]:
        """``(name, number of choices)`` pairs, the form the strategies take."""
        return [(d.name, d.size) for d in self.decisions]

    def log10_size(self) -> float:
        """log10 of the number of keys (3^8 = 6,561); distinct networks are fewer (``distinct_keys``)."""
        return NUM_LAYERS * math.log10(len(CHOICES))

    def check_tokens(self, tokens: Sequence[int]) -> list[int]:
        """Validate a token list, naming the first bad position."""
        if isinstance(tokens, str) or len(tokens) != NUM_LAYERS:
            raise ValueError(f"expected {NUM_LAYERS} tokens (one per searchable layer, each 0-2), got {tokens!r}")
        return validate_tokens(tokens, self.decisions)

    def decode(self, tokens: Sequence[int]) -> MacroArch:
        """Tokens -> the network (its key is the tokens' digits)."""
        return MacroArch("".join(str(t) for t in self.check_tokens(tokens)))

    def encode(self, arch: MacroArch | str) -> list[int]:
        """The network (or its key) -> its tokens; ``decode(encode(a)) == a`` (the key as given, not canonical)."""
        key = arch.key if isinstance(arch, MacroArch) else check_key(arch)
        return [int(c) for c in key]

    def sample(self, rng: np.random.Generator | int | None = None) -> list[int]:
        """Uniformly random tokens (seeded by an int or a numpy Generator)."""
        rng = np.random.default_rng(rng)
        return [int(t) for t in rng.integers(len(CHOICES), size=NUM_LAYERS)]
