"""NAS-Bench-Macro: the space, the Keras network against the published counts, the table and its helpers.

Tests that need the data file read it in place from shared/ (tests/shared_data.py) and skip when it is absent;
nothing from it is in the repository. The synthetic tables below are generated here, labelled synthetic.
"""
import json
import math

import keras
import numpy as np
import pytest
from shared_data import require_shared

from mnaslib.spaces.buildable import Buildable, BuildOptions
from mnaslib.spaces.counting import summarize
from mnaslib.labels import Provenance
from mnaslib.spaces.models import round_filters
from mnaslib.tabular.files import BenchmarkChecksumError, BenchmarkNotFoundError
from mnaslib.spaces.macro import MACRO_OPTIONS, MacroArch, MacroSpace, all_keys, canonical_key, distinct_keys
from mnaslib.tabular.nasbench_macro import NASBENCH_MACRO, NASBenchMacro, NASBenchMacroFormatError, latency_caveat

# A Keras build and count takes 0.3-1.5 s on the 2-core machine (idle to busy), so building all 6,561 keys (35 min
# or more) is out of reach: the analytic counter below checks every key against the table, and real builds check
# the counter and the table on 10 seeded keys plus the smallest and the largest network (12 builds, 4-18 s).
SAMPLE = sorted(set(np.random.default_rng(2024).choice(all_keys(), 10, replace=False)) | {"00000000", "22222222"})


def analytic_counts(key: str) -> tuple[int, int]:
    """Trainable params and mult-adds of a key's network, written from the benchmark README's description alone."""
    params, flops, width, size = 3 * 32 * 9 + 2 * 32, 3 * 32 * 9 * 32 * 32, 32, 32
    layer = 0
    for out, length in ((64, 2), (128, 3), (256, 3)):
        for index in range(length):
            token, stride = int(key[layer]), 2 if index == 0 else 1
            out_size = size // stride
            if token == 0 and (stride != 1 or width != out):
                params += width * out + 2 * out
                flops += width * out * out_size ** 2
            elif token:
                expansion, kernel = (3, 3) if token == 1 else (6, 5)
                mid = width * expansion
                params += width * mid + mid * kernel ** 2 + mid * out + 2 * (2 * mid + out)
                flops += width * mid * size ** 2 + (mid * kernel ** 2 + mid * out) * out_size ** 2
            width, size, layer = out, out_size, layer + 1
    params += width * 1280 + 2 * 1280 + 1280 * 10 + 10
    flops += width * 1280 * size ** 2 + 1280 * 10
    return params, flops


@pytest.fixture(scope="module")
def built_counts():
    counts = {}
    for key in SAMPLE:
        summary = summarize(MacroArch(key).build(MACRO_OPTIONS))
        counts[key] = (summary["trainable_params"], summary["mult_adds"])
        keras.backend.clear_session()
    return counts


@pytest.fixture(scope="module")
def bench():
    return NASBenchMacro.load(require_shared("benchmarks", "nas-bench-macro"))


def test_keras_network_counts_equal_the_analytic_counter(built_counts):
    assert built_counts == {key: analytic_counts(key) for key in SAMPLE}


def test_counts_equal_the_tables_params_and_flops_for_every_key(bench, built_counts):
    """All 6,561 keys through the analytic counter; 12 real Keras builds (10 seeded keys, the smallest and the
    largest network) check the counter and the table, since building every key would take 35 minutes or more."""
    table = {key: (bench.record(key).extra["params"], bench.record(key).extra["flops"]) for key in all_keys()}
    assert {key: analytic_counts(key) for key in all_keys()} == table
    assert built_counts == {key: table[key] for key in SAMPLE}
    assert table["00000000"] == (387_882, 7_713_280)


def test_canonical_keys_and_the_3969_distinct_networks():
    assert canonical_key("22212202") == "22212220"
    assert canonical_key("10201020") == "10210020"
    assert canonical_key("02000000") == "02000000"  # stage 1 has only one layer after its first
    assert len(all_keys()) == 6561 and len(distinct_keys()) == 3969
    assert all(canonical_key(key) == key for key in distinct_keys())
    ids = {MacroArch(key).arch_id for key in all_keys()}
    assert len(ids) == 3969
    assert MacroArch("22212202").arch_id == MacroArch("22212220").arch_id != MacroArch("22212222").arch_id
    assert MacroArch("22212202").canonical == MacroArch("22212220")


def test_equivalent_keys_have_identical_table_entries(bench):
    for key in all_keys():
        assert bench.record(key) == bench.record(canonical_key(key))
    assert sum(1 for _ in bench.distinct()) == bench.num_distinct == 3969


