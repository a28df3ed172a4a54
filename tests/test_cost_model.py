"""Latency cost models: the analytic op/layer walk against real Keras models, the host layer table against real
LiteRT measurements (tiny networks, so it stays fast), and the Pixel-1 model against its stored fit."""
import re
from collections import Counter
from dataclasses import replace

import keras
import numpy as np
import pytest

from mnaslib import paper
from mnaslib.latency import get_provider
from mnaslib.latency.calibration import calibrate, random_archs
from mnaslib.latency.feature_model import FeatureSpec, worst_band
from mnaslib.latency.layer_table import Calibration, HostLayerTable, layer_model
from mnaslib.spaces.ops import arch_layers, arch_ops, arch_params, keras_ops
from mnaslib.latency.pixel1 import arch_features, fit_pixel1_model, load_pixel1_model, model_features
from mnaslib.latency.tflite import fast_tflite, flatbuffer_op_sequence, flatbuffer_ops, to_tflite
from mnaslib.spaces.buildable import BuildOptions
from mnaslib.spaces.zoo import network, reference
from mnaslib.spaces.counting import summarize
from mnaslib.spaces.arch import Arch
from mnaslib.spaces.mnasnet import MnasNetSpace

# A tiny network that still has every kind of layer: stem, a strided pooling-skip layer with SE and projection, an
# identity-add layer, a head. Measuring its 4 distinct layers takes a few seconds.
TINY = Arch.from_block_strings(["r2_k3_s22_e3_i8_o16_se0.25_poolskip"], stem_filters=8, head_filters=32,
                               name="tiny")
TINY_OPTIONS = dict(depth_multiplier=1.0, input_size=32, num_classes=10)
TINY_BUILD = BuildOptions(**TINY_OPTIONS)


def _random_cases(count, seed):
    space, rng = MnasNetSpace(), np.random.default_rng(seed)
    return [(space.decode(space.sample(rng)), float(rng.choice([0.35, 0.75, 1.0, 1.4])),
             int(rng.choice([96, 128, 224]))) for _ in range(count)]


CASES = [(reference("a1"), 1.0, 224), (reference("b1"), 0.5, 160), (reference("small"), 1.0, 224),
         (reference("a1-mbconv6-k5"), 1.4, 96), (replace(reference("a1"), se_gate="hard_sigmoid"), 0.75, 128)
         ] + _random_cases(3, seed=7)


@pytest.mark.parametrize("arch, multiplier, size", CASES)
def test_analytic_walk_equals_the_keras_model(arch, multiplier, size):
    """Layer enumeration (blocks, resolutions, channels, skips, SE) and the op list/features against the built
    model; the ops' mult-adds sum to profile_model's total, the layers' parameters to its trainable count."""
    model = arch.build(BuildOptions(depth_multiplier=multiplier, input_size=size))
    groups = {}
    for layer in model.layers:
        match = re.match(r"^(block\d+[a-z]+)_", layer.name)
        if match:
            groups.setdefault(match.group(1), []).append(layer)
    keys = arch_layers(arch, BuildOptions(depth_multiplier=multiplier, input_size=size))
    blocks = [k for k in keys if k.part == "block"]
    assert len(blocks) == len(groups) == arch.num_layers
    for key, (name, members) in zip(blocks, groups.items()):
        first_input = members[0].input[0] if isinstance(members[0].input, list) else members[0].input
        assert tuple(first_input.shape[1:]) == (key.resolution, key.resolution, key.in_channels), name
        assert tuple(members[-1].output.shape[1:]) == (key.out_resolution, key.out_resolution, key.out_channels), name
        assert (name + "_add" in {m.name for m in members}) == (key.skip != "none"), name
        assert (name + "_se_reduce" in {m.name for m in members}) == (key.se_channels > 0), name
    stem, head = keys[0], keys[-1]
    assert model.get_layer("stem_conv").output.shape[-1] == stem.out_channels
    assert tuple(model.get_layer("head_conv").input.shape[1:]) == (head.resolution, head.resolution,
                                                                   head.in_channels)
    ops = arch_ops(arch, BuildOptions(depth_multiplier=multiplier, input_size=size))
    assert sorted(ops) == sorted(keras_ops(model))
    assert sum(op.mult_adds for op in ops) == summarize(model)["mult_adds"]
    assert arch_params(arch, BuildOptions(depth_multiplier=multiplier)) == summarize(model)["trainable_params"]
    np.testing.assert_allclose(arch_features(arch, BuildOptions(depth_multiplier=multiplier, input_size=size)),
                               model_features(model), rtol=1e-12)


