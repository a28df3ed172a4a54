"""The factorized space: sizes, lossless round trips, sampling, and clear errors on malformed input."""
import math

import numpy as np
import pytest

from mnaslib.spaces.zoo import reference, reference_names
from mnaslib.spaces.arch import Arch, BlockSpec
from mnaslib.spaces.mnasnet import MnasNetSpace, search_space_sizes

SPACE = MnasNetSpace()


def test_432_choices_per_block_and_432_to_the_7():
    assert SPACE.choices_per_block == 432
    assert len(SPACE.decisions) == 42
    assert SPACE.log10_size() == pytest.approx(7 * math.log10(432))
    assert [size for _, size in SPACE.decision_sizes()[:6]] == [4, 2, 2, 3, 3, 3]


def test_paper_size_example_b5():
    sizes = search_space_sizes(432, blocks=5, layers_per_block=3)
    # 432^5 = 10^13.2 and 432^15 = 10^39.5: the paper quotes the orders of magnitude, 10^13 and 10^39
    assert math.floor(sizes["factorized_log10"]) == 13
    assert math.floor(sizes["per_layer_log10"]) == 39


def test_space_without_se_is_half_the_size():
    assert MnasNetSpace(se_ratios=(0.0,)).choices_per_block == 216


def test_round_trips_for_1000_random_samples():
    rng = np.random.default_rng(0)
    ids = set()
    for _ in range(1000):
        tokens = SPACE.sample(rng)
        arch = SPACE.decode(tokens)
        canonical = SPACE.encode(arch)
        assert SPACE.decode(canonical) == arch                      # tokens -> Arch -> tokens -> same network
        assert SPACE.encode(SPACE.decode(canonical)) == canonical   # canonical tokens are a fixed point
        again = Arch.from_block_strings(arch.block_strings(), stem_filters=arch.stem_filters)
        assert again == arch and again.arch_id == arch.arch_id      # Arch <-> block strings
        for block in arch.blocks:
            assert BlockSpec.from_string(block.to_string()) == block
        assert Arch.from_dict(arch.to_dict()) == arch                # Arch <-> JSON (stem and head kept)
        ids.add(arch.arch_id)
    assert len(ids) > 990


def test_arch_ids_are_pinned_across_releases():
    """A stored run names its networks by id: the id of a network must never change."""
    from mnaslib.spaces.zoo import reference
    assert reference("mnasnet-a1").arch_id == "f6daf5250d9a"
    assert reference("mnasnet-small").arch_id == "5bfa17cd5447"


def test_arch_json_keeps_the_stem_and_refuses_a_wrong_id():
    from mnaslib.spaces.zoo import reference
    small = reference("mnasnet-small")
    assert small.stem_filters == 8 and Arch.from_dict(small.to_dict()).stem_filters == 8
    with pytest.raises(ValueError, match="does not match"):
        Arch.from_dict({**small.to_dict(), "arch_id": "000000000000"})
    with pytest.raises(ValueError, match="block_strings"):
        Arch.from_dict({"blocks": []})


def test_tokens_that_differ_only_below_one_layer_are_the_same_network():
    tokens = SPACE.sample(1)
    tokens[5] = 0  # block 1 (1 base layer), delta -1 -> still 1 layer
    other = list(tokens)
    other[5] = 1
    assert SPACE.decode(tokens) == SPACE.decode(other)
    assert SPACE.encode(SPACE.decode(tokens))[5] == 1


def test_seeded_sampling_is_reproducible():
    assert SPACE.sample(42) == SPACE.sample(42)
    assert SPACE.sample(42) != SPACE.sample(43)


def test_decode_semantics():
    tokens = [0, 1, 1, 0, 2, 2] + [3, 0, 0, 2, 0, 0] * 6
    arch = SPACE.decode(tokens)
    first = arch.blocks[0]
    assert (first.op, first.kernel, first.se_ratio, first.skip, first.out_filters, first.repeats) == \
        ("conv", 5, 0.25, "pool", 20, 2)
    second = arch.blocks[1]
    assert (second.conv_op, second.skip, second.out_filters, second.repeats, second.in_filters) == \
        ("mbconv6", "none", 18, 1, 20)


@pytest.mark.parametrize("name", ["mnasnet-a1", "mnasnet-b1", "mnasnet-small", "mnasnet-d1", "mobilenetv2"])
def test_official_block_strings_round_trip(name):
    arch = reference(name)
    assert Arch.from_block_strings(arch.block_strings(), stem_filters=arch.stem_filters).blocks == arch.blocks


