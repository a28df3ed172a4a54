"""A NASNet-style cell-based search space (Zoph et al. 2018), the baseline space of the paper's Table 5.

MnasNet's ablation compares its factorized hierarchical space with the cell-based space of NASNet: the search finds
*one* normal cell and *one* reduction cell, and the network repeats them. The same controller searches both spaces,
because a cell is also just a sequence of categorical decisions; only the decoder and the builder differ. This
module gives the cell space the interface ``MnasNetSpace`` has (``decision_sizes``, ``decode``, ``encode``,
``sample``, ``check_tokens``), and its architecture type ``CellArch`` builds itself as a Keras model
(``build``): it is a ``Buildable`` like every network of the reproduction.

The cell (NASNet-A's construction, Zoph et al. 2018, section 3 and appendix A):

* A cell receives two hidden states, ``h0`` (the output of the cell two back) and ``h1`` (the previous cell).
  ``h1`` always passes through ReLU-1x1 conv-BN to the cell's ``F`` filters; ``h0`` is brought to ``h1``'s
  resolution by a *factorized reduction* (two stride-2 1x1 convs on offset pixel grids, concatenated, BN) when it is
  twice as large (it is, right after a reduction cell), else by ReLU-1x1 conv-BN when its width is not ``F``.
* Each of the ``B`` blocks picks two inputs among ``h0``, ``h1`` and the outputs of the cell's earlier blocks
  (``b1 ... b{i-1}``; block ``i`` has ``i + 1`` choices per input), one op for each input from ``OPS``, and adds the
  two results.
* The cell's output concatenates the outputs of the blocks no other block of the cell consumes (NASNet's "unused
  hidden states"; the cell inputs ``h0``/``h1`` are never concatenated), so the cell is ``k * F`` wide for the
  ``k`` unused blocks; the last block is always unused, so ``k >= 1``.
* In a reduction cell every op applied to ``h0`` or ``h1`` has stride 2 (ops on block outputs, already reduced, have
  stride 1), halving the resolution.

The op list (``OPS``, 9 ops) is taken from NASNet's 13 (section 3 of Zoph et al.):
identity, 1x1 conv, 3x3 conv, 1x7-then-7x1 conv, 3x3/5x5/7x7 depthwise-separable conv, 3x3 average pool and 3x3 max
pool. Left out: 5x5 and 7x7 max pooling and the 1x3-then-3x1 conv (near duplicates of kept ops) and the 3x3 dilated
conv (TensorFlow cannot combine a dilation with the stride 2 that reduction cells need). Op semantics follow the
NASNet code: convolutions are ReLU-conv-BN; a separable conv is that unit applied twice (the stride in the first);
pools have no parameters; an identity with stride 2 becomes ReLU-1x1 conv (stride 2)-BN, as in NASNet.

The network (NASNet-A Mobile): a 3x3 stem conv (stride ``stem_stride``) and BN, ``stem_cells`` reduction cells at
``F / 2^k`` filters (the ImageNet stem: ``F/4``, ``F/2``), then ``[N normal cells, 1 reduction cell] x 2, N normal
cells`` at ``F``, ``2F`` and ``4F`` filters (doubling at each reduction), ReLU, global average pooling, dropout and
a dense classifier. The defaults ``N = 4``, ``F = 44`` and two stem cells are NASNet-A Mobile's (4 @ 1056); a
224x224 input reaches the classifier at 7x7, as in MnasNet. NASNet's drop-path and auxiliary head are training
regularisers, not architecture, and are left out (proxy children train for a few epochs only).
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Sequence

import keras
import numpy as np
from keras import layers

from mnaslib.spaces.blocks import batch_norm, conv_initializer
from mnaslib.spaces.buildable import DEPLOYMENT, BuildOptions
from mnaslib.errors import UserError
from mnaslib.spaces.models import classifier_head, round_filters
from mnaslib.spaces.mnasnet import Decision, validate_tokens

OPS = ("identity", "conv_1x1", "conv_3x3", "conv_1x7_7x1", "sep_conv_3x3", "sep_conv_5x5", "sep_conv_7x7",
       "avg_pool_3x3", "max_pool_3x3")
CELL_KINDS = ("normal", "reduction")
PER_BLOCK = ("input_a", "input_b", "op_a", "op_b")


@dataclass(frozen=True)
class CellBlock:
    """One block of a cell: two inputs (0 = ``h0``, 1 = ``h1``, ``2 + j`` = block ``j + 1``), an op for each, add."""

    inputs: tuple[int, int]
    ops: tuple[str, str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(int(i) for i in self.inputs))
        object.__setattr__(self, "ops", tuple(self.ops))
        if len(self.inputs) != 2 or len(self.ops) != 2:
            raise UserError(f"a cell block has exactly two inputs and two ops, got {self.inputs} and {self.ops}")
        for op in self.ops:
            if op not in OPS:
                raise UserError(f"unknown cell op {op!r}; known: {', '.join(OPS)}")
        if min(self.inputs) < 0:
            raise UserError(f"block inputs must be >= 0, got {self.inputs}")


@dataclass(frozen=True)
class CellArch:
    """A normal and a reduction cell plus the network settings that stack them (see the module docstring)."""

    normal: tuple[CellBlock, ...]
    reduction: tuple[CellBlock, ...]
    num_cells: int = 4
    filters: int = 44
    stem_filters: int = 32
    stem_cells: int = 2
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "normal", tuple(self.normal))
        object.__setattr__(self, "reduction", tuple(self.reduction))
        _check_network(self.num_cells, self.filters, self.stem_filters, self.stem_cells)
        for kind in CELL_KINDS:
            blocks = self.cell(kind)
            if not blocks:
                raise UserError(f"the {kind} cell needs at least one block")
            for index, block in enumerate(blocks):
                if max(block.inputs) >= 2 + index:
                    raise UserError(f"{kind} cell, block {index + 1}: input {max(block.inputs)} does not exist yet "
                                    f"(block {index + 1} can use h0, h1 and blocks 1..{index}, i.e. 0..{index + 1})")

    def cell(self, kind: str) -> tuple[CellBlock, ...]:
        """The blocks of the ``normal`` or ``reduction`` cell."""
        if kind not in CELL_KINDS:
            raise UserError(f"unknown cell kind {kind!r}; expected one of {CELL_KINDS}")
        return self.normal if kind == "normal" else self.reduction

    def output_states(self, kind: str) -> list[int]:
        """Indices (``2 + j`` for block ``j + 1``) of the block outputs the cell concatenates: those no block uses."""
        blocks = self.cell(kind)
        used = {i for block in blocks for i in block.inputs}
        return [2 + j for j in range(len(blocks)) if 2 + j not in used]

    def block_strings(self) -> list[str]:
        """One readable line per cell, e.g. ``normal: b1=sep_conv_3x3(h1)+identity(h0); ...; out=concat(b1)``.

        Lossless for the cells (the network settings are in ``arch_id`` and the fields), and what the trial store
        and the tables show.
        """
        lines = []
        for kind in CELL_KINDS:
            parts = [f"b{j + 1}={block.ops[0]}({_state_name(block.inputs[0])})+"
                     f"{block.ops[1]}({_state_name(block.inputs[1])})" for j, block in enumerate(self.cell(kind))]
            out = ",".join(_state_name(i) for i in self.output_states(kind))
            lines.append(f"{kind}: " + "; ".join(parts) + f"; out=concat({out})")
        return lines

    @property
    def arch_id(self) -> str:
        """A stable 12-hex-digit id of the cells *and* the network settings (the same cells stacked differently
        are a different network with a different latency)."""
        key = (f"cells|N{self.num_cells}|F{self.filters}|stem{self.stem_filters}|stemcells{self.stem_cells}|"
               + "|".join(self.block_strings()))
        return hashlib.sha1(key.encode()).hexdigest()[:12]

    @property
    def num_layers(self) -> int:
        """The number of cells in the network (stem reduction cells, ``3N`` normal and 2 reduction cells): the
        cell space's counterpart of MnasNet's layer count."""
        return self.stem_cells + 3 * self.num_cells + 2

    def cell_plan(self) -> list[tuple[str, int]]:
        """``(kind, filters before the depth multiplier)`` for every cell, in order."""
        plan = [("reduction", max(1, self.filters // 2 ** (self.stem_cells - i))) for i in range(self.stem_cells)]
        for stage in range(3):
            plan += [("normal", self.filters * 2 ** stage)] * self.num_cells
            if stage < 2:
                plan.append(("reduction", self.filters * 2 ** (stage + 1)))
        return plan

    def build(self, options: BuildOptions = DEPLOYMENT) -> keras.Model:
        """The functional Keras model (logits), layers named ``cell03_normal_b2_a_sep_conv_3x3_1_sepconv`` etc.

        ``options.depth_multiplier`` scales ``F`` and the stem with MnasNet's rounding (so proxy children shrink the
        same way in both spaces); ``stem_stride=1`` keeps small proxy inputs (32x32) from vanishing before the last
        cell. NASNet's cells are trained without dropout unless ``options.dropout`` asks for it.
        """
        input_size, stem_stride, depth_multiplier = options.input_size, options.stem_stride, options.depth_multiplier
        dropout = options.dropout or 0.0
        reductions = self.stem_cells + 2
        if input_size < stem_stride * 2 ** reductions:
            raise UserError(f"input_size {input_size} is too small: a stem stride of {stem_stride} and "
                            f"{reductions} reduction cells need at least {stem_stride * 2 ** reductions} pixels")

        inputs = keras.Input((input_size, input_size, 3), name="image")
        x = layers.Conv2D(round_filters(self.stem_filters, depth_multiplier), 3, strides=stem_stride, padding="same",
                          use_bias=False, kernel_initializer=conv_initializer(), name="stem_conv")(inputs)
        cur = batch_norm(x, "stem_bn")
        prev = None
        for index, (kind, base_filters) in enumerate(self.cell_plan()):
            filters = max(1, round_filters(base_filters, depth_multiplier))
            prev, cur = cur, _cell(self.cell(kind), self.output_states(kind), kind, prev, cur, filters,
                                   f"cell{index:02d}_{kind}")
        x = layers.ReLU(name="head_relu")(cur)
        suffix = "" if depth_multiplier == 1.0 else f"-x{depth_multiplier:g}"
        return classifier_head(inputs, x, options.num_classes, dropout,
                               f"{self.name or 'cells-' + self.arch_id}{suffix}")


@dataclass(frozen=True)
class CellSpace:
    """The cell-based space: for each of the two cells, per block, two inputs and two ops (4 decisions).

    ``blocks`` is B (5 in NASNet; 2 keeps ci children tiny), ``num_cells`` N, ``filters`` F; the last three only
    shape the network the cells are stacked into and are fixed during a search.
    """

    blocks: int = 5
    num_cells: int = 4
    filters: int = 44
    stem_filters: int = 32
    stem_cells: int = 2
    ops: tuple[str, ...] = OPS
    _decisions: tuple[Decision, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.blocks, bool) or not isinstance(self.blocks, (int, np.integer)) or self.blocks < 1:
            raise UserError(f"blocks must be an integer >= 1, got {self.blocks!r}")
        _check_network(self.num_cells, self.filters, self.stem_filters, self.stem_cells)
        if not isinstance(self.ops, (list, tuple)):
            raise UserError(f"ops must be a list of cell op names ({', '.join(OPS)}), got {self.ops!r}")
        object.__setattr__(self, "ops", tuple(self.ops))
        if not self.ops:
            raise UserError("the op list is empty")
        for op in self.ops:
            if op not in OPS:
                raise UserError(f"unknown cell op {op!r}; known: {', '.join(OPS)}")
        decisions = []
        for kind in CELL_KINDS:
            for b in range(self.blocks):
                states = tuple(_state_name(i) for i in range(2 + b))
                decisions += [Decision(f"{kind}_b{b + 1}_input_a", states),
                              Decision(f"{kind}_b{b + 1}_input_b", states),
                              Decision(f"{kind}_b{b + 1}_op_a", self.ops), Decision(f"{kind}_b{b + 1}_op_b", self.ops)]
        object.__setattr__(self, "_decisions", tuple(decisions))

    @property
    def decisions(self) -> list[Decision]:
        """Cell by cell (normal, then reduction), block by block: input a, input b, op a, op b."""
        return list(self._decisions)

    def decision_sizes(self) -> list[tuple[str, int]]:
        """``(name, number of choices)`` pairs; input decisions of block ``i`` have ``i + 1`` choices."""
        return [(d.name, d.size) for d in self._decisions]

    def log10_size(self) -> float:
        """log10 of the number of token sequences (cells counted as ordered lists, as the controller emits them)."""
        return math.fsum(math.log10(d.size) for d in self._decisions)

    def check_tokens(self, tokens: Sequence[int]) -> list[int]:
        """Validate a token list, naming the first bad position and its decision."""
        if len(tokens) != len(self._decisions):
            raise UserError(f"expected {len(self._decisions)} tokens ({len(PER_BLOCK)} per block x {self.blocks} "
                            f"blocks x 2 cells), got {len(tokens)}")
        return validate_tokens(tokens, self._decisions)

    def decode(self, tokens: Sequence[int], name: str = "") -> CellArch:
        """Tokens -> the network they describe."""
        tokens = self.check_tokens(tokens)
        cells = []
        per_cell = len(PER_BLOCK) * self.blocks
        for c in range(len(CELL_KINDS)):
            chunk = tokens[c * per_cell:(c + 1) * per_cell]
            cells.append(tuple(CellBlock((chunk[4 * b], chunk[4 * b + 1]),
                                         (self.ops[chunk[4 * b + 2]], self.ops[chunk[4 * b + 3]]))
                               for b in range(self.blocks)))
        return CellArch(cells[0], cells[1], self.num_cells, self.filters, self.stem_filters, self.stem_cells, name)

    def encode(self, arch: CellArch) -> list[int]:
        """The network -> its tokens; raises ``ValueError`` naming what is outside the space."""
        settings = ("num_cells", "filters", "stem_filters", "stem_cells")
        for setting in settings:
            if getattr(arch, setting) != getattr(self, setting):
                raise UserError(f"the space fixes {setting} = {getattr(self, setting)}, the architecture has "
                                f"{getattr(arch, setting)}")
        tokens: list[int] = []
        for kind in CELL_KINDS:
            blocks = arch.cell(kind)
            if len(blocks) != self.blocks:
                raise UserError(f"the space has {self.blocks} blocks per cell, the {kind} cell has {len(blocks)}")
            for b, block in enumerate(blocks):
                for op in block.ops:
                    if op not in self.ops:
                        raise UserError(f"{kind} cell, block {b + 1}: op {op!r} is not a choice of this space "
                                        f"{self.ops}")
                tokens += [*block.inputs, self.ops.index(block.ops[0]), self.ops.index(block.ops[1])]
        return tokens

    def sample(self, rng: np.random.Generator | int | None = None) -> list[int]:
        """Uniformly random tokens (seeded by an int or a numpy Generator)."""
        rng = np.random.default_rng(rng)
        return [int(rng.integers(d.size)) for d in self._decisions]


def nasnet_a(num_cells: int = 4, filters: int = 44, stem_filters: int = 32, stem_cells: int = 2) -> CellArch:
    """NASNet-A's published cells (Zoph et al. 2018, Figure 4 / the released ``nasnet_utils.py``) in this space.

    A point of reference for the cell space (Table 1's NASNet-A: 5.3M params, 564M mult-adds at 224x224). Our
    output rule concatenates only unconsumed blocks, while NASNet-A's released configuration also concatenates
    ``h0`` in the normal cell and its block 2 in the reduction cell, so this rendition is 5F rather than 6F wide
    after a normal cell and a little smaller than NASNet-A Mobile.
    """
    def block(a: int, b: int, op_a: str, op_b: str) -> CellBlock:
        return CellBlock((a, b), (op_a, op_b))

    normal = (block(1, 0, "sep_conv_5x5", "sep_conv_3x3"), block(0, 0, "sep_conv_5x5", "sep_conv_3x3"),
              block(1, 0, "avg_pool_3x3", "identity"), block(0, 0, "avg_pool_3x3", "avg_pool_3x3"),
              block(1, 1, "sep_conv_3x3", "identity"))
    reduction = (block(1, 0, "sep_conv_5x5", "sep_conv_7x7"), block(1, 0, "max_pool_3x3", "sep_conv_7x7"),
                 block(1, 0, "avg_pool_3x3", "sep_conv_5x5"), block(2, 3, "avg_pool_3x3", "identity"),
                 block(2, 1, "sep_conv_3x3", "max_pool_3x3"))
    return CellArch(normal, reduction, num_cells, filters, stem_filters, stem_cells, name="nasnet-a")


def _check_network(num_cells: int, filters: int, stem_filters: int, stem_cells: int) -> None:
    for label, value, low in (("num_cells", num_cells, 1), ("filters", filters, 1), ("stem_filters", stem_filters, 1),
                              ("stem_cells", stem_cells, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise UserError(f"{label} must be an integer >= {low}, got {value!r}")


def _state_name(index: int) -> str:
    return f"h{index}" if index < 2 else f"b{index - 1}"


# ---------------------------------------------------------------------------------------------------------------
# Keras layers of a cell
# ---------------------------------------------------------------------------------------------------------------
def _relu_conv_bn(x, filters: int, kernel: int | tuple[int, int], stride: int, name: str):
    """NASNet's unit: ReLU, conv (no bias), BN (the BN folds into the conv and the ReLU runs on its own)."""
    x = layers.ReLU(name=f"{name}_relu")(x)
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False,
                      kernel_initializer=conv_initializer(), name=f"{name}_conv")(x)
    return batch_norm(x, f"{name}_bn")