# What each TFLite builtin is in the op lists of mnaslib.spaces.ops (1x1 and kxk convolutions are both CONV_2D).
_TFLITE_KINDS = {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "depthwise", "FULLY_CONNECTED": "dense", "MEAN": "pool",
                 "AVERAGE_POOL_2D": "pool", "LOGISTIC": "elementwise", "MUL": "elementwise", "ADD": "elementwise"}


def _counted_kinds(ops):
    return Counter("conv" if op.kind in ("conv1x1", "convkxk") else op.kind for op in ops)


@pytest.mark.parametrize("gate, gate_ops", [("sigmoid", {"LOGISTIC": 2, "MUL": 2}), ("hard_sigmoid", {"MUL": 4})])
def test_op_lists_match_what_the_converter_makes_of_each_se_gate(gate, gate_ops):
    """A sigmoid gate is a LOGISTIC; a hard sigmoid after its conv is one MUL by 1/6 (the + 3 goes into the bias,
    the ReLU6 is fused): either way one elementwise op per SE, as keras_ops and arch_ops count it."""
    arch = replace(TINY, se_gate=gate)
    model = arch.build(BuildOptions(**TINY_OPTIONS))
    converted = flatbuffer_op_sequence(fast_tflite(model))  # the converter's graph, a few seconds faster
    assert {name: converted.count(name) for name in ("LOGISTIC", "MUL")} == {"LOGISTIC": 0, "MUL": 0, **gate_ops}
    assert Counter(_TFLITE_KINDS[name] for name in converted) == _counted_kinds(keras_ops(model))
    assert _counted_kinds(keras_ops(model)) == _counted_kinds(arch_ops(arch, TINY_BUILD))


def test_a_standalone_hard_sigmoid_is_two_ops():
    """Not after a convolution, the + 3 cannot fold into a bias: ADD (ReLU6 fused), then MUL."""
    inputs = keras.Input((8, 8, 16))
    gate = keras.layers.Activation("hard_sigmoid")(keras.layers.GlobalAveragePooling2D(keepdims=True)(inputs))
    model = keras.Model(inputs, keras.layers.Multiply()([inputs, gate]))
    assert flatbuffer_op_sequence(fast_tflite(model)) == ["MEAN", "ADD", "MUL", "MUL"]
    assert [op.kind for op in keras_ops(model)] == ["pool", "elementwise", "elementwise", "elementwise"]


def test_layer_keys_carry_the_gate_only_where_there_is_an_se():
    hard = replace(reference("a1"), se_gate="hard_sigmoid")
    soft_keys, hard_keys = arch_layers(reference("a1")), arch_layers(hard)
    for soft, key in zip(soft_keys, hard_keys):
        assert key.gate == ("hard_sigmoid" if key.se_channels else "sigmoid")
        assert key.text == (soft.text + "|hard_sigmoid" if key.se_channels else soft.text)
    assert soft_keys[4].text == "block|mbconv|k5|s2|e3|f24|i24|se6|o40|r56|none"  # cached tables stay valid
    assert arch_features(hard) == pytest.approx(arch_features(reference("a1")))
    se_layer = layer_model(hard_keys[4])  # what the host layer table measures for this key
    assert se_layer.get_layer("block_se_expand").activation.__name__ == "hard_sigmoid"


@pytest.fixture(scope="module")
def nasnet():
    return network("keras-nasnetmobile").build()


def test_keras_ops_fold_batch_norm_and_keep_standalone_activations(nasnet):
    """NASNet's pre-activation ReLUs are ops of their own; MobileNetV2's ReLU6 after a conv's BN are fused."""
    v2 = keras_ops(network("keras-mobilenetv2").build())
    assert sum(op.kind == "elementwise" for op in v2) == 10  # 10 residual adds
    assert sum(op.kind == "softmax" for op in v2) == 1 and sum(op.kind == "pad" for op in v2) == 4
    nasnet_ops = keras_ops(nasnet)
    assert sum(op.kind == "pad" for op in nasnet_ops) == 24 + 4  # paddings, croppings
    assert sum(op.kind == "copy" for op in nasnet_ops) == 20  # concatenations


