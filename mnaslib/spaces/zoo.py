"""Every named network and every paper point list, in one registry.

* **References** of the MnasNet space, from the official block strings: MnasNet-A1, B1, small, D1, MobileNetV2 (as a
  point of the space), and Table 6's four single-op variants of A1.
* **Keras applications** that stand in for the paper's baselines: MobileNet (V1), MobileNetV2 (1.0 and 1.4) and
  NASNetMobile (for NASNet-A), each a ``KerasNetwork``.
* **Point lists**: a ``NetworkPoint`` is a network at a width and input size with the paper row it stands beside:
  Table 1's models, Figure 5's scaling grid, Table 4's mnasnet-small, Table 6's variants and the host latency
  model's calibration references.

Everything here is a ``Buildable`` (``arch_id``, ``block_strings()``, ``build(BuildOptions)``), so callers never ask
what kind of network they hold. ``resolve`` turns what a user types (a name, block strings, a file's architecture)
into one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Iterable, Sequence

from mnaslib.spaces.buildable import DEPLOYMENT, BuildOptions, Buildable
from mnaslib.spaces.arch import Arch
from mnaslib.errors import UserError

if TYPE_CHECKING:
    import keras

_REFERENCE_STRINGS = {
    "mnasnet-a1": ("r1_k3_s11_e1_i32_o16_noskip r2_k3_s22_e6_i16_o24 r3_k5_s22_e3_i24_o40_se0.25 "
                   "r4_k3_s22_e6_i40_o80 r2_k3_s11_e6_i80_o112_se0.25 r3_k5_s22_e6_i112_o160_se0.25 "
                   "r1_k3_s11_e6_i160_o320", 32, 0.2),
    "mnasnet-b1": ("r1_k3_s11_e1_i32_o16_noskip r3_k3_s22_e3_i16_o24 r3_k5_s22_e3_i24_o40 r3_k5_s22_e6_i40_o80 "
                   "r2_k3_s11_e6_i80_o96 r4_k5_s22_e6_i96_o192 r1_k3_s11_e6_i192_o320_noskip", 32, 0.2),
    # the official mnasnet-small config trains without dropout
    "mnasnet-small": ("r1_k3_s11_e1_i16_o8 r1_k3_s22_e3_i8_o16 r2_k3_s22_e6_i16_o16 r4_k5_s22_e6_i16_o32_se0.25 "
                      "r3_k3_s11_e6_i32_o32_se0.25 r3_k5_s22_e6_i32_o88_se0.25 r1_k3_s11_e6_i88_o144", 8, 0.0),
    "mnasnet-d1": ("r1_k3_s11_e9_i32_o24 r3_k3_s22_e9_i24_o36 r5_k3_s22_e9_i36_o48 r4_k5_s22_e9_i48_o96 "
                   "r5_k7_s11_e3_i96_o96 r3_k3_s22_e9_i96_o80 r1_k7_s11_e6_i80_o320_noskip", 32, 0.2),
    # MobileNetV2 (Sandler et al. 2018) written as a point of the MnasNet space: every block MBConv6 k3 except the
    # first (expansion 1), identity skips, no SE.
    "mobilenetv2": ("r1_k3_s11_e1_i32_o16 r2_k3_s22_e6_i16_o24 r3_k3_s22_e6_i24_o32 r4_k3_s22_e6_i32_o64 "
                    "r3_k3_s11_e6_i64_o96 r3_k3_s22_e6_i96_o160 r1_k3_s11_e6_i160_o320", 32, 0.2),
}
# Table 6: A1's layers and filters (and its SE and skips) with every block's op and kernel replaced.
_TABLE6_VARIANTS = {"a1-mbconv3-k3": (3, 3), "a1-mbconv3-k5": (3, 5), "a1-mbconv6-k3": (6, 3),
                    "a1-mbconv6-k5": (6, 5)}
_SHORT_NAMES = {"a1": "mnasnet-a1", "b1": "mnasnet-b1", "small": "mnasnet-small", "d1": "mnasnet-d1"}
_KERAS_CLASSES = {"keras-mobilenet": "MobileNet", "keras-mobilenetv2": "MobileNetV2",
                  "keras-nasnetmobile": "NASNetMobile"}


@dataclass(frozen=True)
class KerasNetwork:
    """A Keras application (untrained) as a network of the reproduction, at a width (``alpha``).

    The build's width is ``width`` times ``options.depth_multiplier``, so a proxy child of MobileNetV2 (1.4x) at the
    proxy's 0.35 width is MobileNetV2 at alpha 0.49, as a MnasNet-space network would be scaled.
    """

    family: str
    width: float = 1.0

    def __post_init__(self) -> None:
        if self.family not in _KERAS_CLASSES:
            raise UserError(f"unknown Keras application {self.family!r}; known: {', '.join(_KERAS_CLASSES)}")
        if not self.width > 0:
            raise UserError(f"a Keras application's width must be positive, got {self.width}")

    @property
    def name(self) -> str:
        return self.family if self.width == 1.0 else f"{self.family}-{self.width:g}"

    @property
    def arch_id(self) -> str:
        return self.name

    def block_strings(self) -> list[str]:
        return [f"keras.applications.{_KERAS_CLASSES[self.family]}(alpha={self.width:g})"]

    def build(self, options: BuildOptions = DEPLOYMENT) -> "keras.Model":
        from mnaslib.spaces.models import build_keras_application  # lazy: keeps TensorFlow out of this module's import

        return build_keras_application(self.family, self.width * options.depth_multiplier, options)


KERAS_NETWORKS = {"keras-mobilenet": KerasNetwork("keras-mobilenet"),
                  "keras-mobilenetv2": KerasNetwork("keras-mobilenetv2"),
                  "keras-mobilenetv2-1.4": KerasNetwork("keras-mobilenetv2", 1.4),
                  "keras-nasnetmobile": KerasNetwork("keras-nasnetmobile")}


def canonical_name(name: str) -> str:
    """``A1``, ``mnasnet_a1`` and ``mnasnet-a1`` all name ``mnasnet-a1``."""
    key = name.strip().lower().replace("_", "-")
    return _SHORT_NAMES.get(key, key).replace("mnasnet-mnasnet", "mnasnet")


def reference_names() -> list[str]:
    """The MnasNet-space references and Table 6 variants (names ``reference`` accepts)."""
    return list(_REFERENCE_STRINGS) + list(_TABLE6_VARIANTS)


def names() -> list[str]:
    """Every network name ``network`` accepts."""
    return reference_names() + list(KERAS_NETWORKS)


def reference(name: str) -> Arch:
    """A MnasNet-space reference network by name (``mnasnet-a1``, ``a1``, ``mobilenetv2``, ``a1-mbconv6-k5`` ...)."""
    key = canonical_name(name)
    if key in _REFERENCE_STRINGS:
        strings, stem, dropout = _REFERENCE_STRINGS[key]
        return replace(Arch.from_block_strings(strings, stem_filters=stem, name=key), dropout=dropout)
    if key in _TABLE6_VARIANTS:
        expansion, kernel = _TABLE6_VARIANTS[key]
        a1 = reference("mnasnet-a1")
        blocks = tuple(replace(b, expand_ratio=expansion, kernel=kernel, op="mbconv") for b in a1.blocks)
        return replace(a1, blocks=blocks, name=key)
    raise UserError(f"unknown reference architecture {name!r}; known: {', '.join(reference_names())} "
                    f"(Keras applications: {', '.join(KERAS_NETWORKS)})")


def network(name: str) -> Buildable:
    """Any named network: a MnasNet-space reference or a Keras application."""
    key = canonical_name(name)
    if key in KERAS_NETWORKS:
        return KERAS_NETWORKS[key]
    return reference(key)


_BLOCK_STRING = re.compile(r"^r\d+_")


def resolve(spec: str | Iterable[str] | Buildable) -> Buildable:
    """What a user names: a ``Buildable`` as it is, a network name, or MnasNet block strings (one string separated
    by spaces or commas, or a list). A string that is neither a name nor block strings is an error listing the
    names, so a mistyped name is not reported as a malformed block string."""
    if isinstance(spec, Buildable):
        return spec
    if isinstance(spec, str):
        if canonical_name(spec) in names():
            return network(spec)
        if not _BLOCK_STRING.match(spec.strip()):
            raise UserError(f"{spec!r} is neither a network name ({', '.join(names())}) nor block strings such as "
                            "'r2_k3_s22_e6_i16_o24_se0.25'")
        return Arch.from_block_strings(spec)
    return Arch.from_block_strings(list(spec))


def as_arch(spec: str | Iterable[str] | Buildable) -> Arch:
    """``resolve`` for code that needs a MnasNet-space ``Arch`` (the analytic cost models): anything else is an
    error that says so."""
    resolved = resolve(spec)
    if not isinstance(resolved, Arch):
        raise UserError(f"{resolved.name} is not a MnasNet-space architecture (block strings); this needs one")
    return resolved


# ---------------------------------------------------------------------------------------------------------------
# The paper's point lists
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NetworkPoint:
    """A network at a width multiplier and an input size, named as a paper table names it (``label``)."""

    label: str
    network: Buildable
    multiplier: float = 1.0
    input_size: int = 224
    note: str = ""

    @property
    def family(self) -> str:
        """``arch`` for a MnasNet-space network, else the Keras application's family."""
        return "arch" if isinstance(self.network, Arch) else self.network.family

    @property
    def options(self) -> BuildOptions:
        """The deployment build of this point (1000 classes, stride-2 stem)."""
        return BuildOptions(depth_multiplier=self.multiplier, input_size=self.input_size)

    @property
    def architecture(self) -> Arch:
        """The MnasNet-space architecture (MnasNet-space points only)."""
        if not isinstance(self.network, Arch):
            raise TypeError(f"{self.label} is a Keras application, not a MnasNet-space architecture")
        return self.network

    def build(self, num_classes: int = 1000, seed: int = 0) -> "keras.Model":
        """The deployment network, seeded so that the TFLite conversion cache (keyed by config and weights)
        recognises a network built again."""
        import keras

        keras.utils.set_random_seed(seed)
        return self.network.build(self.options.replace(num_classes=num_classes))


