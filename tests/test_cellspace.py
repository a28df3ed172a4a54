"""The NASNet-style cell space: decisions, round trips, clear errors, Keras builds that run, and the generic search."""
import keras
import numpy as np
import pytest
from search_toys import toy_evaluate, toy_latency

from mnaslib.spaces.cell import OPS, CellArch, CellBlock, CellSpace, nasnet_a
from mnaslib.strategies import make_strategy
from mnaslib.spaces.counting import summarize
from mnaslib.reward import get_reward
from mnaslib.spaces.buildable import BuildOptions
from mnaslib.search.wiring import make_space
from mnaslib.search.loop import run_search
from mnaslib.search.rundir import open_run

SMALL = CellSpace(blocks=2, num_cells=1)


def test_decisions_per_block_and_input_choices_grow():
    space = CellSpace()
    sizes = space.decision_sizes()
    assert len(sizes) == 2 * 5 * 4
    assert sizes[:4] == [("normal_b1_input_a", 2), ("normal_b1_input_b", 2), ("normal_b1_op_a", len(OPS)),
                         ("normal_b1_op_b", len(OPS))]
    reduction_inputs = [size for name, size in sizes if name.startswith("reduction") and name.endswith("input_a")]
    assert reduction_inputs == [2, 3, 4, 5, 6]
    expected = 2 * sum(2 * np.log10(2 + b) + 2 * np.log10(len(OPS)) for b in range(5))
    assert space.log10_size() == pytest.approx(expected)
    assert len({name for name, _ in sizes}) == len(sizes)


def test_sample_decode_encode_round_trip_and_stable_ids():
    space = CellSpace()
    rng = np.random.default_rng(0)
    ids = set()
    for _ in range(300):
        tokens = space.sample(rng)
        arch = space.decode(tokens)
        assert space.encode(arch) == tokens
        assert space.decode(space.encode(arch)) == arch
        assert arch.arch_id == space.decode(list(tokens)).arch_id
        ids.add(arch.arch_id)
    assert len(ids) == 300
    assert space.sample(5) == space.sample(5)
    arch = space.decode(space.sample(1))
    wider = CellSpace(filters=48).decode(space.sample(1))
    assert arch.block_strings() == wider.block_strings() and arch.arch_id != wider.arch_id


def test_block_strings_are_readable_and_name_the_concatenated_outputs():
    strings = nasnet_a().block_strings()
    assert strings[0] == ("normal: b1=sep_conv_5x5(h1)+sep_conv_3x3(h0); b2=sep_conv_5x5(h0)+sep_conv_3x3(h0); "
                          "b3=avg_pool_3x3(h1)+identity(h0); b4=avg_pool_3x3(h0)+avg_pool_3x3(h0); "
                          "b5=sep_conv_3x3(h1)+identity(h1); out=concat(b1,b2,b3,b4,b5)")
    assert strings[1].startswith("reduction: b1=sep_conv_5x5(h1)+sep_conv_7x7(h0);")
    assert strings[1].endswith("out=concat(b3,b4,b5)")
    assert nasnet_a().output_states("reduction") == [4, 5, 6]
    assert CellSpace().encode(nasnet_a()) and nasnet_a().num_layers == 2 + 3 * 4 + 2


def test_token_errors_name_the_position_and_decision():
    space = SMALL
    good = space.sample(0)
    with pytest.raises(ValueError, match="expected 16 tokens"):
        space.decode(good[:-1])
    bad = list(good)
    bad[4] = 2  # block 2 may read h0, h1 or b1: 0..2 is fine
    space.decode(bad)
    bad[4] = 3
    with pytest.raises(ValueError, match=r"token 4 \(normal_b2_input_a\) = 3 is out of range 0\.\.2"):
        space.decode(bad)
    bad = list(good)
    bad[2] = 1.0
    with pytest.raises(ValueError, match=r"token 2 \(normal_b1_op_a\) must be an integer"):
        space.decode(bad)
    bad[2] = True
    with pytest.raises(ValueError, match="must be an integer"):
        space.check_tokens(bad)


def test_invalid_cells_and_settings_are_refused():
    with pytest.raises(ValueError, match="block 1: input 2 does not exist yet"):
        CellArch((CellBlock((2, 0), ("identity", "identity")),), (CellBlock((0, 1), ("identity", "identity")),))
    with pytest.raises(ValueError, match="unknown cell op 'conv_9x9'"):
        CellBlock((0, 1), ("conv_9x9", "identity"))
    with pytest.raises(ValueError, match="blocks must be an integer >= 1"):
        CellSpace(blocks=0)
    with pytest.raises(ValueError, match="num_cells must be an integer >= 1"):
        CellSpace(num_cells=0)
    with pytest.raises(ValueError, match="unknown cell op"):
        CellSpace(ops=("identity", "dil_conv_3x3"))
    with pytest.raises(ValueError, match="the space fixes num_cells = 1"):
        SMALL.encode(nasnet_a())
    with pytest.raises(ValueError, match="at least 32 pixels"):
        SMALL.decode(SMALL.sample(0)).build(BuildOptions(input_size=16))  # stem stride 2 + 4 reductions
    with pytest.raises(ValueError, match="stem_stride must be 1 or 2"):
        SMALL.decode(SMALL.sample(0)).build(BuildOptions(stem_stride=3))