def test_flops_provider_equals_profile_mult_adds(nasnet):
    flops = get_provider("flops", depth_multiplier=0.75, input_size=192)
    arch = reference("a1")
    result = flops.latency(arch)
    assert result.unit == "M mult-adds" and result.median_ms * 1e6 == pytest.approx(
        summarize(arch.build(BuildOptions(depth_multiplier=0.75, input_size=192)))["mult_adds"], abs=0.5)
    assert result.provenance.label == "computed (mult-adds, not a latency)"
    assert "not ms" in result.details["unit"]
    assert get_provider("flops").latency(nasnet).details["mult_adds"] == 563_638_816


def test_unknown_provider_name_errors():
    with pytest.raises(ValueError, match="unknown latency provider 'pixel2-model'.*pixel1-model"):
        get_provider("pixel2-model")
    with pytest.raises(TypeError, match="host-model provider takes an Arch"):
        get_provider("host-model", measure_missing=False).latency(object())


def test_fast_conversion_builds_the_same_graph_as_to_tflite():
    model = layer_model(arch_layers(TINY, TINY_BUILD)[1])
    fast, reference = fast_tflite(model), to_tflite(model)
    assert flatbuffer_ops(fast) == flatbuffer_ops(reference)
    assert len(fast) == pytest.approx(len(reference), rel=0.01)


@pytest.fixture(scope="module")
def measured_table(tmp_path_factory):
    """A host layer table in a fresh directory with TINY's layers measured (real LiteRT timings)."""
    table = HostLayerTable(tmp_path_factory.mktemp("latency-cache"), budget_s=0.05)
    table.arch_sum_ms(TINY, TINY_BUILD)
    return table


def test_host_model_is_the_sum_of_its_layers(measured_table):
    keys = arch_layers(TINY, TINY_BUILD)
    assert [k.part for k in keys] == ["stem", "block", "block", "head"]
    parts = [measured_table.layer_ms(k) for k in keys]
    assert all(p > 0 for p in parts)
    provider = get_provider("host-model", cache_dir=measured_table.cache_dir, **TINY_OPTIONS)
    result = provider.latency(TINY)
    assert result.median_ms == pytest.approx(sum(parts))
    assert "uncalibrated" in result.provenance.label and measured_table.fingerprint_id in result.provenance.label
    calibration = Calibration(a=1.1, b=0.2, calibration_networks=5, calibration_mape=0.03)
    provider.table.set_calibration(calibration)
    assert provider.latency(TINY).median_ms == pytest.approx(1.1 * sum(parts) + 0.2)


def test_cached_table_is_reused_and_keyed_by_fingerprint(measured_table):
    again = HostLayerTable(measured_table.cache_dir, measure_missing=False)
    assert again.arch_sum_ms(TINY, TINY_BUILD) == pytest.approx(measured_table.arch_sum_ms(TINY, TINY_BUILD))
    assert again.measurements == 0
    elsewhere = HostLayerTable(measured_table.cache_dir, measure_missing=False,
                               fingerprint={**measured_table.fingerprint, "cpu_model": "Qualcomm Kryo"})
    assert elsewhere.path != measured_table.path and len(elsewhere) == 0
    with pytest.raises(KeyError, match="not in the host layer table"):
        elsewhere.arch_sum_ms(TINY, TINY_BUILD)


def test_calibration_and_test_sets_must_not_overlap(measured_table):
    with pytest.raises(ValueError, match="share architectures"):
        calibrate(measured_table, [TINY, reference("a1"), reference("b1")], [TINY])