TABLE1_MODELS = (
    NetworkPoint("MobileNetV1", KERAS_NETWORKS["keras-mobilenet"], note="Keras MobileNet (alpha 1.0)"),
    NetworkPoint("MobileNetV2", KERAS_NETWORKS["keras-mobilenetv2"], note="Keras MobileNetV2 (alpha 1.0)"),
    NetworkPoint("MobileNetV2 (1.4x)", KERAS_NETWORKS["keras-mobilenetv2"], multiplier=1.4,
                 note="Keras MobileNetV2 (alpha 1.4)"),
    NetworkPoint("NASNet-A", KERAS_NETWORKS["keras-nasnetmobile"], note="Keras NASNetMobile stands in for NASNet-A"),
    NetworkPoint("MnasNet-A1", reference("mnasnet-a1"), note="mnaslib build of the official block strings"),
    NetworkPoint("MnasNet-B1", reference("mnasnet-b1"), note="mnaslib build of the official block strings; a Table 2 "
                                                             "row, not in the paper's Table 1"),
)
NOT_BUILT = {
    "MnasNet-A2": "not built: the A2 architecture was never published (paper numbers only)",
    "MnasNet-A3": "not built: the A3 architecture was never published (paper numbers only)",
}
NOT_IN_MNASLIB = "not built: not in mnaslib (paper numbers only)"
MNASNET_SMALL = NetworkPoint("MnasNet-small (= the paper's search2)", reference("mnasnet-small"),
                             note="official mnasnet-small block strings")