def test_make_space_dispatches_to_the_cell_space():
    assert make_space({"name": "nasnet-cell", "blocks": 2, "num_cells": 1}) == SMALL
    assert make_space({"name": "nasnet-cell"}) == CellSpace()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sampled_cells_build_and_run_at_32_with_stem_stride_1(seed):
    arch = SMALL.decode(SMALL.sample(seed))
    model = arch.build(BuildOptions(input_size=32, num_classes=10, depth_multiplier=0.35, stem_stride=1))
    out = model(np.random.default_rng(seed).random((2, 32, 32, 3), dtype=np.float32), training=False)
    assert out.shape == (2, 10) and np.isfinite(np.asarray(out)).all()
    assert model.name == f"cells-{arch.arch_id}-x0.35"
    # 32 -> 16, 8 (stem cells) -> 4, 2 (reduction cells): the last cell works on a 2x2 map
    assert model.get_layer("head_relu").output.shape[1:3] == (2, 2)


def test_every_op_reduction_paths_and_names():
    """A cell using every op, on both cell inputs (stride 2 in the reduction cell) and on block outputs."""
    blocks = tuple(CellBlock((b % 2, b + 1), (OPS[(2 * b) % len(OPS)], OPS[(2 * b + 1) % len(OPS)]))
                   for b in range(5))
    arch = CellArch(blocks, blocks, num_cells=1, filters=8, stem_filters=8, name="every op")
    model = arch.build(BuildOptions(input_size=64, num_classes=5, dropout=0.5))
    names = {layer.name for layer in model.layers}
    assert "cell04_normal_h0_reduce_path2_crop" in names  # the normal cell after a reduction: factorized reduction
    assert "cell00_reduction_b1_a_identity_conv" in names  # identity with stride 2 becomes a 1x1 conv
    assert "cell02_normal_b3_a_sep_conv_3x3_2_sepconv" in names and "dropout" in names
    assert model.name == "every_op"
    sizes = {name: model.get_layer(name).output.shape for name in ("cell00_reduction_b1_add", "cell02_normal_b1_add")}
    assert sizes["cell00_reduction_b1_add"][1:] == (16, 16, 2) and sizes["cell02_normal_b1_add"][1:] == (8, 8, 8)
    out = model(np.zeros((1, 64, 64, 3), np.float32))
    assert out.shape == (1, 5)


def test_default_model_is_mobile_sized_at_224():
    """NASNet-A's cells in the default network: measured 4,769,240 params and 508.3M mult-adds, under NASNet's
    600M mobile budget and close to Keras' NASNetMobile (5.29M / 564M, which also concatenates h0)."""
    model = nasnet_a().build()
    counts = summarize(model)
    assert 4.6e6 < counts["trainable_params"] < 5.0e6
    assert 480e6 < counts["mult_adds"] < 540e6
    assert model.output.shape == (None, 1000)
    assert model.get_layer("head_relu").output.shape[1:] == (7, 7, 5 * 176)
    out = model(np.zeros((1, 224, 224, 3), np.float32), training=False)
    assert np.isfinite(np.asarray(out)).all()


def test_a_sampled_default_cell_builds_at_224():
    space = CellSpace()
    arch = space.decode(space.sample(3))
    model = arch.build()
    counts = summarize(model)
    assert 2e6 < counts["trainable_params"] < 20e6  # the space spans ~4-13M params (sampled 6 at 224: 4.7-12.7M)
    assert isinstance(model, keras.Model) and model.get_layer("avg_pool").output.shape[-1] % 176 == 0


def test_the_generic_search_loop_runs_on_the_cell_space(tmp_path):
    store = open_run(tmp_path, {"space": "nasnet-cell", "seed": 3})
    strategy = make_strategy("ppo", SMALL.decision_sizes(), seed=3)
    result = run_search(SMALL, strategy, toy_evaluate, toy_latency, get_reward("mnas_soft", target_ms=60.0), store,
                        steps=2, batch_size=3, progress=False)
    trials = store.trials()
    assert result.trials == 6 and len(trials) == 6
    for trial in trials:
        arch = SMALL.decode(trial["tokens"])
        assert trial["arch_id"] == arch.arch_id
        assert trial["block_strings"] == arch.block_strings()
        assert trial["block_strings"][0].startswith("normal: ")
    done = store.trials("done")
    assert done and all(t["latency_ms"] == 20.0 + 2.0 * (2 + 3 + 2) for t in done)
    assert store.latest_strategy_state()[0] == 1
