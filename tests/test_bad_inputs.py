"""Bad input at the command line: one line that says what is wrong, exit status 2, no traceback, nothing lost.

Every case runs the real ``mnas`` entry point in-process; the search cases name a run directory and check that it
was not created (or, where it existed, that not a byte of it changed).
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from shared_data import require_shared

from mnaslib.cli import main
from mnaslib.search.rundir import RunLock
from mnaslib.spaces.zoo import reference

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
    (["--set", "executor.name=dask", "--set", "executor.address=5"], "executor.address must be a Dask scheduler"),
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


# ---------------------------------------------------------------------------------------------------------------
# Round two: nothing written where it should not be, no traceback, no silent nonsense
# ---------------------------------------------------------------------------------------------------------------
def one_line(code, err, message, status=2):
    assert code == status and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def tree(folder: Path) -> dict:
    """Every entry under ``folder`` (links as links, not followed) with its bytes: "nothing changed" means equal."""
    out = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        out[key] = ("link", os.readlink(path)) if path.is_symlink() else (
            ("file", path.read_bytes()) if path.is_file() else ("dir",))
    return out


@pytest.mark.parametrize("name", [".search.pid", "trials.sqlite", "trials.sqlite-wal", "tensorboard"])
def test_a_link_in_the_run_dir_is_refused_and_its_target_untouched(capsys, tmp_path, name):
    """A link planted where the search writes would make it overwrite the link's target; refused, nothing changes."""
    victim = tmp_path / "victim"
    victim.mkdir() if name == "tensorboard" else victim.write_text("precious")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / name).symlink_to(victim)
    before = tree(tmp_path)
    code, _, err = run(capsys, *SEARCH, run_dir)
    one_line(code, err, "is a symbolic link")
    assert tree(tmp_path) == before


def test_run_dir_names_that_point_nowhere(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    one_line(*run(capsys, *SEARCH, "")[::2], "--run-dir is empty")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    one_line(*run(capsys, *SEARCH, tmp_path / "dangling")[::2], "which does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling"]


def test_export_refuses_to_overwrite_or_follow_links_and_writes_atomically(capsys, tmp_path):
    target, victim = tmp_path / "a1.json", tmp_path / "victim.json"
    target.write_text("mine")
    victim.write_text("precious")
    (tmp_path / "link.json").symlink_to(victim)
    one_line(*run(capsys, "export", "a1", "-o", target)[::2], "pass --force")
    one_line(*run(capsys, "export", "a1", "-o", tmp_path / "link.json", "--force")[::2], "is a symbolic link")
    assert target.read_text() == "mine" and victim.read_text() == "precious"
    assert run(capsys, "export", "a1", "-o", target, "--force")[0] == 0
    assert json.loads(target.read_text())["name"] == "mnasnet-a1"
    assert run(capsys, "export", "a1", "-o", tmp_path / "upper.JSON")[0] == 0  # the suffix in any case
    assert run(capsys, "describe", tmp_path / "upper.JSON")[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a1.json", "link.json", "upper.JSON", "victim.json"]


def test_export_on_a_full_disk_keeps_the_old_file(tmp_path):
    """RLIMIT_FSIZE stands in for a full disk (no mount needed): the write fails half way, the old file stays."""
    target = tmp_path / "a1.json"
    target.write_text("old")
    result = subprocess.run([sys.executable, "-c", FULL_DISK + "sys.exit(main(['export', 'a1', '-o', sys.argv[1], "
                             "'--force']))", str(target)], cwd=REPO, capture_output=True, text=True, timeout=120)
    one_line(result.returncode, result.stderr, f"cannot write {target}")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a1.json"]


FULL_DISK = ("import resource, signal, sys\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
             "resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))\nfrom mnaslib.cli import main\n")


def test_a_full_disk_at_commit_is_the_disk_full_message(tmp_path):
    """The COMMIT fails; SQLite has already rolled back, and the explicit ROLLBACK's "no transaction is active" must
    not hide the one-line message (RLIMIT_FSIZE stands in for a full disk)."""
    script = ("import resource, signal, sys\nfrom mnaslib.search.store import TrialStore, StoreError\n"
              "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\nstore = TrialStore(sys.argv[1])\n"
              "resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))\ntry:\n"
              "    for i in range(10_000):\n"
              "        store.add_pending(0, i, [1] * 10, 'x' * 12, ['r1_k3_s11_e1_i32_o16' * 20])\n"
              "except StoreError as err:\n    print(err)\n")
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "trials.sqlite")], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert "is full" in result.stdout and "Traceback" not in result.stderr, result.stderr