def test_weight_position_and_dispatch_features_count_what_the_runtime_reads():
    """Weight traffic is every conv, depthwise and dense kernel weight once, whatever the input size; positions are
    a convolution's output height x width; the split dispatch counts ops with and without mult-adds."""
    def tiny(size: int) -> keras.Model:
        inputs = keras.Input((size, size, 3))
        x = keras.layers.Conv2D(8, 3, strides=2, padding="same")(inputs)
        x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
        x = keras.layers.Conv2D(16, 1)(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        return keras.Model(inputs, keras.layers.Dense(10)(x))

    spec = FeatureSpec(weights=True, pixels="depthwise", split_dispatch=True)
    kernels = (3 * 3 * 3 * 8 + 3 * 3 * 8 + 8 * 16 + 16 * 10) / 1e6
    for size in (16, 32):
        features = dict(zip(spec.names, spec.vector(keras_ops(tiny(size)))))
        assert features["weights_m"] == pytest.approx(kernels, rel=1e-12)
        assert features["pixels_m"] == pytest.approx((size // 2) ** 2 / 1e6, rel=1e-12)
        assert (features["ops_compute"], features["ops_other"]) == (4, 1)
    split = FeatureSpec(weights=True, large_weights=200)
    split_features = dict(zip(split.names, split.vector(keras_ops(tiny(16)))))
    assert split_features["weights_large_m"] == pytest.approx(216 / 1e6)  # only the stem holds more than 200
    with pytest.raises(ValueError, match="needs weights=True"):
        FeatureSpec(large_weights=200)


def test_pixel1_model_refit_reproduces_its_stored_fit():
    stored = load_pixel1_model()
    refit = fit_pixel1_model(out_path=None)
    assert refit.spec == stored.spec
    assert refit.grouped_mape == pytest.approx(stored.grouped_mape, rel=1e-9)
    assert refit.loo_mape == pytest.approx(stored.loo_mape, rel=1e-9)
    np.testing.assert_allclose(refit.coefficients, stored.coefficients, rtol=1e-9)
    assert [p["point"] for p in refit.points] == [p["point"] for p in stored.points]
    # Nested grouped CV (families, widths, resolutions held out; the feature choice too) is the honest error,
    # recomputed here from the published points: a change that makes the model extrapolate worse fails.
    assert refit.grouped_mape <= 0.060  # achieved: 5.85% over 42 published points (issue 23's goal: <= 6%)
    band, error = worst_band(refit.validation)
    assert abs(error) <= 0.05, band  # achieved: width 0.75x -4.5% (goal: every width and resolution band +-5%)
    assert refit.loo_mape < refit.grouped_mape  # leave-one-out interpolates, so it flatters


def test_pixel1_model_predicts_a1_and_labels_its_error():
    published = paper.load_table("table1_imagenet").at["MnasNet-A1", "latency_ms"]
    provider = get_provider("pixel1-model")
    result = provider.latency(reference("a1"))
    assert abs(result.median_ms / published - 1) < 0.03  # achieved: 79.0 ms vs 78 ms (+1.3%)
    assert result.provenance.kind == "predicted"
    assert result.provenance.detail == load_pixel1_model().label
    from_keras = provider.latency(network("a1").build())
    assert from_keras.median_ms == pytest.approx(result.median_ms, rel=1e-12)


def test_random_test_architectures_are_distinct_seeded_and_held_out():
    first = random_archs(20, seed=3)
    assert [a.arch_id for a in first] == [a.arch_id for a in random_archs(20, seed=3)]
    seen = {first[0].arch_id, first[5].arch_id}
    others = random_archs(20, seed=3, exclude=seen)
    ids = [a.arch_id for a in others]
    assert len(set(ids)) == 20 and first[0].arch_id not in ids and first[5].arch_id not in ids
    assert set(ids) <= seen  # the exclude set grows, so the next draw cannot repeat these either


def test_kxk_convolutions_cost_what_1x1_ones_cost_per_mult_add():
    """The published networks hold kxk convolutions only in their stems, so a coefficient of their own was fitted
    to 0 and a search scored by the model filled whole stages with kxk convolutions "for free". One coefficient for
    all dense convolutions: the same stage as a 3x3 convolution instead of an inverted bottleneck costs more."""
    model = load_pixel1_model()
    assert "mult_adds_conv_m" in model.features and model.coefficients[model.features.index("mult_adds_conv_m")] > 0
    head = "r1_k3_s11_e1_i32_o16_noskip r2_k3_s22_e6_i16_o24 "
    mbconv = Arch.from_block_strings(head + "r3_k5_s22_e6_i24_o80 r2_k3_s22_e6_i80_o160")
    conv = Arch.from_block_strings(head + "r3_k5_s22_e1_i24_o80_conv r2_k3_s22_e1_i80_o160_conv")
    macs = [summarize(a.build())["mult_adds"] for a in (mbconv, conv)]
    assert macs[1] > macs[0]
    assert model.predict_arch(conv) > model.predict_arch(mbconv)
