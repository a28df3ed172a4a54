"""The `mnas` command: each subcommand prints what the library computes, and user errors exit 2 with one line."""
import json
import subprocess
import sys

import pytest

from mnaslib.cli import main
from mnaslib.latency import get_provider
from mnaslib.spaces.zoo import reference


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_latency_with_the_default_pixel1_model(capsys):
    code, out, _ = run(capsys, "latency", "a1")
    expected = get_provider("pixel1-model").latency(reference("mnasnet-a1"))
    assert code == 0 and f"{expected.median_ms:.2f} ms [{expected.provenance}]" in out


def test_latency_cost_models_take_the_build_options(capsys):
    code, out, _ = run(capsys, "latency", "--provider", "flops", "--multiplier", "0.5", "--input-size", "160", "a1")
    expected = get_provider("flops", depth_multiplier=0.5, input_size=160).latency(reference("mnasnet-a1"))
    full = get_provider("flops").latency(reference("mnasnet-a1"))
    assert code == 0 and f"{expected.median_ms:.2f} M mult-adds [computed" in out
    assert expected.median_ms < full.median_ms / 3


def test_export_json_then_describe_keeps_the_network(capsys, tmp_path):
    path = tmp_path / "small.json"
    assert run(capsys, "export", "small", "-o", str(path))[0] == 0
    assert json.loads(path.read_text())["stem_filters"] == 8
    _, from_name, _ = run(capsys, "describe", "small")
    code, from_file, _ = run(capsys, "describe", str(path))
    assert code == 0 and "2,030,264 trainable params" in from_file
    assert from_file.splitlines()[-2:] == from_name.splitlines()[-2:]


def test_an_exported_keras_file_loads_in_plain_keras_with_its_counts(capsys, tmp_path):
    """The file holds Keras' own BatchNormalization (mnaslib trains with a fused subclass), so a user's Keras
    without mnaslib loads it."""
    path = tmp_path / "small.keras"
    assert run(capsys, "export", "small", "-o", str(path))[0] == 0
    code = ("import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'; import sys, keras; "
            "model = keras.models.load_model(sys.argv[1]); "
            "print(sum(int(w.numpy().size) for w in model.trainable_weights), "
            "sorted({type(layer).__module__.split('.')[0] for layer in model.layers}))")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split(maxsplit=1) == ["2030264", "['keras']\n"]


@pytest.mark.parametrize("argv, message", [
    (["latency", "--provider", "nope", "a1"], "unknown latency provider"),
    (["describe", "r2_k3_s33_e6_i16_o24"], "stride"),
    (["export", "keras-mobilenet", "-o", "x.json"], "Keras baseline"),
    (["export", "a1", "-o", "x.onnx"], "unknown export format"),
])
def test_user_errors_exit_2_with_one_line(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_bad_architecture_files_exit_2(capsys, tmp_path):
    (tmp_path / "bad.json").write_text("{oops")
    (tmp_path / "tampered.json").write_text(json.dumps({**reference("a1").to_dict(), "arch_id": "0" * 12}))
    assert run(capsys, "describe", str(tmp_path / "bad.json"))[0] == 2
    code, _, err = run(capsys, "describe", str(tmp_path / "tampered.json"))
    assert code == 2 and "does not match" in err