# Table 6's networks: (reference name, paper row)
TABLE6_MODELS = (("mnasnet-a1", "MnasNet-A1"), ("a1-mbconv3-k3", "MBConv3 (k3x3) only"),
                 ("a1-mbconv3-k5", "MBConv3 (k5x5) only"), ("a1-mbconv6-k3", "MBConv6 (k3x3) only"),
                 ("a1-mbconv6-k5", "MBConv6 (k5x5) only"))
# The networks every host-model calibration starts from: the published references, whose layers also cover the kinds
# of op the random architectures use.
CALIBRATION_REFERENCES = ("mnasnet-a1", "mnasnet-b1", "mnasnet-small", "mnasnet-d1", "mobilenetv2", "a1-mbconv3-k3",
                          "a1-mbconv3-k5", "a1-mbconv6-k3", "a1-mbconv6-k5")
# Figure 5's plotted slices: each model scaled by multiplier at 224, and by input size at 1.0x
FIG5_SLICES = ((1.4, 224), (1.0, 224), (0.75, 224), (0.5, 224), (0.35, 224), (1.0, 192), (1.0, 160), (1.0, 128),
               (1.0, 96))


def fig5_label(name: str, multiplier: float, input_size: int) -> str:
    """``MnasNet-A1 (0.35x, 224)``: how tables and budgets name a scaling point."""
    return f"{name} ({multiplier:g}x, {input_size})"


def fig5_points() -> list[NetworkPoint]:
    """Every Figure 5 point the paper gives: MnasNet-A1 on the 5 x 5 grid of depth multipliers and input sizes
    (official README), MobileNetV2 at 5 multipliers (224) and 4 more input sizes (1.0x), from the paper tables.
    ``note`` holds the paper table's row key."""
    from mnaslib import paper  # lazy: keeps pandas out of this module's import

    points = []
    for table, network_, name in (("fig5_mnasnet_a1", reference("mnasnet-a1"), "MnasNet-A1"),
                                  ("fig5_mobilenetv2", KERAS_NETWORKS["keras-mobilenetv2"], "MobileNetV2")):
        for row, values in paper.load_table(table).iterrows():
            multiplier, size = float(values["multiplier"]), int(values["input_size"])
            points.append(NetworkPoint(fig5_label(name, multiplier, size), network_, multiplier, size, note=row))
    return points


def calibration_network(builder: str, model: str) -> Buildable:
    """The network of a Pixel-1 calibration point (``data/latency/pixel1_points.csv``: builder ``arch`` with a
    reference name, or a Keras application family)."""
    return reference(model) if builder == "arch" else KERAS_NETWORKS[builder]


def references(names_: Sequence[str]) -> list[Arch]:
    """Several references by name."""
    return [reference(name) for name in names_]