def test_equivalent_keys_build_networks_computing_the_same_function():
    """22212202 with its weights moved to 22212220's layers gives the same outputs: the Identity is a no-op."""
    first, second = MacroArch("22212202").build(), MacroArch("22212220").build()
    rename = {"stage3_layer2": "stage3_layer3"}
    for layer in second.layers:
        if layer.weights:
            prefix = "_".join(layer.name.split("_")[:2])
            source = layer.name.replace(prefix, rename[prefix]) if prefix in rename else layer.name
            layer.set_weights(first.get_layer(source).get_weights())
    images = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(second.predict(images, verbose=0), first.predict(images, verbose=0), atol=1e-5)
    keras.backend.clear_session()


def test_space_round_trips_and_sampling():
    space = MacroSpace()
    assert space.decision_sizes() == [(f"stage{s}_layer{i}", 3) for s, n in ((1, 2), (2, 3), (3, 3))
                                      for i in range(1, n + 1)]
    assert space.log10_size() == pytest.approx(math.log10(6561))
    for key in all_keys():
        assert space.decode(space.encode(key)).key == key
    rng = np.random.default_rng(5)
    for _ in range(50):
        tokens = space.sample(rng)
        assert space.encode(space.decode(tokens)) == tokens
    assert space.sample(3) == space.sample(3) and space.sample(3) != space.sample(4)
    assert space.decode(np.array([2, 2, 2, 1, 2, 2, 2, 0])).key == "22212220"
    assert isinstance(space.decode([0] * 8), Buildable)


