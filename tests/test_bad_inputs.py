"""Bad input at the command line: one line that says what is wrong, exit status 2, no traceback, nothing lost.

Every case runs the real ``mnas`` entry point in-process; the search cases name a run directory and check that it
was not created (or, where it existed, that not a byte of it changed).
"""
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mnaslib.cli import main
from mnaslib.rundir import RunLock
from mnaslib.zoo import reference

REPO = Path(__file__).resolve().parents[1]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.read_bytes()) for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def files(tmp_path):
    """Bad files of every kind, made once per test."""
    (tmp_path / "steps_float.yaml").write_text("base: ci\nsteps: 1.5\n")
    (tmp_path / "steps_text.yaml").write_text("base: ci\nsteps: three\n")
    (tmp_path / "syntax.yaml").write_text("base: ci\nsteps: [1, 2\n")
    (tmp_path / "python_tag.yaml").write_text("base: ci\nsteps: !!python/object/apply:os.system ['echo pwned']\n")
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    (tmp_path / "a_file").write_text("not a directory")
    (tmp_path / "dir.json").mkdir()
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00\x81binary")
    (tmp_path / "bad.json").write_text("{oops")
    (tmp_path / "tampered.json").write_text(json.dumps({**reference("a1").to_dict(), "arch_id": "0" * 12}))
    (tmp_path / "not_sqlite").mkdir()
    (tmp_path / "not_sqlite" / "trials.sqlite").write_bytes(b"my notes" * 100)
    return tmp_path


SEARCH = ["search", "--profile", "ci", "--run-dir"]
SEARCH_CASES = [  # (argv after the run dir, what the one line must say)
    (["--set", "steps=abc"], "steps must be an integer"),
    (["--set", "steps.x=1"], "steps must be an integer"),
    (["--set", "seed=abc"], "seed must be an integer"),
    (["--set", "seed=-3"], "seed must be a non-negative"),
    (["--set", "batch_size=0"], "must be >= 1"),
    (["--set", "steps=-1"], "must be >= 1"),
    (["--set", "stepz=3"], "unknown profile settings ['stepz']"),
    (["--set", "noequals"], "--set needs KEY=VALUE"),
    (["--set", "reward.name=nope"], "unknown reward 'nope'"),
    (["--set", "reward.target_ms=-5"], "target"),
    (["--set", "reward.alpha=0.5"], "does not take parameter"),
    (["--set", "strategy.name=nope"], "unknown search strategy"),
    (["--set", "strategy.learning_rate=-1"], "learning_rate must be a positive number"),
    (["--set", "strategy.lr=0.1"], "unknown PPOConfig keys"),
    (["--set", "space.name=nope"], "unknown search space 'nope'"),
    (["--set", "space.se=maybe"], "space.se must be true or false"),
    (["--set", "latency.provider=nope"], "unknown latency provider 'nope'"),
    (["--set", "latency.input_size=abc"], "latency.input_size must be an integer"),
    (["--set", "proxy.learning_rat=0.1"], "unknown proxy settings ['learning_rat']"),
    (["--set", "proxy.epochs=abc"], "proxy.epochs must be an integer"),
    (["--set", "proxy.epochs=0"], "proxy.epochs must be >= 1"),
    (["--set", "proxy.dataset=mnist"], "unknown proxy.dataset 'mnist'"),
    (["--set", "proxy.width_multiplier=0"], "width_multiplier must be a positive number"),
    (["--set", "executor.name=slurm"], "unknown executor 'slurm'"),
    (["--set", "executor.workers=0"], "executor.workers must be >= 1"),
    (["--set", "executor.name=dask", "--set", "executor.workers=512"], "without an address"),
    (["--set", "benchmark=nope"], "unknown benchmark 'nope'"),
    (["--set", "benchmark.name=nasbench-macro", "--set", "benchmark.flavour=x"], "unknown benchmark settings"),
    (["--set", "notebooks.models.table1_host=3"], "must be 'all' or a list"),
    (["--set", "proxy.data_dir=/nowhere/at/all", "--set", "proxy.dataset=cifar10"], "nowhere"),
]


@pytest.mark.parametrize("extra, message", SEARCH_CASES, ids=[" ".join(c[0]) for c in SEARCH_CASES])
def test_bad_search_settings_touch_nothing(capsys, tmp_path, extra, message):
    run_dir = tmp_path / "run"
    code, _, err = run(capsys, *SEARCH, run_dir, *extra)
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not run_dir.exists(), "a rejected search must not create its run directory"


FILE_CASES = [
    (["--profile", "{files}/steps_float.yaml"], "steps must be an integer, got 1.5"),
    (["--profile", "{files}/steps_text.yaml"], "steps must be an integer, got 'three'"),
    (["--profile", "{files}/syntax.yaml"], "is not valid YAML at line"),
    (["--profile", "{files}/python_tag.yaml"], "is not valid YAML"),
    (["--profile", "{files}/empty.yaml"], "is empty"),
    (["--profile", "{files}/list.yaml"], "must be a YAML mapping"),
    (["--profile", "{files}/missing.yaml"], "no profile named"),
    (["--profile", "{files}/dir.json"], "is a directory"),
    (["--config", "{files}/steps_float.yaml"], "steps must be an integer"),
]