def test_official_strings_parse_as_documented():
    d1 = reference("d1")
    assert d1.blocks[4] == BlockSpec(5, 7, 1, 3, 96, 96)
    assert d1.blocks[0].expand_ratio == 9
    a1 = reference("a1")
    assert a1.blocks[0].skip == "none" and a1.blocks[0].conv_op == "dconv"
    assert a1.blocks[2].se_ratio == 0.25 and a1.blocks[2].conv_op == "mbconv3"
    assert reference("small").stem_filters == 8
    assert len(set(reference_names())) == len(reference_names())


def test_mobilenetv2_is_a_point_of_the_space():
    tokens = SPACE.encode(reference("mobilenetv2"))
    assert SPACE.decode(tokens).blocks == reference("mobilenetv2").blocks


def test_a1_is_outside_the_exact_filter_grid():
    with pytest.raises(ValueError, match="block 5 .* 112 filters"):
        SPACE.encode(reference("a1"))


@pytest.mark.parametrize("text, fragment", [
    ("", "empty block string"),
    ("r1_k3_s11_e1_i32_o16_x5", "unknown part 'x5'"),
    ("r1_k3_s11_e1_i32", "missing output filters"),
    ("r1_k3_s11_e1_o16", "missing input filters"),
    ("r1_k3_s33_e1_i32_o16", "stride 3"),
    ("r1_k3_s12_e1_i32_o16", "two equal digits"),
    ("r-1_k3_s11_e1_i32_o16", "must not be negative"),
    ("r0_k3_s11_e1_i32_o16", "repeats must be >= 1"),
    ("r1_k3_s11_e1_i32_o16_se1.5", "se ratio 1.5"),
    ("r1_k3_s11_e1_i32_o16_sex", "needs a number after 'se'"),
    ("r1_k4_s11_e1_i32_o16", "kernel must be odd"),
    ("r1_k3_s11_e0_i32_o16", "expansion must be >= 1"),
    ("r1_k3_k5_s11_e1_i32_o16", "key 'k' given twice"),
    ("r1_kx_s11_e1_i32_o16", "needs an integer after 'k'"),
    ("r1_k3_s11_e1_i32_o16_noskip_poolskip", "more than one skip flag"),
    ("r1_k3_s11_e6_i32_o16_conv", "regular conv block has no expansion"),
    ("r1_k3_s11_e1_i0_o16", "input filters must be >= 1"),
])
def test_malformed_block_strings_name_the_bad_part(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        BlockSpec.from_string(text)


@pytest.mark.parametrize("tokens, fragment", [
    ([0] * 41, "expected 42 tokens"),
    ([0] * 43, "expected 42 tokens"),
    ([4] + [0] * 41, r"token 0 \(block1_op\) = 4 is out of range 0..3"),
    ([0] * 5 + [-1] + [0] * 36, r"token 5 \(block1_layers\) = -1"),
    ([0.5] + [0] * 41, "must be an integer"),
    ([True] + [0] * 41, "must be an integer"),
])
def test_bad_tokens_raise(tokens, fragment):
    with pytest.raises(ValueError, match=fragment):
        SPACE.decode(tokens)


def test_unknown_space_choices_raise():
    with pytest.raises(ValueError, match="unknown conv op"):
        MnasNetSpace(conv_ops=("mbconv9",))
    with pytest.raises(ValueError, match="unknown skip op"):
        MnasNetSpace(skip_ops=("dense",))


def test_hard_sigmoid_gate_enters_the_id_only_when_chosen_and_survives_json():
    """The default sigmoid keeps every id (A1's is pinned above); a hard-sigmoid network is another network, and its
    gate survives the JSON round trip (an older file without the field reads as sigmoid)."""
    from dataclasses import replace
    a1 = reference("mnasnet-a1")
    hard = replace(a1, se_gate="hard_sigmoid")
    assert replace(hard, se_gate="sigmoid").arch_id == a1.arch_id == "f6daf5250d9a"
    assert hard.arch_id != a1.arch_id and hard.block_strings() == a1.block_strings()
    assert Arch.from_dict(hard.to_dict()) == hard and hard.to_dict()["se_gate"] == "hard_sigmoid"
    legacy = {k: v for k, v in a1.to_dict().items() if k != "se_gate"}
    assert Arch.from_dict(legacy).se_gate == "sigmoid"
    with pytest.raises(ValueError, match="does not match"):
        Arch.from_dict({**hard.to_dict(), "se_gate": "sigmoid"})  # the stored id names the hard-sigmoid network
    with pytest.raises(ValueError, match="se_gate must be one of"):
        replace(a1, se_gate="swish")
    with pytest.raises(ValueError, match="gates SE with a sigmoid"):
        SPACE.encode(replace(SPACE.decode(SPACE.sample(0)), se_gate="hard_sigmoid"))
