"""SSDLite detectors on MobileNetV1, MobileNetV2 and MnasNet-A1, for the paper's Table 3 (COCO).

The paper reports detection with SSDLite (Sandler et al. 2018, section 6.2) at 320x320 and compares parameters and
mult-adds with MobileNetV1/V2 + SSDLite. COCO training is out of reach here, but the counts are not: they follow
from the architecture alone, so we build the detectors exactly as the TF Object Detection API's
``ssdlite_mobilenet_v{1,2}`` configs do and count them with :func:`mnaslib.spaces.counting.summarize`.

The head, shared by every backbone (one builder, two tap tensors in):

* feature maps: the backbone's stride-16 tap and stride-32 tap, then four extra layers, each a 1x1 conv to half
  the depth followed by a 3x3 stride-2 *separable* conv (depthwise 3x3 + 1x1) to depths 512, 256, 256, 128
  (``feature_map_layout``: ``layer_depth [-1, -1, 512, 256, 256, 128]``, ``use_depthwise: true``); every conv is
  bias-free with batch norm and ReLU6, as the API's ``conv_hyperparams``;
* predictors: per feature map, a box and a class predictor, each a 3x3 depthwise conv (BN + ReLU6) followed by a
  1x1 conv with bias and no activation, giving ``anchors x 4`` box codes and ``anchors x classes`` scores per
  location (``convolutional_box_predictor`` with ``use_depthwise: true``).

Stride-16 and stride-32 taps (``from_layer`` of the API's feature extractors):

* MobileNetV1 (Keras ``MobileNet``): ``conv_pw_11`` and ``conv_pw_13``, as ``ssd_mobilenet_v1``;
* MobileNetV2 (Keras ``MobileNetV2``): the *expansion* output of the first layer of the stride-32 stage
  (``block_13_expand_relu``, 576 channels; the API's ``layer_15/expansion_output``) and the 1280-filter head conv
  (``out_relu``; ``layer_19``). Keras' layer names are used because they are MobileNetV2's own;
* MnasNet-A1 (our builder), by the same rule: the expansion of the first layer of the block that brings the stride
  to 32 (``block6a_expand_relu``, 672 channels) and the head conv (``head_relu``).

What the published counts leave open is the *head convention*: how many classes the predictors score (the API's
COCO config uses 91 = 90 COCO label ids + background; the 80 categories actually used + background give 81) and how
many anchors each location carries (3 on the first map and 6 elsewhere with the API's default
``reduce_boxes_in_lowest_layer``, or 6 everywhere). :data:`CONVENTIONS` names the four combinations and
:func:`convention_counts` counts every detector under each, so the notebook can show which one the paper used.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import keras
import pandas as pd
from keras import layers

from mnaslib import paper
from mnaslib.spaces.buildable import BuildOptions
from mnaslib.spaces.counting import summarize
from mnaslib.spaces.arch import Arch
from mnaslib.spaces.zoo import reference

DEFAULT_INPUT_SIZE = 320
EXTRA_LAYER_DEPTHS = (512, 256, 256, 128)
BOX_CODE_SIZE = 4
# The API's ssdlite configs: batch_norm { decay: 0.9997, epsilon: 0.001 }.
BN_MOMENTUM = 0.9997
BN_EPSILON = 1e-3
PAPER_TABLE = "table3_coco"


@dataclass(frozen=True)
class HeadConvention:
    """How many classes (background included) and anchors per location the SSDLite predictors use.

    The counts of Table 3 depend on these choices, and the paper does not state them, so they are explicit here.
    """

    name: str
    num_classes: int
    anchors_per_location: tuple[int, ...]
    description: str

    def __post_init__(self) -> None:
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be >= 1 (background included), got {self.num_classes}")
        if len(self.anchors_per_location) != 2 + len(EXTRA_LAYER_DEPTHS):
            raise ValueError(f"anchors_per_location needs one count per feature map "
                             f"({2 + len(EXTRA_LAYER_DEPTHS)}), got {self.anchors_per_location}")
        if any(a < 1 for a in self.anchors_per_location):
            raise ValueError(f"every feature map needs at least one anchor, got {self.anchors_per_location}")


STANDARD_ANCHORS = (3, 6, 6, 6, 6, 6)
CONVENTIONS = (
    HeadConvention("tf-od-api", 91, STANDARD_ANCHORS,
                   "91 classes (90 COCO label ids + background), 3 anchors on the first map, 6 elsewhere: the "
                   "released ssdlite_mobilenet_v2_coco config"),
    HeadConvention("coco-80", 81, STANDARD_ANCHORS,
                   "81 classes (the 80 categories used + background), 3 anchors on the first map, 6 elsewhere"),
    HeadConvention("tf-od-api-6-anchors", 91, (6,) * 6,
                   "91 classes, 6 anchors on every map (reduce_boxes_in_lowest_layer: false)"),
    HeadConvention("coco-80-6-anchors", 81, (6,) * 6, "81 classes, 6 anchors on every map"),
)


def convention(name: str) -> HeadConvention:
    """A head convention from :data:`CONVENTIONS` by name."""
    for candidate in CONVENTIONS:
        if candidate.name == name:
            return candidate
    raise ValueError(f"unknown head convention {name!r}; known: {', '.join(c.name for c in CONVENTIONS)}")


@dataclass(frozen=True)
class Backbone:
    """A classification network cut at its stride-16 and stride-32 taps, and the Table 3 row it belongs to."""

    name: str
    label: str
    paper_row: str
    build: Callable[[int], tuple[keras.Model, str, str]]


def _keras_mobilenet(input_size: int) -> tuple[keras.Model, str, str]:
    model = keras.applications.MobileNet(input_shape=(input_size, input_size, 3), include_top=False, weights=None)
    return model, "conv_pw_11_relu", "conv_pw_13_relu"


def _keras_mobilenetv2(input_size: int) -> tuple[keras.Model, str, str]:
    model = keras.applications.MobileNetV2(input_shape=(input_size, input_size, 3), include_top=False, weights=None)
    return model, "block_13_expand_relu", "out_relu"


def arch_taps(arch: Arch, stem_stride: int = 2) -> tuple[str, str]:
    """Layer names of an ``Arch`` build's SSDLite taps: the expansion of the first layer of the block that brings
    the output stride to 32 (the stride-16 map, widened as MobileNetV2's SSDLite uses it) and the head conv.

    Tapping the expansion rather than the previous block's output is what the MobileNetV2 paper does: the wide
    expanded tensor carries more features for the first (small-object) predictor at no extra backbone cost.
    """
    stride = stem_stride
    for index, block in enumerate(arch.blocks):
        stride *= block.stride
        if stride == 32:
            if block.expand_ratio == 1 or block.op != "mbconv":
                raise ValueError(f"block {index + 1} of {arch.name or arch.arch_id} reaches stride 32 without an "
                                 f"expansion conv to tap (op {block.op}, expansion {block.expand_ratio})")
            return f"block{index + 1}a_expand_relu", "head_relu"
    raise ValueError(f"{arch.name or arch.arch_id} never reaches output stride 32 (final stride {stride})")


def _mnasnet_a1(input_size: int) -> tuple[keras.Model, str, str]:
    arch = reference("mnasnet-a1")
    return (arch.build(BuildOptions(input_size=input_size)), *arch_taps(arch))


BACKBONES = (
    Backbone("mobilenetv1", "MobileNetV1", "MobileNetV1 + SSDLite", _keras_mobilenet),
    Backbone("mobilenetv2", "MobileNetV2", "MobileNetV2 + SSDLite", _keras_mobilenetv2),
    Backbone("mnasnet-a1", "MnasNet-A1", "MnasNet-A1 + SSDLite", _mnasnet_a1),
)


def backbone(name: str) -> Backbone:
    """A backbone of :data:`BACKBONES` by name (case and ``_``/``-`` insensitive)."""
    key = name.strip().lower().replace("_", "-")
    for candidate in BACKBONES:
        if candidate.name == key:
            return candidate
    raise ValueError(f"unknown SSDLite backbone {name!r}; known: {', '.join(b.name for b in BACKBONES)}")


def _conv_bn_relu6(x, filters: int, name: str):
    x = layers.Conv2D(filters, 1, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu6")(x)


def _depthwise_bn_relu6(x, stride: int, name: str):
    x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"{name}_depthwise")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{name}_depthwise_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_depthwise_relu6")(x)


def _predictor(x, anchors: int, code_size: int, name: str):
    """Separable predictor: 3x3 depthwise (BN + ReLU6), then a plain 1x1 conv with bias, flattened to anchors."""
    x = _depthwise_bn_relu6(x, 1, name)
    x = layers.Conv2D(anchors * code_size, 1, padding="same", name=f"{name}_conv")(x)
    height, width = x.shape[1], x.shape[2]
    return layers.Reshape((height * width * anchors, code_size), name=f"{name}_reshape")(x)


def ssdlite_head(inputs: keras.KerasTensor | list[keras.KerasTensor], tap16: keras.KerasTensor,
                 tap32: keras.KerasTensor, head: HeadConvention, name: str) -> keras.Model:
    """The SSDLite extra layers and predictors on two backbone tensors; returns the whole detector.

    Outputs: ``boxes`` of shape (batch, anchors, 4) and ``classes`` of shape (batch, anchors, num_classes), anchors
    summed over the six feature maps (H x W x anchors per location each).
    """
    feature_maps = [tap16, tap32]
    x = tap32
    for index, depth in enumerate(EXTRA_LAYER_DEPTHS, start=2):
        x = _conv_bn_relu6(x, depth // 2, f"extra{index}_1x1")
        x = _depthwise_bn_relu6(x, 2, f"extra{index}_3x3_s2")
        x = _conv_bn_relu6(x, depth, f"extra{index}_3x3_s2_pointwise")
        feature_maps.append(x)
    boxes, classes = [], []
    for index, (fmap, anchors) in enumerate(zip(feature_maps, head.anchors_per_location)):
        boxes.append(_predictor(fmap, anchors, BOX_CODE_SIZE, f"box_predictor{index}"))
        classes.append(_predictor(fmap, anchors, head.num_classes, f"class_predictor{index}"))
    outputs = {"boxes": layers.Concatenate(axis=1, name="boxes")(boxes),
               "classes": layers.Concatenate(axis=1, name="classes")(classes)}
    return keras.Model(inputs, outputs, name=name)


def ssdlite(backbone_name: str, input_size: int = DEFAULT_INPUT_SIZE, num_classes: int = 91,
            anchors_per_location: Sequence[int] = STANDARD_ANCHORS) -> keras.Model:
    """An untrained SSDLite detector on ``mobilenetv1``, ``mobilenetv2`` or ``mnasnet-a1`` at ``input_size``.

    ``num_classes`` counts the background class, as the class predictors score it (91 for the TF OD API's COCO
    config). The classification top of the backbone is dropped: the detector ends at the predictors.
    """
    spec = backbone(backbone_name)
    head = HeadConvention("custom", num_classes, tuple(anchors_per_location), "")
    model, tap16_name, tap32_name = spec.build(input_size)
    return ssdlite_head(model.inputs, model.get_layer(tap16_name).output, model.get_layer(tap32_name).output, head,
                        name=f"ssdlite_{spec.name.replace('-', '_')}")


def feature_map_shapes(detector: keras.Model) -> list[tuple[int, int, int]]:
    """(height, width, channels) of each feature map the predictors read, from the first one (stride 16) on."""
    shapes = []
    index = 0
    while any(layer.name == f"box_predictor{index}_depthwise" for layer in detector.layers):
        shape = detector.get_layer(f"box_predictor{index}_depthwise").input.shape
        shapes.append((int(shape[1]), int(shape[2]), int(shape[3])))
        index += 1
    if not shapes:
        raise ValueError(f"{detector.name} has no SSDLite predictors (layers 'box_predictor<i>_depthwise')")
    return shapes


def expected_anchors(input_size: int, anchors_per_location: Sequence[int] = STANDARD_ANCHORS) -> int:
    """Total anchors of a detector: sum over feature maps of H x W x anchors, with 'same' padding's ceil sizes."""
    size = math.ceil(input_size / 16)
    total = 0
    for index, anchors in enumerate(anchors_per_location):
        if index:
            size = math.ceil(size / 2)
        total += size * size * anchors
    return total


def convention_counts(backbones: Iterable[str] = tuple(b.name for b in BACKBONES),
                      conventions: Iterable[HeadConvention] = CONVENTIONS,
                      input_size: int = DEFAULT_INPUT_SIZE) -> pd.DataFrame:
    """Params and mult-adds (computed) of every backbone under every head convention, beside Table 3's.

    Columns: backbone, convention, input size, trainable params, mult-adds, the paper's params (M) and mult-adds
    (B) with their display labels, our difference to them, and whether our counts round to the paper's at its
    precision (0.1M params, 0.1B mult-adds).
    """
    rows = []
    for name in backbones:
        spec = backbone(name)
        paper_params = paper.value(PAPER_TABLE, spec.paper_row, "params_m")
        paper_madds = paper.value(PAPER_TABLE, spec.paper_row, "mult_adds_b")
        for head in conventions:
            counts = summarize(ssdlite(spec.name, input_size, head.num_classes, head.anchors_per_location))
            params_m, madds_b = counts["trainable_params"] / 1e6, counts["mult_adds"] / 1e9
            rows.append({"backbone": spec.name, "convention": head.name, "input_size": input_size,
                         "params": counts["trainable_params"], "mult_adds": counts["mult_adds"],
                         "paper_params_m": paper_params.value, "paper_mult_adds_b": paper_madds.value,
                         "paper_params_label": paper_params.label, "paper_mult_adds_label": paper_madds.label,
                         "params_diff_m": params_m - paper_params.value,
                         "mult_adds_diff_b": madds_b - paper_madds.value,
                         "params_match": round(params_m, 1) == paper_params.value,
                         "mult_adds_match": round(madds_b, 1) == paper_madds.value})
    return pd.DataFrame(rows)


def best_conventions(counts: pd.DataFrame) -> pd.DataFrame:
    """Per backbone, the convention whose params are closest to the paper's (ties: closest mult-adds)."""
    ranked = counts.assign(_p=counts["params_diff_m"].abs(), _m=counts["mult_adds_diff_b"].abs())
    best = ranked.sort_values(["backbone", "_p", "_m"]).groupby("backbone", sort=False).head(1)
    order = {b.name: i for i, b in enumerate(BACKBONES)}
    return best.drop(columns=["_p", "_m"]).sort_values("backbone", key=lambda s: s.map(order)).reset_index(drop=True)