@pytest.mark.parametrize("argv, message", FILE_CASES, ids=[c[0][1].split("/")[-1] for c in FILE_CASES])
def test_bad_profile_files(capsys, files, argv, message):
    run_dir = files / "run"
    code, _, err = run(capsys, "search", *[a.format(files=files) for a in argv], "--run-dir", run_dir)
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not run_dir.exists()


def test_a_run_dir_that_is_a_file_or_under_one(capsys, files):
    for run_dir, message in ((files / "a_file", "is a file, not a directory"),
                             (files / "a_file" / "run", "which is a file")):
        code, _, err = run(capsys, *SEARCH, run_dir)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert (files / "a_file").read_text() == "not a directory"


def test_a_store_that_is_not_sqlite_is_refused_and_kept(capsys, files):
    before = snapshot(files / "not_sqlite")
    code, _, err = run(capsys, *SEARCH, files / "not_sqlite")
    assert code == 2 and "not a readable SQLite database" in err and len(err.strip().splitlines()) == 1
    assert snapshot(files / "not_sqlite") == before


def test_a_second_search_on_a_busy_run_dir_is_refused(capsys, tmp_path):
    run_dir = tmp_path / "busy"
    run_dir.mkdir()
    lock = RunLock(run_dir).acquire()  # another search holds it (the OS lock, as a live search would)
    try:
        code, _, err = run(capsys, *SEARCH, run_dir)
    finally:
        lock.release()
    assert code == 2 and "another search (pid" in err and str(run_dir) in err
    assert not (run_dir / "trials.sqlite").exists()


MODEL_CASES = [
    (["describe", "r1000000_k3_s11_e6_i16_o16"], "repeats must be >= 1 and <= 32"),
    (["describe", "{files}/dir.json"], "is a directory"),
    (["describe", "{files}/missing.json"], "no architecture file"),
    (["describe", "{files}/binary.json"], "is not a text (JSON) file"),
    (["describe", "{files}/bad.json"], "is not JSON"),
    (["describe", "{files}/tampered.json"], "does not match"),
    (["describe", "r2_k3_s33_e6_i16_o24"], "stride"),
    (["describe", "resnet50"], "neither a network name"),
    (["describe", "r1_k3_s11_e1_i32_o16", "r1_k3_s11_e6_i24_o24"], "must equal the previous block's output"),
    (["describe", "r\uff11_k3_s11_e1_i32_o16"], "needs an integer after 'r'"),
    (["describe", "a1", "--input-size", "4096"], "input_size must be between 8 and 1024"),
    (["describe", "a1", "--input-size", "0"], "input_size must be between 8 and 1024"),
    (["describe", "a1", "--multiplier", "0"], "depth_multiplier must be a positive number"),
    (["describe", "a1", "--classes", "0"], "num_classes must be between 1"),
    (["latency", "--provider", "nope", "a1"], "unknown latency provider"),
    (["latency", "--provider", "host-model", "keras-mobilenet"], "MnasNet-space architectures only"),
    (["export", "keras-mobilenet", "-o", "{files}/x.json"], "Keras baseline"),
    (["export", "a1", "-o", "{files}/x.onnx"], "unknown export format"),
    (["export", "a1", "-o", "{files}/dir.json"], "is a directory"),
    (["runs", "show", "{files}/nowhere"], "no search in"),
    (["runs", "compare", "{files}/nowhere", "{files}/elsewhere"], "no search in"),
    (["reproduce", "--profile", "nope", "--output-dir", "{files}/out"], "no profile named"),
    (["reproduce", "--profile", "ci", "--notebooks", "99_x.ipynb", "--output-dir", "{files}/out"], "no notebook"),
    (["calibrate", "--test", "0"], "--test must be at least 1"),
]


@pytest.mark.parametrize("argv, message", MODEL_CASES,
                         ids=[" ".join(c[0]).replace("{files}/", "") for c in MODEL_CASES])
def test_bad_networks_and_files(capsys, files, argv, message):
    code, _, err = run(capsys, *[a.format(files=files) for a in argv])
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_missing_phone_is_reported_before_any_conversion(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no adb anywhere
    start = time.perf_counter()
    code, _, err = run(capsys, "latency", "--provider", "adb", "a1")
    assert code == 2 and "adb" in err and "not installed" in err and len(err.strip().splitlines()) == 1
    assert time.perf_counter() - start < 10, "the phone must be checked before tens of seconds of conversion"


def test_a_closed_pipe_ends_quietly():
    """``mnas describe a1 | head -1``: the reader leaves early; no BrokenPipeError traceback."""
    command = f"{shutil.which('head') or 'head'} -1"
    result = subprocess.run(f"{sys.executable} -m mnaslib.cli describe a1 | {command}", shell=True, cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.stdout.count("\n") == 1 and "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