def _factorized_reduction(x, filters: int, name: str):
    """Halve the resolution without discarding pixels: two stride-2 1x1 convs, the second on the grid shifted by
    one pixel, concatenated to ``filters`` channels (NASNet's fix for a skip input twice the cell's size)."""
    x = layers.ReLU(name=f"{name}_relu")(x)
    half = filters // 2
    path1 = layers.AveragePooling2D(1, strides=2, padding="valid", name=f"{name}_path1_pool")(x)
    path1 = layers.Conv2D(half, 1, use_bias=False, kernel_initializer=conv_initializer(),
                          name=f"{name}_path1_conv")(path1)
    path2 = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"{name}_path2_pad")(x)
    path2 = layers.Cropping2D(((1, 0), (1, 0)), name=f"{name}_path2_crop")(path2)
    path2 = layers.AveragePooling2D(1, strides=2, padding="valid", name=f"{name}_path2_pool")(path2)
    path2 = layers.Conv2D(filters - half, 1, use_bias=False, kernel_initializer=conv_initializer(),
                          name=f"{name}_path2_conv")(path2)
    x = layers.Concatenate(name=f"{name}_concat")([path1, path2])
    return batch_norm(x, f"{name}_bn")


def _op(x, op: str, filters: int, stride: int, name: str):
    """One cell op on a tensor that already has ``filters`` channels."""
    if op == "identity":
        return x if stride == 1 else _relu_conv_bn(x, filters, 1, stride, name)
    if op in ("avg_pool_3x3", "max_pool_3x3"):
        pool = layers.AveragePooling2D if op.startswith("avg") else layers.MaxPooling2D
        return pool(3, strides=stride, padding="same", name=f"{name}_pool")(x)
    if op in ("conv_1x1", "conv_3x3"):
        return _relu_conv_bn(x, filters, int(op[-1]), stride, name)
    if op == "conv_1x7_7x1":
        x = layers.ReLU(name=f"{name}_relu")(x)
        x = layers.Conv2D(filters, (1, 7), strides=stride, padding="same", use_bias=False,
                          kernel_initializer=conv_initializer(), name=f"{name}_conv1x7")(x)
        x = layers.Conv2D(filters, (7, 1), padding="same", use_bias=False, kernel_initializer=conv_initializer(),
                          name=f"{name}_conv7x1")(x)
        return batch_norm(x, f"{name}_bn")
    kernel = int(op[-1])  # sep_conv_k: ReLU-sepconv-BN twice, the stride in the first
    for repeat, step in ((1, stride), (2, 1)):
        x = layers.ReLU(name=f"{name}_{repeat}_relu")(x)
        x = layers.SeparableConv2D(filters, kernel, strides=step, padding="same", use_bias=False,
                                   depthwise_initializer=conv_initializer(), pointwise_initializer=conv_initializer(),
                                   name=f"{name}_{repeat}_sepconv")(x)
        x = batch_norm(x, f"{name}_{repeat}_bn")
    return x


def _cell(blocks: Sequence[CellBlock], outputs: Sequence[int], kind: str, prev, cur, filters: int, name: str):
    """Build one cell from the hidden states ``prev`` (``h0``; None for the first cell) and ``cur`` (``h1``)."""
    h1 = _relu_conv_bn(cur, filters, 1, 1, f"{name}_h1")
    if prev is None:
        h0 = h1
    elif prev.shape[1] != cur.shape[1]:
        h0 = _factorized_reduction(prev, filters, f"{name}_h0_reduce")
    elif prev.shape[-1] != filters:
        h0 = _relu_conv_bn(prev, filters, 1, 1, f"{name}_h0")
    else:
        h0 = prev
    states = [h0, h1]
    for j, block in enumerate(blocks):
        branches = []
        for side, state, op in zip("ab", block.inputs, block.ops):
            stride = 2 if kind == "reduction" and state < 2 else 1
            branches.append(_op(states[state], op, filters, stride, f"{name}_b{j + 1}_{side}_{op}"))
        states.append(layers.Add(name=f"{name}_b{j + 1}_add")(branches))
    if len(outputs) == 1:
        return states[outputs[0]]
    return layers.Concatenate(name=f"{name}_out")([states[i] for i in outputs])