@pytest.mark.parametrize("command", ["show", "compare"])
@pytest.mark.parametrize("content", [b"", b"my notes" * 100])
def test_read_only_commands_never_change_what_they_read(capsys, tmp_path, command, content):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "trials.sqlite").write_bytes(content)
    argv = ["runs", "show", run_dir] if command == "show" else ["runs", "compare", run_dir, run_dir]
    one_line(*run(capsys, *argv)[::2], "not a run")
    assert tree(tmp_path) == {"run": ("dir",), "run/trials.sqlite": ("file", content)}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A real finished search (NAS-Bench-Macro lookups: seconds), copied by each test that damages it."""
    macro = require_shared("benchmarks", "nas-bench-macro")
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    code = main(["search", "--profile", "ci", "--set", "benchmark.name=nasbench-macro", "--set",
                 f"benchmark.path={macro}", "--set", "steps=2", "--set", "batch_size=2", "--run-dir", str(run_dir)])
    assert code == 0
    return run_dir


DAMAGE = [  # (SQL a hand-edit ran, what the one line names)
    ("UPDATE trials SET accuracy = 75.2 WHERE id = 1", "table trials, row 1: accuracy must be a fraction"),
    ("UPDATE trials SET latency_ms = -3 WHERE id = 2", "table trials, row 2: latency_ms must be positive"),
    ("UPDATE trials SET accuracy = 'high' WHERE id = 3", "table trials, row 3: accuracy must be a number"),
    ("UPDATE trials SET tokens = '[1, 2' WHERE id = 1", "table trials, row 1: tokens is not JSON"),
    ("UPDATE trials SET block_strings = '{}' WHERE id = 2", "block_strings must be a list of text"),
    ("UPDATE runs SET config = '[1, 2]' WHERE id = 1", "table runs, row 1: config must be a JSON object"),
    ("DROP TABLE strategy_state", "no such table: strategy_state"),
]


@pytest.mark.parametrize("sql, message", DAMAGE, ids=[d[0][:28] for d in DAMAGE])
def test_a_damaged_store_is_named_not_drawn(capsys, tmp_path, finished_run, sql, message):
    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir)
    with sqlite3.connect(run_dir / "trials.sqlite") as conn:
        conn.execute(sql)
    conn.close()
    before = tree(run_dir)
    code, _, err = run(capsys, "runs", "show", run_dir)
    one_line(code, err, message)
    assert "this store is damaged" in err
    assert tree(run_dir)["trials.sqlite"] == before["trials.sqlite"]


def test_a_damaged_controller_state_is_named_on_resume(capsys, tmp_path, finished_run):
    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir)
    with sqlite3.connect(run_dir / "trials.sqlite") as conn:
        conn.execute("UPDATE strategy_state SET state = x'504b0304deadbeef'")
    conn.close()
    macro = require_shared("benchmarks", "nas-bench-macro")
    code, _, err = run(capsys, "search", "--profile", "ci", "--set", "benchmark.name=nasbench-macro", "--set",
                       f"benchmark.path={macro}", "--set", "steps=3", "--set", "batch_size=2", "--run-dir", run_dir)
    one_line(code, err, "table strategy_state, row step 1: the controller state cannot be read")


def test_runs_show_top_must_be_positive(capsys, finished_run):
    one_line(*run(capsys, "runs", "show", finished_run, "--top", "-3")[::2], "--top must be at least 1")


def test_an_unexpected_exception_is_a_bug_report(capsys, monkeypatch, finished_run):
    """A bug in the library is not dressed up as a user error: its traceback, a request to report it, exit 1."""
    import mnaslib.report.runs

    def broken(run_dir):
        raise TypeError("a bug")

    monkeypatch.setattr(mnaslib.report.runs, "summarize_run", broken)
    code, _, err = run(capsys, "runs", "show", finished_run)
    assert code == 1 and "Traceback" in err and "TypeError: a bug" in err and "please report it" in err


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [*{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}]\n" for a, b in zip("abcdefgh", "bcdefghi"))
YAML_CASES = [  # (profile text, what the one line says)
    (BOMB, "aliases (*name) are not allowed"),
    ("base: ci\nsteps: 2\nsteps: 3\n", "key 'steps' is given twice"),
    ("base: ci\nproxy: !!set {a, b}\n", "got a set"),
    ("base: ci\nproxy: {dataset: 2024-01-01}\n", "was read as a date"),
    ("base: ci\nseed: 99999999999999999999\n", "integers must fit in 64 bits"),
    ("base: ci\nbatch_size: 100000000\n", "batch_size (children per step) at most"),
    ("base: ci\nnotebooks: {benchmark_steps: -1}\n", "notebooks.benchmark_steps must be between 1"),
    ("base: ci\nnotebooks: {models: {host_runs: -5}}\n", "notebooks.models.host_runs must be between 1"),
    ("base: ci\nproxy: {bn_momentum: .nan}\n", "must be a finite number"),
    ("base: ci\nproxy: {warmup_fraction: -1}\n", "proxy.warmup_fraction must be in [0.0, 1.0]"),
    ("base: ci\nproxy: {label_smoothing: 5}\n", "proxy.label_smoothing must be in [0.0, 1.0)"),
    ("base: ci\nproxy: {image_size: 100000}\n", "proxy.image_size must be at most"),
    ("base: ci\nexecutor: {name: thread, workers: 100000}\n", "executor.workers must be at most"),
    ("base: ci\nprofile: /tmp/elsewhere\n", "profile must be a plain name"),
    ("base: ci\nprofile: ..\n", "profile must be a plain name"),
    ("base: ci\nsteps: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
]


@pytest.mark.parametrize("text, message", YAML_CASES, ids=[c[1][:30] for c in YAML_CASES])
def test_profiles_that_would_expand_override_or_not_record(capsys, tmp_path, text, message):
    profile = tmp_path / "bad.yaml"
    profile.write_text(text)
    start = time.perf_counter()
    code, _, err = run(capsys, "search", "--profile", profile, "--run-dir", tmp_path / "run")
    one_line(code, err, message)
    assert not (tmp_path / "run").exists() and time.perf_counter() - start < 10


@pytest.mark.parametrize("extra, message", [
    (["--set", "seed=9223372036854775808"], "integers must fit in 64 bits"),
    (["--set", "proxy.dataset=2024-01-01"], "was read as a date"),
    (["--set", "steps=" + "9" * 200_000], "is too long to be a number"),
    (["--set", "steps=" + "x" * 200_000], "characters)"),
    (["--set", "proxy.stem_stride=3"], "proxy.stem_stride must be 1, 2"),
], ids=["seed>2^63", "date", "200 KB number", "200 KB text", "stem_stride"])
def test_values_set_on_the_command_line_are_checked_too(capsys, tmp_path, extra, message):
    code, _, err = run(capsys, *SEARCH, tmp_path / "run", *extra)
    one_line(code, err, message)
    assert len(err) < 2200 and not (tmp_path / "run").exists()


def test_base_is_read_beside_the_profile_that_names_it(tmp_path, monkeypatch):
    from mnaslib.search.profile import load_profile

    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "parent.yaml").write_text("base: ci\nsteps: 3\n")
    (tmp_path / "profiles" / "child.yaml").write_text("base: parent.yaml\nbatch_size: 2\n")
    monkeypatch.chdir(tmp_path)  # not the profiles' folder
    profile = load_profile("profiles/child.yaml")
    assert (profile.steps, profile.batch_size) == (3, 2)


ARCH_FILES = [  # (file text, what the one line says)
    ('{"block_strings": ["r1_k3_s11_e1_i32_o16"], "block_strings": ["r1_k3_s11_e1_i32_o24"]}',
     "key 'block_strings' is given twice"),
    ('{"block_strings": ["r1_k3_s11_e1_i32_o16"], "stem_filter": 16}', "did you mean 'stem_filters'"),
    ('{"block_strings": ["r1_k3_s11_e1_i32_o16"], "head_filters": 12.9}', "head_filters must be an integer"),
    ('{"block_strings": ["r1_k3_s11_e1_i32_o16"], "head_filters": 1e400}', "head_filters must be an integer"),
    ('{"block_strings": ["r1_k3_s11_e1_i32_o16"], "head_filters": NaN}', "NaN is not a number"),
    ('{"block_strings": ["r1_k3_s11_e1_i32_o16"], "dropout": 2}', "dropout must be a number in [0, 1)"),
    ('{"block_strings": 5}', "block_strings must be a list"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("", "is empty; an architecture file holds the JSON"),
]


@pytest.mark.parametrize("text, message", ARCH_FILES, ids=[c[1][:30] for c in ARCH_FILES])
def test_architecture_files_are_read_strictly(capsys, tmp_path, text, message):
    path = tmp_path / "arch.json"
    path.write_text(text)
    one_line(*run(capsys, "describe", path)[::2], message)


@pytest.mark.parametrize("argv, message", [
    (["describe", "a1", "--multiplier", "1000"], "parameters"),
    (["describe", *["r1_k3_s11_e6_i8192_o8192"] * 4], "parameters"),
    (["describe", "a1", "--input-size", "16"], "shrink below one pixel"),
    (["describe", "a1", "b1"], "give one network at a time"),
], ids=["multiplier 1000", "four 8192-wide blocks", "below one pixel", "two names"])
def test_networks_too_big_or_too_small_are_refused_before_building(capsys, argv, message):
    start = time.perf_counter()
    one_line(*run(capsys, *argv)[::2], message)
    assert time.perf_counter() - start < 5, "refused before TensorFlow builds anything"


def test_an_os_error_in_the_cache_folder_names_the_variable(capsys, tmp_path, monkeypatch):
    """MNAS_CACHE_DIR under a file: the error says which variable moves the cache."""
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv("MNAS_CACHE_DIR", str(tmp_path / "a_file" / "cache"))
    macro = require_shared("benchmarks", "accel-nasbench")
    code, _, err = run(capsys, *SEARCH, tmp_path / "run", "--set", "benchmark.name=accel-nasbench", "--set",
                       f"benchmark.path={macro}")
    one_line(code, err, "MNAS_CACHE_DIR")
