"""The operator list of a network, from a Keras model or analytically from an ``Arch``, for the latency cost models.

A latency cost model needs to know what the runtime executes, which is not the Keras layer list: the TFLite
converter folds batch norm into the preceding convolution and fuses a following ReLU/ReLU6, while a stand-alone
ReLU (NASNet's pre-activations), a sigmoid, a padding layer or a concatenation each become a kernel of their own.
A hard sigmoid, ``relu6(x + 3) / 6``, after a convolution (or its folded batch norm) leaves one kernel, the
``MUL`` by 1/6: the converter folds the ``+ 3`` into the convolution's bias and fuses the ReLU6; anywhere else it
is two (``ADD`` with a fused ReLU6, then ``MUL``). Checked on the flatbuffers of TensorFlow 2.21's converter.
``Op`` records one executed operator with what drives its cost on a CPU: its kind, the activation elements it reads
and writes, and its mult-adds (counted by :func:`mnaslib.spaces.counting.layer_mult_adds`, so the totals equal
``profile_model``'s).

Two paths produce the same list:

* :func:`keras_ops` walks any Keras functional model (MnasNet builds, Keras' MobileNet/MobileNetV2/NASNetMobile),
  applying the fusion rules above; it needs a built model, so it is slow (a model build is ~0.1-1 s);
* :func:`arch_ops` derives the list from an ``Arch``, a depth multiplier and an input size with the exact
  rounding, stride and skip logic of :func:`mnaslib.spaces.models.build_model`, without building anything (tens of
  microseconds), which is what a search needs. The tests check that both paths agree op for op.

The same walk also yields the network's *layers* (:func:`arch_layers`): one record per stem, block layer and
head, keyed by everything that decides its cost. The host layer table measures and caches latencies per layer, and
:func:`arch_params` counts a network's trainable parameters from them (equal to ``summarize``'s count of the built
model, for checking a whole benchmark's published counts without building thousands of models).
"""
from __future__ import annotations

import functools
import math
from typing import Iterator, NamedTuple

import keras
from keras import layers

from mnaslib.spaces.buildable import DEPLOYMENT, BuildOptions
from mnaslib.spaces.models import round_filters
from mnaslib.spaces.zoo import as_arch
from mnaslib.spaces.counting import layer_mult_adds
from mnaslib.spaces.arch import Arch, BlockSpec



class Op(NamedTuple):
    """One operator the runtime executes: its kind (``conv1x1``, ``convkxk``, ``depthwise``, ``dense``,
    ``elementwise``, ``softmax`` (a classifier's), ``pool``, ``pad`` (explicit padding/cropping) or ``copy``
    (concatenation)), the activation elements it reads and writes, its mult-adds (0 for ops without
    multiply-accumulates) and, for the kinds with mult-adds, its input and output channels (a depthwise
    convolution's are equal)."""

    kind: str
    in_elems: int
    out_elems: int
    mult_adds: int
    in_channels: int = 0   # of a convolution or dense layer: the channels it reduces over (a kernel's efficiency
    out_channels: int = 0  # depends on them as well as on its mult-adds); 0 for every other op


# ---------------------------------------------------------------------------------------------------------------
# Keras model -> ops
# ---------------------------------------------------------------------------------------------------------------
_CONV_TYPES = (layers.Conv2D, layers.DepthwiseConv2D, layers.SeparableConv2D, layers.Dense)
_FUSABLE_ACTIVATIONS = ("relu", "relu6", "linear")
_POOL_TYPES = (layers.AveragePooling2D, layers.MaxPooling2D, layers.GlobalAveragePooling2D,
               layers.GlobalMaxPooling2D)
_PAD_TYPES = (layers.ZeroPadding2D, layers.Cropping2D)
_ELEMENTWISE_TYPES = (layers.Add, layers.Multiply, layers.Subtract, layers.Maximum, layers.Minimum,
                      layers.Average)
# Layers that cost nothing at inference: reshaping a contiguous buffer moves no data, and the converter removes
# dropout.
_FREE_TYPES = (layers.InputLayer, layers.Dropout, layers.Reshape, layers.Flatten)


