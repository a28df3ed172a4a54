"""Shared test settings: TensorFlow as users get it, one temporary folder for all a test run caches or configures.

The caches (mnaslib's decoded data sets, benchmark downloads and host layer tables; Keras's and Matplotlib's
configuration; IPython's profile and Jupyter's runtime files of the notebook kernels) would otherwise land in the
user's home folder (the decoded CIFAR-10 train split alone is 154 MB in ~/.cache/mnaslib). Pytest imports this file
before any test module, so the variables are set before anything imports mnaslib, Keras or Matplotlib; subprocesses
and notebook kernels inherit them. The folder is removed when the session ends.
"""
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

SESSION_DIR = Path(tempfile.mkdtemp(prefix="mnaslib-tests-"))
SESSION_FOLDERS = {
    "MNAS_CACHE_DIR": "mnaslib-cache",
    "MNAS_LATENCY_CACHE": "mnaslib-cache/latency",
    "KERAS_HOME": "keras",
    "MPLCONFIGDIR": "matplotlib",
    "IPYTHONDIR": "ipython",
    "JUPYTER_RUNTIME_DIR": "jupyter-runtime",
}
for _name, _folder in SESSION_FOLDERS.items():
    os.environ[_name] = str(SESSION_DIR / _folder)

# The benchmarks in shared/ (read in place, never copied), for the notebooks and searches that look them up by
# MNAS_BENCHMARK_DIR as users' runs do; tests that need them skip with the reason where shared/ is absent.
from shared_data import shared_path  # noqa: E402

if not os.environ.get("MNAS_BENCHMARK_DIR") and shared_path("benchmarks") is not None:
    os.environ["MNAS_BENCHMARK_DIR"] = str(shared_path("benchmarks"))
# The data sets likewise (as the Makefile sets them): the ci profile's Fashion-MNIST subset is cut from the official
# files there into the session's cache on first use; elsewhere Keras downloads them.
if not os.environ.get("MNAS_DATA_DIR") and shared_path("datasets") is not None:
    os.environ["MNAS_DATA_DIR"] = str(shared_path("datasets"))

# TensorFlow as users get it (mnaslib.quiet's defaults: C++ logs at level 2, oneDNN custom ops off), whichever test
# module happens to import TensorFlow first.
import mnaslib.quiet  # noqa: E402,F401


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(SESSION_DIR, ignore_errors=True)
