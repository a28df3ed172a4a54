"""Latency models of a user's own device and the canonical, grouped-validated feature model behind them.

The phone is tests/fake_adb/adb (replaying benchmark_model's real output); conversions and fits are real. Measured
networks are tiny (one block at 32 px) so a measurement costs about a second.
"""
import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

from mnaslib.spaces.buildable import BuildOptions
from mnaslib.cli import main
from mnaslib.latency import AdbError, get_provider
from mnaslib.latency.device_calibration import MeasurementStore, adb_measure, calibration_networks, measure_all
from mnaslib.latency.device_model import Measurement, fit_device_model, load_device_model
from mnaslib.latency.feature_model import group_predictions, validation_summary
from mnaslib.latency.pixel1 import load_pixel1_model
from mnaslib.spaces.zoo import KERAS_NETWORKS, reference

HERE = Path(__file__).resolve().parent
TINY = ("r1_k3_s22_e3_i16_o16", "r1_k5_s22_e6_i16_o24")


@pytest.mark.parametrize("multiplier, size", [(1.0, 224), (0.5, 128)])
def test_canonical_features_equal_for_both_mobilenetv2_builders(multiplier, size):
    """Keras' MobileNetV2 (explicit padding, a softmax) and MobileNetV2 as a MnasNet-space network are one network
    to the cost model, so both get one prediction."""
    model = load_pixel1_model()
    options = BuildOptions(depth_multiplier=multiplier, input_size=size)
    keras_built = model.model_features(KERAS_NETWORKS["keras-mobilenetv2"].build(options))
    np.testing.assert_allclose(keras_built, model.arch_features(reference("mobilenetv2"), options), rtol=1e-12)


def test_pixel1_label_carries_the_grouped_error_and_the_range():
    model = load_pixel1_model()
    result = get_provider("pixel1-model").latency(reference("a1"))
    assert result.provenance.detail == model.label
    assert f"grouped-CV MAPE {100 * model.grouped_mape:.1f}%" in model.label and "0.35-1.4x, 96-224 px" in model.label
    assert "LOO" not in model.label


def test_grouped_validation_is_recomputed_from_the_stored_points():
    """The stored grouped errors are what validation_summary computes from the stored features (not typed in), and
    holding a whole width out is harder than leaving one point out."""
    model = load_pixel1_model()
    latency = np.array([p["latency_ms"] for p in model.points])
    weights = np.array([p["weight"] for p in model.points])
    matrix = np.array([p["features"] for p in model.points])
    widths = np.array([f"{p['multiplier']:g}x" for p in model.points])
    fixed = group_predictions(matrix, latency, weights, widths)
    stored = model.validation["fixed_spec_schemes"]["width"]
    assert np.mean(np.abs(fixed / latency - 1)) == pytest.approx(stored["mape"], rel=1e-9)
    assert stored["mape"] > model.loo_mape
    assert 0 < model.grouped_mape < 0.10


def _synthetic_csv(path: Path, rows: int) -> Path:
    """Latencies synthesised as 1.3x the Pixel-1 model's prediction (a stand-in device 30% slower)."""
    pixel1 = load_pixel1_model()
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["architecture", "ms", "multiplier", "input_size"])
        for item in calibration_networks(rows, seed=1):
            writer.writerow([item.architecture, 1.3 * pixel1.predict_arch(item.network(), item.options()),
                             item.multiplier, item.input_size])
    return path


