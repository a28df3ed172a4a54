"""The builder against the official counts, scaling, and forward passes of sampled architectures."""
import numpy as np
import pytest

from mnaslib.spaces.buildable import BuildOptions
from mnaslib.spaces.models import round_filters
from mnaslib.spaces.counting import profile_model, summarize
from mnaslib.spaces.arch import Arch
from mnaslib.spaces.mnasnet import MnasNetSpace
from mnaslib.spaces.zoo import network, reference

OFFICIAL = {  # trainable, total, mult-adds (ARCHITECTURES.md; Table 4 for small)
    "mnasnet-a1": (3_887_038, 3_920_526, 311_579_072),
    "mnasnet-b1": (4_383_312, 4_421_232, 314_415_872),
    "mobilenetv2": (3_504_872, 3_538_984, 300_774_272),
}


@pytest.mark.parametrize("name", list(OFFICIAL))
def test_exact_counts(name):
    counts = summarize(network(name).build())
    assert (counts["trainable_params"], counts["total_params"], counts["mult_adds"]) == OFFICIAL[name]


def test_mult_adds_round_to_the_official_figures():
    assert round(summarize(network("a1").build())["mult_adds"] / 1e5) / 10 == 311.6
    assert round(summarize(network("b1").build())["mult_adds"] / 1e5) / 10 == 314.4


@pytest.mark.parametrize("name, trainable, total, mult_adds", [
    ("keras-mobilenetv2", 3_504_872, 3_538_984, 300_774_272),
    ("keras-mobilenet", 4_231_976, 4_253_864, 568_740_352),
    ("keras-nasnetmobile", 5_289_978, 5_326_716, 563_638_816),
])
def test_keras_baselines(name, trainable, total, mult_adds):
    counts = summarize(network(name).build())
    assert (counts["trainable_params"], counts["total_params"], counts["mult_adds"]) == (trainable, total, mult_adds)


def test_mnasnet_small_matches_table4_search2():
    counts = summarize(network("small").build())
    assert round(counts["trainable_params"] / 1e5) / 10 == 2.0      # 2.0M
    assert round(counts["mult_adds"] / 1e6) == 68                    # 68M


@pytest.mark.parametrize("multiplier, params_m", [(1.4, 6.1), (0.75, 2.9), (0.5, 2.1), (0.35, 1.7)])
def test_depth_multiplier_matches_official_params(multiplier, params_m):
    counts = summarize(network("a1").build(BuildOptions(depth_multiplier=multiplier)))
    assert round(counts["trainable_params"] / 1e5) / 10 == params_m


def test_resolution_scales_mult_adds_not_params():
    base = profile_model(network("a1").build())
    double = profile_model(network("a1").build(BuildOptions(input_size=448)))
    assert double["trainable_params"].sum() == base["trainable_params"].sum()
    fixed = base["layer"].str.contains("_se_") | (base["layer"] == "predictions")  # act on 1x1 maps
    assert (double["mult_adds"][~fixed] == 4 * base["mult_adds"][~fixed]).all()
    assert (double["mult_adds"][fixed] == base["mult_adds"][fixed]).all()


def test_round_filters_official_rule():
    assert round_filters(32, 0.35) == 16   # int(11.2 + 4) // 8 * 8 = 8 < 0.9 * 11.2 -> 16
    assert round_filters(320, 1.4) == 448
    assert round_filters(12, 1.0) == 12    # exact widths of the space survive at 1.0


def test_profile_table_sums_and_layer_names():
    table = profile_model(network("a1").build())
    assert {"stem_conv", "block3a_se_reduce", "block1a_dwconv", "head_conv", "predictions"} <= set(table["layer"])
    assert table.loc[table["layer"] == "predictions", "mult_adds"].item() == 1280 * 1000
    assert table.loc[table["layer"] == "stem_conv", "mult_adds"].item() == 112 * 112 * 27 * 32


def test_table6_variants_keep_a1_layers_and_filters():
    a1 = reference("a1")
    for variant in ["a1-mbconv3-k3", "a1-mbconv6-k5"]:
        arch = reference(variant)
        assert [(b.repeats, b.out_filters, b.se_ratio) for b in arch.blocks] == \
            [(b.repeats, b.out_filters, b.se_ratio) for b in a1.blocks]
    assert {b.kernel for b in reference("a1-mbconv6-k5").blocks} == {5}


def test_pool_skip_adds_a_projection_only_where_needed():
    model = Arch.from_block_strings(["r2_k3_s22_e6_i32_o24_poolskip", "r1_k3_s11_e6_i24_o24_poolskip"]).build(
        BuildOptions(input_size=32))
    names = {layer.name for layer in model.layers}
    assert {"block1a_skip_pool", "block1a_skip_proj_conv", "block1a_add", "block1b_add", "block2a_add"} <= names
    assert "block1b_skip_pool" not in names


@pytest.mark.parametrize("size, count", [(32, 10), (224, 3)])
def test_sampled_architectures_build_and_run(size, count):
    space = MnasNetSpace()
    rng = np.random.default_rng(size)
    token_lists = [space.sample(rng) for _ in range(count)]
    token_lists.append([d.size - 1 for d in space.decisions])  # the largest corner of the space
    token_lists.append([0] * len(space.decisions))             # the smallest
    for tokens in token_lists:
        model = space.decode(tokens).build(BuildOptions(input_size=size, num_classes=10,
                                                        stem_stride=1 if size == 32 else 2))
        out = model(np.random.default_rng(0).random((2, size, size, 3), dtype=np.float32), training=False)
        assert out.shape == (2, 10) and np.isfinite(np.asarray(out)).all()


def test_builder_rejects_bad_arguments():
    with pytest.raises(ValueError, match="depth_multiplier"):
        BuildOptions(depth_multiplier=0)
    with pytest.raises(ValueError, match="unknown reference architecture 'a9'"):
        network("a9")
    with pytest.raises(ValueError, match="stem_stride"):
        BuildOptions(stem_stride=3)
    with pytest.raises(ValueError, match="input_size must be between 8 and 1024"):
        BuildOptions(input_size=4096)


def test_keras_baselines_take_the_width_multiplier():
    """A width multiplier on a Keras application is its alpha (it used to be silently ignored)."""
    full, half = (summarize(network("keras-mobilenet").build(BuildOptions(depth_multiplier=m)))["trainable_params"]
                  for m in (1.0, 0.5))
    assert half < 0.4 * full


def test_hard_sigmoid_se_gate_is_built_with_the_same_weights():
    """The gate changes the SE's activation, never its weights; the hard sigmoid is relu6(x + 3) / 6."""
    from dataclasses import replace
    import keras

    arch, options = reference("mnasnet-a1"), BuildOptions(input_size=64)
    soft, hard = arch.build(options), replace(arch, se_gate="hard_sigmoid").build(options)
    assert summarize(soft) == summarize(hard)
    gates = {layer.activation.__name__ for layer in hard.layers if layer.name.endswith("_se_expand")}
    assert gates == {"hard_sigmoid"}
    x = np.linspace(-4.0, 4.0, 9, dtype="float32")
    np.testing.assert_allclose(keras.activations.hard_sigmoid(x), np.clip(x + 3.0, 0.0, 6.0) / 6.0, atol=1e-7)