def test_bad_keys_and_tokens_raise_clear_errors():
    for bad in ("2221222", "22212223", "2221222a", 22212220):
        with pytest.raises(ValueError, match="8 digits|string of 8 digits"):
            MacroArch(bad)
    space = MacroSpace()
    with pytest.raises(ValueError, match="expected 8 tokens"):
        space.decode([0] * 7)
    with pytest.raises(ValueError, match="expected 8 tokens"):
        space.decode("22212220")
    with pytest.raises(ValueError, match=r"token 3 \(stage2_layer2\) = 3 is out of range"):
        space.decode([0, 0, 0, 3, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="must be an integer"):
        space.decode([0, 0, 0, True, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="8 digits"):
        space.encode("2221")


def test_block_strings_and_layer_names_are_readable():
    arch = MacroArch("02000001")
    assert arch.block_strings()[:3] == ["stage1_layer1:Identity_proj1x1_s2_i32_o64",
                                        "stage1_layer2:MB6_K5_s1_i64_o64", "stage2_layer1:Identity_proj1x1_s2_i64_o128"]
    assert arch.block_strings()[-1] == "stage3_layer3:MB3_K3_s1_i256_o256"
    names = {layer.name for layer in arch.build().layers}
    assert {"stem_conv", "stage1_layer1_shortcut_conv", "stage1_layer2_expand_conv", "stage1_layer2_add",
            "stage3_layer3_project_bn", "head_conv", "predictions"} <= names
    assert not any(name.startswith(("stage2_layer2", "stage3_layer2")) for name in names)  # stride-1 identities
    keras.backend.clear_session()


def test_build_honours_the_options():
    arch = MacroArch("21000002")
    narrow = arch.build(MACRO_OPTIONS.replace(depth_multiplier=0.35))
    assert narrow.get_layer("stem_conv").filters == round_filters(32, 0.35) == 16
    assert narrow.get_layer("stage1_layer1_expand_conv").filters == 6 * 16
    assert narrow.get_layer("stage3_layer3_project_conv").filters == round_filters(256, 0.35)
    assert narrow.get_layer("head_conv").filters == round_filters(1280, 0.35)
    assert narrow.name == "nas-bench-macro-21000002-x0.35"
    wide = arch.build(BuildOptions(input_size=64, num_classes=100, stem_stride=2))
    assert wide.output.shape == (None, 100) and wide.get_layer("head_conv").output.shape == (None, 4, 4, 1280)
    # a stride-2 depthwise conv is padded symmetrically by k // 2, as in PyTorch
    assert wide.get_layer("stage1_layer1_dwconv_pad").padding == ((2, 2), (2, 2))
    assert MacroArch("11111111").build().get_layer("stage2_layer1_dwconv_pad").padding == ((1, 1), (1, 1))
    keras.backend.clear_session()


def test_the_published_table(bench):
    """The README's numbers: best 22212220 at 93.13% (three runs), worst 00000000 at 45.4%."""
    best = bench.record(MacroArch("22212220"))
    assert best.accuracy == pytest.approx(0.9313, abs=5e-5) and len(best.runs) == 3
    assert best.accuracy == pytest.approx(np.mean(best.runs))
    assert best.provenance.kind == "benchmark" and "mean of 3 CIFAR-10 trainings" in best.provenance.detail
    assert bench.rank(best.accuracy) == 1
    worst = bench.record("00000000")
    assert worst.accuracy == pytest.approx(0.454, abs=5e-4) and bench.rank(worst.accuracy) == 3969
    assert bench.accuracy([2, 2, 2, 1, 2, 2, 0, 2]) == best.accuracy


def test_top_thresholds_and_noise_ceiling(bench):
    accuracies = np.array([record.accuracy for _, record in bench.distinct()])
    for fraction, count in ((0.001, 4), (0.01, 40)):
        threshold = bench.top_threshold(fraction)
        assert threshold == np.sort(accuracies)[::-1][count - 1]
        assert np.count_nonzero(accuracies >= threshold) >= count
        assert np.count_nonzero(accuracies > threshold) < count
    tau = bench.noise_ceiling()
    assert 0.5 < tau < 0.99 and bench.noise_ceiling((1, 0)) == pytest.approx(tau)
    assert bench.noise_ceiling((0, 2)) != tau
    for bad in ((0, 0), (0, 3)):
        with pytest.raises(ValueError, match="two different run indices"):
            bench.noise_ceiling(bad)
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]"):
            bench.top_threshold(bad)


def synthetic_entries(seed: int = 0) -> dict:
    """A table of NAS-Bench-Macro's shape with made-up accuracies, equal for equivalent keys."""
    rng = np.random.default_rng(seed)
    by_canonical = {}
    for key in distinct_keys():
        runs = rng.uniform(40, 95, 3).tolist()
        by_canonical[key] = {"test_acc": runs, "mean_acc": float(np.mean(runs)), "std": float(np.std(runs)),
                             "params": 1000 + len(by_canonical), "flops": 5000}
    return {key: by_canonical[canonical_key(key)] for key in all_keys()}


def test_a_synthetic_table_carries_its_own_provenance():
    table = NASBenchMacro(synthetic_entries(), Provenance("synthetic", "seeded test table"), "test")
    record = table.record("12121212")
    assert record.provenance.kind == "synthetic" and record.extra["canonical_key"] == "12121212"
    accuracies = sorted((r.accuracy for _, r in table.distinct()), reverse=True)
    assert table.top_threshold(0.01) == accuracies[39] and table.rank(accuracies[39]) == 40


@pytest.mark.parametrize("damage, message", [
    (lambda t: t.pop("01201201"), "1 of the 6,561 keys are missing"),
    (lambda t: t.update({"0120120": t["00000000"]}), "not NAS-Bench-Macro keys"),
    (lambda t: t.update({"01201201": {"mean_acc": 90.0}}), "entry 01201201 needs the fields"),
    (lambda t: t.update({"01201201": {**t["01201201"], "test_acc": [90.0, 91.0]}}), "test_acc must be 3"),
    (lambda t: t.update({"01201201": {**t["01201201"], "mean_acc": 9000.0}}), "mean_acc must be a percentage"),
    (lambda t: t.update({"01201201": {**t["01201201"], "flops": 12.5}}), "flops must be a positive integer"),
])
def test_a_damaged_table_names_what_is_wrong(damage, message):
    entries = synthetic_entries()
    damage(entries)
    with pytest.raises(NASBenchMacroFormatError, match=message):
        NASBenchMacro(entries, Provenance("synthetic", "damaged test table"), "damaged.json")
    with pytest.raises(NASBenchMacroFormatError, match="expected a JSON object"):
        NASBenchMacro([], Provenance("synthetic"), "list.json")


def test_locating_the_file_wrong_copy_and_offline(tmp_path, monkeypatch):
    for variable in ("MNAS_NASBENCH_MACRO", "MNAS_BENCHMARK_DIR"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("MNAS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MNAS_OFFLINE", "1")
    with pytest.raises(BenchmarkNotFoundError, match="MNAS_NASBENCH_MACRO.*sha256 686dee836"):
        NASBenchMacro.load()
    wrong = tmp_path / NASBENCH_MACRO.filename
    wrong.write_text(json.dumps(synthetic_entries()))
    with pytest.raises(BenchmarkChecksumError, match=f"{wrong}.*another version or damaged"):
        NASBenchMacro.load(tmp_path)
    monkeypatch.setenv("MNAS_NASBENCH_MACRO", str(wrong))
    with pytest.raises(BenchmarkChecksumError, match=str(wrong)):
        NASBenchMacro.load()
    with pytest.raises(BenchmarkNotFoundError, match="holds no such file"):
        NASBenchMacro.load(tmp_path / "elsewhere")


def test_the_environment_variable_finds_the_published_file(monkeypatch):
    folder = require_shared("benchmarks", "nas-bench-macro")
    monkeypatch.setenv("MNAS_OFFLINE", "1")
    monkeypatch.setenv("MNAS_NASBENCH_MACRO", str(folder))
    assert NASBenchMacro.load().source == str(folder / NASBENCH_MACRO.filename)


def test_latency_caveats_say_what_each_provider_is_worth_here():
    assert latency_caveat("host") == latency_caveat("host-tflite")
    assert "224x224 ImageNet" in latency_caveat("pixel1-model")
    assert "not a latency" in latency_caveat("flops")
    for provider in ("host-model", "nonsense"):
        with pytest.raises(ValueError, match="cannot time these networks"):
            latency_caveat(provider)