def test_device_model_from_csv_round_trip_and_profile(tmp_path, capsys):
    csv_path = _synthetic_csv(tmp_path / "phone.csv", 14)
    assert main(["calibrate", "--from-csv", str(csv_path), "--name", "my-phone", "--models-dir",
                 str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "my-phone model, grouped-CV MAPE" in out and "5 random architectures" in out
    assert max(map(len, out.splitlines())) < 400  # random architectures are summarised, not listed by spec
    saved = load_device_model("my-phone", tmp_path)
    assert json.loads((tmp_path / "my-phone.json").read_text())["device"] == "my-phone"
    assert saved.grouped_mape < 0.02  # the synthetic device is linear in the features: nearly exact
    provider = get_provider("device-model", name="my-phone", models_dir=str(tmp_path))
    result = provider.latency_of(reference("a1"), BuildOptions(input_size=160))
    assert result.median_ms == pytest.approx(saved.predict_arch(reference("a1"), BuildOptions(input_size=160)))
    assert result.median_ms == pytest.approx(1.3 * load_pixel1_model().predict_arch(
        reference("a1"), BuildOptions(input_size=160)), rel=0.05)
    assert result.provenance.kind == "predicted" and result.provenance.detail.startswith("my-phone model")
    recomputed = validation_summary([m.ops() for m in _measurements(csv_path)],
                                    np.array([p["latency_ms"] for p in saved.points]), np.ones(14),
                                    _schemes(saved), saved.spec)
    assert recomputed["grouped_mape"] == pytest.approx(saved.grouped_mape, rel=1e-9)

    from mnaslib.search.wiring import make_latency

    os.environ["MNAS_DEVICE_MODELS"] = str(tmp_path)
    try:
        latency = make_latency({"provider": "device-model", "name": "my-phone"})
        assert "my-phone" in latency(reference("a1")).provenance
    finally:
        del os.environ["MNAS_DEVICE_MODELS"]


def _measurements(path):
    from mnaslib.latency.device_model import read_measurements_csv

    return read_measurements_csv(path)


def _schemes(model):
    return {"family": np.array([p["family"] for p in model.points]),
            "width": np.array([f"{p['multiplier']:g}x" for p in model.points]),
            "resolution": np.array([f"{p['input_size']}px" for p in model.points])}


@pytest.mark.parametrize("content, message", [
    ("arch,ms\na1,3\n", "missing column(s) architecture"),
    ("architecture,ms\na1,fast\n", "line 2: ms, multiplier and input_size must be numbers"),
    ("architecture,ms\na1,-2\n", "line 2: a measured latency must be a positive number"),
    ("architecture,ms\na1,3\nnot-a-net,4\n", "line 3: 'not-a-net' is neither a network name"),
    ("architecture,ms\n", "has a header but no measurements"),
    ("architecture,ms\na1,3\nb1,4\n", "2 measured networks are too few"),
])
def test_csv_import_errors_are_one_line_exit_2(tmp_path, capsys, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert main(["calibrate", "--from-csv", str(path), "--name", "x", "--models-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "x.json").exists()


def test_bad_device_model_names_and_missing_models(tmp_path, capsys):
    assert main(["calibrate", "--device", "host", "--name", "../up", "--models-dir", str(tmp_path)]) == 2
    assert "device model name '../up' is not usable" in capsys.readouterr().err
    assert main(["latency", "--provider", "device-model", "--name", "nope", "a1"]) == 2
    assert "no device model 'nope'" in capsys.readouterr().err


@pytest.fixture
def fake_adb(monkeypatch, tmp_path) -> Path:
    log = tmp_path / "adb.log"
    monkeypatch.setenv("PATH", f"{HERE / 'fake_adb'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_ADB_LOG", str(log))
    for name in ("FAKE_ADB_DEVICES", "FAKE_ADB_BINARY_MISSING", "FAKE_ADB_SLEEP", "FAKE_ADB_OUTPUT",
                 "FAKE_ADB_LOST_AFTER"):
        monkeypatch.delenv(name, raising=False)
    return log


def _runs(log: Path) -> int:
    return sum("benchmark_model --graph" in line for line in log.read_text().splitlines())


def test_calibrate_resumes_after_the_phone_is_lost(fake_adb, monkeypatch, tmp_path):
    """The phone vanishes after the first network: the first measurement is kept on disk, the error says so, and
    the rerun measures only the second."""
    wanted = [Measurement(arch, 1.0, 32, float("nan")) for arch in TINY]
    store = MeasurementStore("phone", tmp_path)
    monkeypatch.setenv("FAKE_ADB_LOST_AFTER", "1")
    with pytest.raises(AdbError, match=r"no Android device is connected.*1 of 2 measurements are kept in "
                                       r".*phone.measurements.jsonl; rerun the same command"):
        measure_all(wanted, adb_measure(), store)
    assert _runs(fake_adb) == 1 and len(store.load()) == 1
    monkeypatch.delenv("FAKE_ADB_LOST_AFTER")
    measured = measure_all(wanted, adb_measure(), store)
    assert _runs(fake_adb) == 2  # one more benchmark run, not two
    assert [m.ms for m in measured] == pytest.approx([41.102, 41.102])  # the fixture's median
    assert "Pixel 2" in measured[0].provenance and measured[0] == store.load()[measured[0].key]


def test_calibrate_phone_lost_mid_way_is_one_line_exit_2(fake_adb, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("FAKE_ADB_LOST_AFTER", "1")  # unplugged after the first network
    assert main(["calibrate", "--device", "adb", "--name", "p", "--count", "2", "--widths", "0.35", "--sizes", "32",
                 "--models-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()  # the progress bar, then the error
    errors = [line for line in err if "error" in line]
    assert errors == err[-1:] and err[-1].startswith("mnas calibrate: error: no Android device is connected")
    err = err[-1]
    assert "1 of 2 measurements are kept" in err and not (tmp_path / "p.json").exists()


def test_a_single_size_and_width_fit_drops_those_groupings(tmp_path):
    """Measured at one size and width only, a model still fits; its grouped error is over families alone."""
    pixel1 = load_pixel1_model()
    measurements = [Measurement(item.architecture, 1.0, 224, pixel1.predict_arch(item.network()))
                    for item in calibration_networks(9, seed=2)]
    model = fit_device_model("one-size", measurements, directory=tmp_path, save=False)
    assert set(model.validation["schemes"]) == {"family"} and model.grouped_mape < 0.05
    assert "1x, 224 px, 9 networks" in model.label and not (tmp_path / "one-size.json").exists()
