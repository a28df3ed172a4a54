"""The Pixel-over-adb runner against tests/fake_adb/adb, a stand-in replaying benchmark_model's real output format.

No phone is involved: these tests pin down the exact commands sent, the parsing of each output format, and every
error path. The stand-in is the only mock; the model conversion is real.
"""
import os
import time
from pathlib import Path

import keras
import pytest

from mnaslib.latency import AdbError, AdbPixelProvider, get_provider, parse_benchmark_output, to_tflite

HERE = Path(__file__).resolve().parent
FAKE_ADB_DIR = HERE / "fake_adb"
FIXTURES = HERE / "fixtures" / "benchmark_model"
SERIAL = "FA79L1A04130"


def fixture_text(name: str) -> str:
    """A fixture without its '# ' comment header, i.e. exactly what the device prints."""
    return "\n".join(line for line in (FIXTURES / name).read_text().splitlines() if not line.startswith("# "))


@pytest.fixture(scope="module")
def model() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same")(x)
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x), name="tiny")


@pytest.fixture(scope="module")
def flatbuffer(model) -> bytes:
    return to_tflite(model)


@pytest.fixture
def adb_log(monkeypatch, tmp_path) -> Path:
    """Put the stand-in adb first on PATH with a clean scenario; returns the file its command lines go to."""
    log = tmp_path / "adb.log"
    monkeypatch.setenv("PATH", f"{FAKE_ADB_DIR}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_ADB_LOG", str(log))
    for name in ("FAKE_ADB_DEVICES", "FAKE_ADB_BINARY_MISSING", "FAKE_ADB_SLEEP", "FAKE_ADB_OUTPUT", "FAKE_ADB_CPUS",
                 "FAKE_ADB_MODEL", "FAKE_ADB_DEVICE", "FAKE_ADB_RELEASE"):
        monkeypatch.delenv(name, raising=False)
    return log


def commands(log: Path) -> list[str]:
    return log.read_text().splitlines()


@pytest.mark.parametrize("name, fmt, count, avg, std, median, init, first, warmup", [
    ("tf1_average_timings.txt", "tf1", 100, 76240.7, 812, None, 3217, None, 77612.3),
    ("tf2_inference_timings.txt", "tf2", 100, 74651.9, 702, None, 2871, 81245, 75698.2),
    ("tf2_16_info_prefix.txt", "tf2", 100, 41236.8, 611, 41102, 41286, 48213, 41904.5),
])
def test_each_output_format_parses_to_the_printed_numbers(name, fmt, count, avg, std, median, init, first, warmup):
    output = parse_benchmark_output(fixture_text(name))
    assert (output.summary_format, output.count, output.avg_us, output.std_us) == (fmt, count, avg, std)
    assert (output.median_us, output.init_us, output.first_inference_us, output.warmup_avg_us) == (
        median, init, first, warmup)
    assert output.inference_avg_us == avg and output.num_threads == 1 and output.version is None
    assert output.graph == "/data/local/tmp/mnaslib_0123456789abcdef.tflite"


def test_percentiles_and_all_same_runs_parse():
    newest = parse_benchmark_output(fixture_text("tf2_16_info_prefix.txt"))
    assert (newest.p5_us, newest.median_us, newest.p95_us, newest.min_us, newest.max_us) == (
        40633, 41102, 42398, 40512, 44806)
    same = parse_benchmark_output("count=5 curr=1200(all same)\n"
                                  "Inference timings in us: Init: 10, First inference: 1200, Warmup (avg): 1200, "
                                  "Inference (avg): 1200")
    assert (same.avg_us, same.std_us, same.min_us, same.count) == (1200, 0, 1200, 5)
    exponent = parse_benchmark_output("count=50 first=2990275 curr=2913402 min=2727568 max=3189954 avg=2.95034e+06 "
                                      "std=109798\nInference timings in us: Init: 17187, First inference: 3512391, "
                                      "Warmup (avg): 3.51239e+06, Inference (avg): 2.95034e+06")
    assert exponent.avg_us == 2.95034e6 and exponent.warmup_avg_us == 3.51239e6


def test_sends_exactly_the_paper_protocol_and_cleans_up(adb_log, flatbuffer):
    result = AdbPixelProvider().latency(flatbuffer)
    sent = commands(adb_log)
    remote = result.details["command"].split("--graph=")[1].split()[0]
    assert remote.startswith("/data/local/tmp/mnaslib_") and remote.endswith(".tflite")
    assert sent[0] == "devices"
    assert sent[1] == f"-s {SERIAL} shell getprop"
    assert sent[2] == f"-s {SERIAL} shell 'ls /data/local/tmp/benchmark_model'"
    assert sent[5].startswith(f"-s {SERIAL} push ") and sent[5].endswith(f".tflite {remote}")
    assert sent[6] == (f"-s {SERIAL} shell 'taskset f0 /data/local/tmp/benchmark_model --graph={remote} "
                       "--num_threads=1 --warmup_runs=10 --num_runs=100'")
    assert len(sent) == 8
    assert sent[-1] == f"-s {SERIAL} shell 'rm -f {remote}'"
    assert (result.median_ms, result.mean_ms, result.std_ms, result.runs, result.p90_ms) == (
        41.102, 41.2368, 0.611, 100, None)
    assert result.cv == pytest.approx(611 / 41236.8)
    assert result.provenance.kind == "measured"
    assert result.provenance.detail == "Pixel 2 (walleye) over adb, benchmark_model, 1 thread, taskset f0"
    details = result.details
    assert (details["device_model"], details["android_release"], details["serial"]) == ("Pixel 2", "11", SERIAL)
    assert details["benchmark_version"].startswith("unknown") and details["median_source"] == "benchmark_model median="
    assert details["model_bytes"] == len(flatbuffer) and details["device_cpus"] == list(range(8))