def _elems(shape) -> int:
    return int(math.prod(d for d in shape[1:]))


def _tensors(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _producer(layer: keras.layers.Layer):
    """The layer that produced this layer's (single) input."""
    return _tensors(layer.input)[0]._keras_history.operation


def _single_consumer(layer: keras.layers.Layer) -> bool:
    """A producer's output can only absorb a following op when nothing else reads the unfused value."""
    return len(layer._outbound_nodes) == 1


def _activation_name(layer: keras.layers.Layer) -> str:
    """The activation a layer applies: 'relu' / 'relu6' / 'linear' / other names, for fusion decisions."""
    if isinstance(layer, layers.ReLU):
        plain = float(layer.negative_slope) == 0.0 and float(layer.threshold) == 0.0
        if plain and layer.max_value is None:
            return "relu"
        if plain and layer.max_value is not None and float(layer.max_value) == 6.0:
            return "relu6"
        return "leaky_or_clipped_relu"
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", str(activation)) if activation is not None else "linear"


def _folded_bn(layer: keras.layers.Layer) -> bool:
    """Batch norm directly after a convolution/dense layer is folded into its weights by the converter."""
    producer = _producer(layer)
    return (isinstance(layer, layers.BatchNormalization) and isinstance(producer, _CONV_TYPES)
            and _activation_name(producer) == "linear" and _single_consumer(producer))


def _fused_activation(layer: keras.layers.Layer) -> bool:
    """A ReLU/ReLU6 right after a conv (or its folded BN) or an add is fused into that op's kernel."""
    if _activation_name(layer) not in _FUSABLE_ACTIVATIONS:
        return False
    producer = _producer(layer)
    if not _single_consumer(producer):
        return False
    if isinstance(producer, layers.BatchNormalization):
        return _folded_bn(producer)
    if isinstance(producer, _CONV_TYPES):
        return _activation_name(producer) == "linear"
    return isinstance(producer, layers.Add)


def _absorbs_add(producer: keras.layers.Layer) -> bool:
    """Whether a hard sigmoid's ``+ 3`` and ReLU6 fold into its producer: a linear convolution or dense layer, or
    the batch norm folded into one, read by nothing else."""
    if not _single_consumer(producer):
        return False
    if isinstance(producer, layers.BatchNormalization):
        return _folded_bn(producer)
    return isinstance(producer, _CONV_TYPES) and _activation_name(producer) == "linear"


def _layer_ops(layer: keras.layers.Layer) -> list[Op]:
    """The ops one Keras layer becomes (empty when folded, fused or free)."""
    if isinstance(layer, _FREE_TYPES):
        return []
    out = _elems(layer.output.shape)
    ins = sum(_elems(t.shape) for t in _tensors(layer.input))
    if isinstance(layer, _CONV_TYPES):
        ops, c_in, c_out = [], int(layer.input.shape[-1]), int(layer.output.shape[-1])
        if isinstance(layer, layers.SeparableConv2D):
            channels = c_in * layer.depth_multiplier
            mid = _elems(layer.output.shape[:-1] + (channels,))
            kh, kw = layer.kernel_size
            depthwise = mid * kh * kw
            ops += [Op("depthwise", ins, mid, depthwise, channels, channels),
                    Op("conv1x1", mid, out, layer_mult_adds(layer) - depthwise, channels, c_out)]
        elif isinstance(layer, layers.DepthwiseConv2D):
            ops.append(Op("depthwise", ins, out, layer_mult_adds(layer), c_out, c_out))
        elif isinstance(layer, layers.Dense):
            ops.append(Op("dense", ins, out, layer_mult_adds(layer), c_in, c_out))
        else:
            kind = "conv1x1" if tuple(layer.kernel_size) == (1, 1) else "convkxk"
            ops.append(Op(kind, ins, out, layer_mult_adds(layer), c_in, c_out))
        activation = _activation_name(layer)
        if activation not in _FUSABLE_ACTIVATIONS:  # sigmoid, softmax ...: a kernel of their own (of a hard
            ops.append(Op("softmax" if activation == "softmax" else "elementwise", out, out, 0))  # sigmoid, the MUL)
        return ops
    if isinstance(layer, layers.BatchNormalization):
        return [] if _folded_bn(layer) else [Op("elementwise", ins, out, 0)]
    if isinstance(layer, (layers.Activation, layers.ReLU)):
        if _activation_name(layer) == "linear" or _fused_activation(layer):
            return []
        if _activation_name(layer) == "hard_sigmoid" and not _absorbs_add(_producer(layer)):
            return [Op("elementwise", ins, out, 0), Op("elementwise", ins, out, 0)]  # ADD + RELU6, then MUL
        return [Op("elementwise", ins, out, 0)]
    if isinstance(layer, _ELEMENTWISE_TYPES):
        return [Op("elementwise", ins, out, 0)]
    if isinstance(layer, _POOL_TYPES):
        return [Op("pool", ins, out, 0)]
    if isinstance(layer, _PAD_TYPES):
        return [Op("pad", ins, out, 0)]
    if isinstance(layer, layers.Concatenate):
        return [Op("copy", ins, out, 0)]
    raise ValueError(f"layer {layer.name!r} of type {type(layer).__name__} has no latency cost rule; known types: "
                     "convolutions, dense, batch norm, activations/ReLU, add/multiply, pooling, padding/cropping/"
                     "concatenate, dropout/reshape/flatten")


def keras_ops(model: keras.Model) -> list[Op]:
    """The executed ops of a Keras functional model, in layer order (nested models are walked)."""
    ops: list[Op] = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            ops += keras_ops(layer)
        else:
            ops += _layer_ops(layer)
    return ops


# ---------------------------------------------------------------------------------------------------------------
# Arch -> layers and ops, without building a model
# ---------------------------------------------------------------------------------------------------------------
class LayerKey(NamedTuple):
    """One layer of a network with everything that decides its cost (two layers with equal keys build identical
    TFLite graphs up to weight values). A named tuple, because a search creates millions of them and hashes each.

    ``part`` is ``stem``, ``block`` or ``head``. For a block layer: ``op`` (mbconv/conv), ``kernel``, ``stride``,
    ``expand_ratio``, the declared (depth-multiplied) ``in_filters`` that set the expansion and SE widths, the
    ``in_channels`` of the tensor it actually receives, ``se_channels`` (the SE reduced width, 0 without SE),
    ``out_channels``, the input ``resolution`` and the effective ``skip``: ``add`` (identity residual), ``pool``,
    ``proj`` or ``pool-proj`` (the pooling SkipOp's shortcut; ``shortcut`` when it needs neither) or ``none``.
    The head's ``out_channels`` is its 1x1 conv width and ``classes`` the dense layer's units. ``gate`` is the SE
    gate of a layer with SE (``sigmoid`` for every layer without one, so identical layers get one key).
    """

    part: str
    in_channels: int
    out_channels: int
    resolution: int
    kernel: int = 1
    stride: int = 1
    op: str = ""
    expand_ratio: int = 1
    in_filters: int = 0
    se_channels: int = 0
    skip: str = "none"
    classes: int = 0
    gate: str = "sigmoid"

    @property
    def text(self) -> str:
        """A stable string for cache files, e.g. ``block|mbconv|k3|s2|e6|f16|i16|se0|o24|r112|none`` (a hard-sigmoid
        SE layer ends in ``|hard_sigmoid``)."""
        if self.part == "stem":
            return f"stem|k{self.kernel}|s{self.stride}|i{self.in_channels}|o{self.out_channels}|r{self.resolution}"
        if self.part == "head":
            return f"head|i{self.in_channels}|o{self.out_channels}|r{self.resolution}|n{self.classes}"
        gate = "" if self.gate == "sigmoid" else f"|{self.gate}"  # sigmoid keys keep their cached text
        return (f"block|{self.op}|k{self.kernel}|s{self.stride}|e{self.expand_ratio}|f{self.in_filters}|"
                f"i{self.in_channels}|se{self.se_channels}|o{self.out_channels}|r{self.resolution}|{self.skip}"
                f"{gate}")

    @property
    def out_resolution(self) -> int:
        return _out_size(self.resolution, self.stride)

    def block_spec(self) -> BlockSpec:
        """A ``BlockSpec`` whose single layer, built by ``block_layer`` with ``in_filters``/``out_channels`` and
        ``stride``, is exactly this layer (the SE ratio is chosen so that ``max(1, int(in_filters * ratio))``
        gives back ``se_channels``)."""
        if self.part != "block":
            raise ValueError(f"only block layers have a BlockSpec, this is the {self.part}")
        se_ratio = min(1.0, (self.se_channels + 0.5) / self.in_filters) if self.se_channels else 0.0
        skip = {"add": "identity", "none": "none"}.get(self.skip, "pool")
        return BlockSpec(1, self.kernel, self.stride, self.expand_ratio, self.in_filters, self.out_channels,
                         se_ratio, skip, self.op)


def _out_size(size: int, stride: int) -> int:
    """'same' padding: ceil(size / stride)."""
    return -(-size // stride)


def _effective_skip(spec: BlockSpec, in_filters: int, out_filters: int, stride: int, in_channels: int) -> str:
    """Mirror of ``blocks._skip``: which residual, if any, a layer gets."""
    if spec.skip == "none":
        return "none"
    if stride == 1 and in_filters == out_filters == in_channels:
        return "add"
    if spec.skip == "identity":
        return "none"
    parts = (["pool"] if stride != 1 else []) + (["proj"] if in_channels != out_filters else [])
    # The pooling SkipOp with matching shapes but a declared width that differs (mnasnet-small) is a plain add.
    return "-".join(parts) or "shortcut"


def _block_key(spec: BlockSpec, channels: int, declared: int, out_filters: int, size: int, stride: int,
               se_gate: str) -> LayerKey:
    se = max(1, int(declared * spec.se_ratio)) if spec.se_ratio > 0 else 0
    return LayerKey("block", channels, out_filters, size, spec.kernel, stride, spec.op, spec.expand_ratio, declared,
                    se, _effective_skip(spec, declared, out_filters, stride, channels),
                    gate=se_gate if se else "sigmoid")


@functools.lru_cache(maxsize=1 << 16)
def block_layers(spec: BlockSpec, in_channels: int, resolution: int, depth_multiplier: float,
                 se_gate: str = "sigmoid") -> tuple[LayerKey, ...]:
    """The layers of one block receiving ``in_channels`` at ``resolution`` (cached: a search space has few distinct
    blocks in context, and this walk is what a cost-model prediction spends its time on)."""
    in_filters = round_filters(spec.in_filters, depth_multiplier)
    out_filters = round_filters(spec.out_filters, depth_multiplier)
    first = _block_key(spec, in_channels, in_filters, out_filters, resolution, spec.stride, se_gate)
    if spec.repeats == 1:
        return (first,)
    # The later layers of a block are identical: one key, repeated.
    return (first,) + (_block_key(spec, out_filters, out_filters, out_filters, first.out_resolution, 1, se_gate),) * \
        (spec.repeats - 1)


def stem_layer(arch: Arch, options: BuildOptions) -> LayerKey:
    return LayerKey("stem", 3, round_filters(arch.stem_filters, options.depth_multiplier), options.input_size,
                    kernel=3, stride=options.stem_stride)


def head_layer(arch: Arch, last: LayerKey, num_classes: int) -> LayerKey:
    """The head after the network's ``last`` layer."""
    return LayerKey("head", last.out_channels, arch.head_filters, last.out_resolution, classes=num_classes)


def arch_layers(arch: Arch | str, options: BuildOptions = DEPLOYMENT) -> list[LayerKey]:
    """Stem, every block layer and head of ``arch.build(options)``, in order."""
    arch = as_arch(arch)
    keys = [stem_layer(arch, options)]
    for spec in arch.blocks:
        keys += block_layers(spec, keys[-1].out_channels, keys[-1].out_resolution, options.depth_multiplier,
                             arch.se_gate)
    keys.append(head_layer(arch, keys[-1], options.num_classes))
    return keys


def layer_ops(key: LayerKey) -> Iterator[Op]:
    """The ops of one layer, exactly as :func:`keras_ops` finds them in the built model."""
    h, c = key.resolution, key.in_channels
    if key.part == "stem":
        ho = key.out_resolution
        yield Op("convkxk", h * h * c, ho * ho * key.out_channels, ho * ho * 9 * c * key.out_channels, c,
                 key.out_channels)
        return
    if key.part == "head":
        hw, f = h * h, key.out_channels
        yield Op("conv1x1", hw * c, hw * f, hw * c * f, c, f)
        yield Op("pool", hw * f, f, 0)
        yield Op("dense", f, key.classes, f * key.classes, f, key.classes)
        return
    ho, k, o = key.out_resolution, key.kernel, key.out_channels
    hw, hwo = h * h, ho * ho
    if key.op == "conv":
        yield Op("conv1x1" if k == 1 else "convkxk", hw * c, hwo * o, hwo * k * k * c * o, c, o)
        mid = o
    else:
        mid = c
        if key.expand_ratio != 1:
            mid = key.in_filters * key.expand_ratio
            yield Op("conv1x1", hw * c, hw * mid, hw * c * mid, c, mid)
        yield Op("depthwise", hw * mid, hwo * mid, hwo * k * k * mid, mid, mid)
    if key.se_channels:
        se = key.se_channels
        yield Op("pool", hwo * mid, mid, 0)
        yield Op("conv1x1", mid, se, mid * se, mid, se)
        yield Op("conv1x1", se, mid, se * mid, se, mid)
        yield Op("elementwise", mid, mid, 0)  # the sigmoid (LOGISTIC), or the hard sigmoid's MUL by 1/6
        yield Op("elementwise", hwo * mid + mid, hwo * mid, 0)  # the rescale
    if key.op != "conv":
        yield Op("conv1x1", hwo * mid, hwo * o, hwo * mid * o, mid, o)
    if key.skip == "none":
        return
    if "pool" in key.skip:
        yield Op("pool", hw * c, hwo * c, 0)
    if "proj" in key.skip:
        yield Op("conv1x1", hwo * c, hwo * o, hwo * c * o, c, o)
    yield Op("elementwise", 2 * hwo * o, hwo * o, 0)


def arch_ops(arch: Arch | str, options: BuildOptions = DEPLOYMENT) -> list[Op]:
    """The executed ops of ``arch.build(options)`` computed analytically (equal to ``keras_ops`` of the model)."""
    return [op for key in arch_layers(arch, options) for op in layer_ops(key)]


def layer_params(key: LayerKey) -> int:
    """Trainable parameters of one layer of ``build_model``: convolutions without bias, 2 per batch-norm channel
    (gamma and beta), SE convolutions and the classifier with biases."""
    c, o = key.in_channels, key.out_channels
    if key.part == "stem":
        return key.kernel * key.kernel * c * o + 2 * o
    if key.part == "head":
        return c * o + 2 * o + o * key.classes + key.classes
    if key.op == "conv":
        params, mid = key.kernel * key.kernel * c * o + 2 * o, o
    else:
        mid = key.in_filters * key.expand_ratio if key.expand_ratio != 1 else c
        params = (c * mid + 2 * mid if key.expand_ratio != 1 else 0) + key.kernel * key.kernel * mid + 2 * mid
        params += mid * o + 2 * o
    if key.se_channels:
        params += 2 * mid * key.se_channels + key.se_channels + mid
    if "proj" in key.skip:
        params += c * o + 2 * o
    return params


def arch_params(arch: Arch | str, options: BuildOptions = DEPLOYMENT) -> int:
    """Trainable parameters of ``arch.build(options)``, without building it (the input size changes no weight)."""
    return sum(layer_params(key) for key in arch_layers(arch, options))
