"""What the `mnas` command and a notebook kernel print holds none of TensorFlow's start-up and conversion chatter.

The subprocesses run without the test session's own TensorFlow settings (conftest sets TF_CPP_MIN_LOG_LEVEL), so
what is checked is what ``mnaslib.quiet`` does for a user who set nothing.
"""
from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mnaslib.quiet import DEFAULTS, tensorflow_info_silenced

REPO = Path(__file__).resolve().parents[1]
# One pattern per kind of line, each seen in a notebook's outputs before mnaslib.quiet existed.
NOISE = {
    "oneDNN notice": re.compile(r"oneDNN custom operations are on"),
    "oneDNN fallback": re.compile(r"oneDNN supports \w+ only on platforms"),
    "absl pre-init warning": re.compile(r"All log messages before absl::InitializeLog\(\) is called"),
    "CPU feature guard": re.compile(r"cpu_feature_guard|This TensorFlow binary is optimized"),
    "C++ INFO/WARNING line": re.compile(r"^[IW]\d{4} \d\d:\d\d:\d\d\.\d+ ", re.MULTILINE),
    "Python INFO:tensorflow line": re.compile(r"INFO:tensorflow:"),
}


def user_environment() -> dict[str, str]:
    """This process's environment without the TensorFlow settings a user would not have set, importing this checkout."""
    env = {k: v for k, v in os.environ.items() if k not in DEFAULTS}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def noise_in(text: str) -> list[str]:
    return [f"{kind}: {match.group(0)!r}" for kind, pattern in NOISE.items() for match in pattern.finditer(text)]


@pytest.mark.parametrize("argv, expected", [
    (["describe", "a1"], "3,887,038 trainable params"),
    (["latency", "a1", "--provider", "host"], "[measured (host TFLite"),
], ids=["describe", "latency-host"])
def test_cli_output_holds_no_tensorflow_chatter(argv, expected):
    done = subprocess.run([sys.executable, "-m", "mnaslib.cli", *argv], cwd=REPO, env=user_environment(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert expected in done.stdout
    assert noise_in(done.stdout + done.stderr) == []


NOTEBOOK_CELLS = [
    "import mnaslib  # as the notebooks do: mnaslib before TensorFlow",
    "import keras\nimport numpy as np\n\n"
    "inputs = keras.Input((16, 16, 3))\n"
    "x = keras.layers.Conv2D(8, 3, activation='relu')(inputs)\n"
    "outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))\n"
    "model = keras.Model(inputs, outputs)\n"
    "model.compile('sgd', keras.losses.SparseCategoricalCrossentropy(from_logits=True))\n"
    "model.fit(np.zeros((4, 16, 16, 3), 'float32'), np.zeros(4, 'int32'), epochs=1, verbose=0)\n"
    "print('trained')",
    "from mnaslib.latency.tflite import to_tflite\n\nprint('converted', len(to_tflite(model)) > 0)",
]


@pytest.mark.notebooks
def test_notebook_outputs_hold_no_tensorflow_chatter(tmp_path, monkeypatch):
    import nbformat
    import papermill

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in NOTEBOOK_CELLS])
    nbformat.write(notebook, tmp_path / "quiet.ipynb")
    monkeypatch.setenv("PYTHONPATH", user_environment()["PYTHONPATH"])  # the kernel inherits our environment
    for name in DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    papermill.execute_notebook(str(tmp_path / "quiet.ipynb"), str(tmp_path / "out.ipynb"), kernel_name="python3",
                               progress_bar=False, cwd=str(tmp_path), execution_timeout=300)
    outputs = [o for c in nbformat.read(tmp_path / "out.ipynb", as_version=4).cells for o in c.get("outputs", [])]
    text = "".join(o.get("text", "") for o in outputs)
    assert "trained" in text and "converted True" in text
    assert noise_in(text) == []


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_silencing_drops_tensorflow_info_only_inside_the_block():
    import tensorflow as tf

    logger, records = tf.get_logger(), Records()
    previous = logger.level
    logger.addHandler(records)
    logger.setLevel(logging.INFO)
    try:
        with tensorflow_info_silenced():
            logger.info("inside info")
            logger.warning("inside warning")
        logger.info("after info")
        assert logger.level == logging.INFO
    finally:
        logger.removeHandler(records)
        logger.setLevel(previous)
    assert records.messages == ["inside warning", "after info"]


def test_a_users_own_setting_wins():
    code = ("import os; os.environ['TF_ENABLE_ONEDNN_OPTS'] = '1'; import mnaslib; "
            "print(os.environ['TF_ENABLE_ONEDNN_OPTS'], os.environ['TF_CPP_MIN_LOG_LEVEL'])")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=user_environment(), capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.split() == ["1", DEFAULTS["TF_CPP_MIN_LOG_LEVEL"]]


WORKER_PROBE = """
import os
import mnaslib
from mnaslib.search.executors import make_executor, shutdown_executor
from mnaslib.spaces.mnasnet import MnasNetSpace


def summarize_child(arch):
    from mnaslib.spaces.counting import summarize
    from mnaslib.evaluation.train import ProxyTask, build_child

    return summarize(build_child(arch, ProxyTask(), 10))

if __name__ == "__main__":
    executor = make_executor({"name": "process", "workers": 1})
    names = ("TF_ENABLE_ONEDNN_OPTS", "TF_CPP_MIN_LOG_LEVEL")
    print(*[executor.submit(os.getenv, name).result() for name in names])
    # a worker that counts a child builds it and runs TensorFlow's kernels, where oneDNN's own lines would appear
    print(executor.submit(summarize_child, MnasNetSpace().decode(MnasNetSpace().sample(0))).result()["mult_adds"] > 0)
    shutdown_executor(executor)
"""


@pytest.mark.parametrize("user_setting, expected", [
    ({}, ["1", "3", "True"]),
    ({"TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "1"}, ["0", "1", "True"]),
], ids=["defaults", "user-set"])
def test_workers_run_onednn_quietly_unless_the_user_chose(tmp_path, user_setting, expected):
    """Process workers get oneDNN's kernels and errors-only C++ logging, and print none of TensorFlow's load-time
    lines; what the user set in the environment reaches the workers unchanged."""
    script = tmp_path / "probe.py"
    script.write_text(WORKER_PROBE)
    done = subprocess.run([sys.executable, str(script)], cwd=REPO, env={**user_environment(), **user_setting},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == expected
    if not user_setting:
        assert noise_in(done.stdout + done.stderr) == []