def test_a_keras_model_is_converted_before_pushing(adb_log, model):
    result = get_provider("pixel-adb", num_runs=50, warmup_runs=5).latency(model)
    assert (result.details["model"], result.details["params"]) == ("tiny", model.count_params())
    assert result.details["input_shape"] == [1, 32, 32, 3]
    assert "--warmup_runs=5 --num_runs=50" in commands(adb_log)[6]


def test_old_binaries_without_a_median_report_the_mean_and_say_so(adb_log, flatbuffer, monkeypatch):
    monkeypatch.setenv("FAKE_ADB_OUTPUT", str(FIXTURES / "tf1_average_timings.txt"))
    result = AdbPixelProvider().latency(flatbuffer)
    assert result.median_ms == result.mean_ms == 76.2407 and result.std_ms == 0.812
    assert "prints no median" in result.details["median_source"] and result.details["summary_format"] == "tf1"


def test_pixel1_needs_its_own_mask(adb_log, flatbuffer, monkeypatch):
    monkeypatch.setenv("FAKE_ADB_CPUS", "0-3")
    with pytest.raises(AdbError, match=r"selects cpus \[4, 5, 6, 7\].*Pixel 1: 'c'") as error:
        AdbPixelProvider().latency(flatbuffer)
    assert error.value.reason == "bad-mask"
    assert not any(" push " in line for line in commands(adb_log))
    result = AdbPixelProvider(taskset_mask="c").latency(flatbuffer)
    assert "shell 'taskset c " in commands(adb_log)[-2] and result.provenance.detail.endswith("taskset c")


def test_adb_not_installed(adb_log, flatbuffer, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(AdbError, match="not installed or not on PATH.*platform-tools") as error:
        AdbPixelProvider().latency(flatbuffer)
    assert error.value.reason == "adb-missing"


@pytest.mark.parametrize("scenario, reason, message", [
    ("none", "no-device", "no Android device is connected"),
    ("unauthorized", "unauthorized", "Allow USB debugging"),
    ("two", "several-devices", f"2 devices are connected \\({SERIAL} \\(device\\), emulator-5554 \\(device\\)\\)"),
])
def test_device_problems_are_named(adb_log, flatbuffer, monkeypatch, scenario, reason, message):
    monkeypatch.setenv("FAKE_ADB_DEVICES", scenario)
    with pytest.raises(AdbError, match=message) as error:
        AdbPixelProvider().latency(flatbuffer)
    assert error.value.reason == reason
    assert commands(adb_log) == ["devices"]


def test_a_serial_picks_one_of_several_devices(adb_log, flatbuffer, monkeypatch):
    monkeypatch.setenv("FAKE_ADB_DEVICES", "two")
    result = AdbPixelProvider(serial="emulator-5554").latency(flatbuffer)
    assert result.details["serial"] == "emulator-5554"
    assert all(line.startswith("-s emulator-5554 ") for line in commands(adb_log)[1:])
    with pytest.raises(AdbError, match="no device with serial 'HT0000'") as error:
        AdbPixelProvider(serial="HT0000").latency(flatbuffer)
    assert error.value.reason == "device-not-found"


def test_missing_binary_says_how_to_push_it(adb_log, flatbuffer, monkeypatch):
    monkeypatch.setenv("FAKE_ADB_BINARY_MISSING", "1")
    with pytest.raises(AdbError, match="adb push benchmark_model /data/local/tmp/benchmark_model") as error:
        AdbPixelProvider().latency(flatbuffer)
    assert error.value.reason == "binary-missing"
    assert not any(" push " in line for line in commands(adb_log))


def test_timeout_stops_waiting_and_still_removes_the_file(adb_log, flatbuffer, monkeypatch):
    monkeypatch.setenv("FAKE_ADB_SLEEP", "20")
    start = time.monotonic()
    with pytest.raises(AdbError, match="did not finish within 1 s") as error:
        AdbPixelProvider(timeout_s=1).latency(flatbuffer)
    assert time.monotonic() - start < 10
    assert error.value.reason == "timeout"
    assert commands(adb_log)[-1].startswith(f"-s {SERIAL} shell 'rm -f /data/local/tmp/mnaslib_")


def test_unparseable_output_is_quoted(adb_log, flatbuffer, monkeypatch, tmp_path):
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("Segmentation fault (core dumped)\nsomething else entirely\n")
    monkeypatch.setenv("FAKE_ADB_OUTPUT", str(garbage))
    with pytest.raises(AdbError, match="(?s)no 'Inference timings in us' summary.*Segmentation fault") as error:
        AdbPixelProvider().latency(flatbuffer)
    assert error.value.reason == "unparseable-output"
    assert "rm -f" in commands(adb_log)[-1]


def test_a_summary_without_statistics_is_unparseable():
    with pytest.raises(AdbError, match="no 'count=... avg=... std=...' statistics line") as error:
        parse_benchmark_output(fixture_text("tf2_16_info_prefix.txt").replace("count=", "n="))
    assert error.value.reason == "unparseable-output"


def test_bad_settings_are_refused_before_touching_the_phone():
    with pytest.raises(ValueError, match="hex CPU mask"):
        AdbPixelProvider(taskset_mask="0xf0")
    with pytest.raises(ValueError, match="timeout_s"):
        AdbPixelProvider(timeout_s=0)
    with pytest.raises(ValueError, match="unknown AdbError reason"):
        AdbError("mystery", "?")
