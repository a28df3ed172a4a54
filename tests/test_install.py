"""The dependencies install where researchers work (x86-64 Linux, Linux aarch64, Apple Silicon), and pyproject.toml and
environment.yml say the same thing.

The resolution test asks pip, for each target, to resolve every dependency and extra of pyproject.toml from wheels
alone (``pip install --dry-run --ignore-installed --only-binary=:all: --platform ... --python-version 3.11``). The
markers of our own requirements are evaluated here for the target, because pip evaluates markers against the machine
it runs on; the markers *inside* the dependencies (e.g. a package that needs ``pywin32`` on Windows only) are still
evaluated by pip for this machine, a limit of ``--platform`` that this test cannot lift. It needs the package index
and takes a minute or two: ``-m "not install"`` deselects it, and it skips with the reason when the index cannot be
reached.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
ENVIRONMENT = yaml.safe_load((REPO / "environment.yml").read_text())
# conda-forge splits what pip installs as one requirement with an extra into separate packages.
CONDA_SPLITS = {"dask[distributed]": ("dask", "distributed")}
# Pure-Python dependencies published only as sdists (promise: of tensorflow-datasets). A --platform dry run takes
# wheels only, so these are built into a py3-none-any wheel first; pip's error names any new one to add here.
PURE_SDISTS = ("promise",)
NETWORK_ERRORS = ("NewConnectionError", "Max retries exceeded", "Temporary failure in name resolution",
                  "Network is unreachable", "ConnectionError", "ProxyError", "timed out")


@dataclass(frozen=True)
class Target:
    """A platform a researcher installs on: its PEP 508 marker values and the wheel tags pip may take there."""

    name: str
    sys_platform: str
    platform_system: str
    platform_machine: str
    wheel_platforms: tuple[str, ...]
    tensorflow: str  # the TensorFlow distribution our markers must pick there

    def environment(self) -> dict[str, str]:
        return {"sys_platform": self.sys_platform, "platform_system": self.platform_system,
                "platform_machine": self.platform_machine, "os_name": "nt" if self.sys_platform == "win32" else "posix",
                "python_version": "3.11", "python_full_version": "3.11.9", "implementation_name": "cpython",
                "platform_python_implementation": "CPython", "extra": ""}


def manylinux(arch: str, glibc_minor: int = 28) -> tuple[str, ...]:
    """Every manylinux tag a glibc 2.<glibc_minor> machine accepts, newest first.

    pip does not expand ``--platform manylinux_2_28_x86_64`` to the older glibc tags (most wheels, TensorFlow's among
    them, are tagged manylinux_2_17 or _2_27), so the whole list is passed; ``manylinux2014`` is expanded by pip itself
    to the older manylinux2010 and manylinux1 aliases.
    """
    return tuple(f"manylinux_2_{minor}_{arch}" for minor in range(glibc_minor, 16, -1)) + (f"manylinux2014_{arch}",)


TARGETS = [
    Target("linux-x86_64", "linux", "Linux", "x86_64", manylinux("x86_64"), "tensorflow-cpu"),
    Target("linux-aarch64", "linux", "Linux", "aarch64", manylinux("aarch64"), "tensorflow"),
    Target("macos-arm64", "darwin", "Darwin", "arm64", ("macosx_14_0_arm64",), "tensorflow"),  # pip adds 11.0-13.x
]


def pyproject_requirements() -> list[Requirement]:
    """The dependencies and every optional-dependency group of pyproject.toml."""
    lines = PROJECT["dependencies"] + [r for group in PROJECT["optional-dependencies"].values() for r in group]
    return [Requirement(line) for line in lines]


def for_target(requirements: list[Requirement], target: Target) -> list[str]:
    """The requirements that apply on ``target``, as pip arguments without their (already evaluated) markers."""
    applying = [r for r in requirements if r.marker is None or r.marker.evaluate(target.environment())]
    return [f"{r.name}{'[' + ','.join(sorted(r.extras)) + ']' if r.extras else ''}{r.specifier}" for r in applying]


def test_exactly_one_tensorflow_applies_on_every_platform():
    tensorflows = [r for r in pyproject_requirements() if canonicalize_name(r.name) in ("tensorflow", "tensorflow-cpu")]
    assert {r.name for r in tensorflows} == {"tensorflow", "tensorflow-cpu"}
    assert len({str(r.specifier) for r in tensorflows}) == 1, "tensorflow and tensorflow-cpu must share one range"
    grid = [(s, m) for s in ("linux", "win32", "darwin", "freebsd") for m in ("x86_64", "AMD64", "aarch64", "arm64")]
    for sys_platform, machine in grid:
        env = {"sys_platform": sys_platform, "platform_machine": machine}
        chosen = [r.name for r in tensorflows if r.marker.evaluate(env)]
        cpu_wheels = (sys_platform, machine) in (("linux", "x86_64"), ("win32", "AMD64"))
        assert chosen == ["tensorflow-cpu" if cpu_wheels else "tensorflow"], (sys_platform, machine, chosen)


def _normalized(requirement: Requirement) -> tuple[str, str, str]:
    name = canonicalize_name(requirement.name) + "".join(f"[{e}]" for e in sorted(requirement.extras))
    return name, str(requirement.specifier), str(requirement.marker or "")


def environment_requirements() -> tuple[set[tuple[str, str, str]], str]:
    """environment.yml's conda and pip entries (conda's split packages joined back), and its python range."""
    conda = [d for d in ENVIRONMENT["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in ENVIRONMENT["dependencies"] if isinstance(d, dict))
    entries = {_normalized(Requirement(line)) for line in conda + pip if line not in ("pip", "-e .")}
    python = next(e for e in entries if e[0] == "python")
    entries.discard(python)
    for joined, parts in CONDA_SPLITS.items():
        split = {e for e in entries if e[0] in parts}
        assert {e[0] for e in split} == set(parts) and len({e[1:] for e in split}) == 1, (
            f"environment.yml must list {', '.join(parts)} with one range (pip's {joined})")
        entries -= split
        entries.add((joined, *next(iter(split))[1:]))
    return entries, python[1]


def test_environment_yml_lists_the_pyproject_dependencies_with_the_same_ranges_and_markers():
    expected = {_normalized(r) for r in pyproject_requirements()}
    listed, python = environment_requirements()
    assert sorted(listed - expected) == [], "in environment.yml but not (or not so) in pyproject.toml"
    assert sorted(expected - listed) == [], "in pyproject.toml but not (or not so) in environment.yml"
    assert SpecifierSet(python) == SpecifierSet(PROJECT["requires-python"])


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_pip_arguments_carry_the_target_tensorflow_and_no_markers(target):
    requirements = pyproject_requirements()
    args = for_target(requirements, target)
    dask = next(r for r in requirements if r.name == "dask")
    assert f"dask[distributed]{dask.specifier}" in args and not any(";" in a for a in args)
    tensorflow = next(r for r in requirements if r.name == target.tensorflow)
    assert [a for a in args if a.startswith(("tensorflow<", "tensorflow>", "tensorflow-cpu<", "tensorflow-cpu>"))] == [
        f"{target.tensorflow}{tensorflow.specifier}"]


def _pip(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -m pip ARGS`` with few retries, skipping the test with the reason when the index is unreachable."""
    done = subprocess.run([sys.executable, "-m", "pip", *args, "--retries", "1", "--timeout", "30"],
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0 and any(sign in done.stderr for sign in NETWORK_ERRORS):
        pytest.skip(f"the package index cannot be reached: {done.stderr.strip().splitlines()[-1]}")
    return done


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory) -> Path:
    """Wheels built here from the sdists of PURE_SDISTS: each must come out ``py3-none-any``, the same file on every
    platform, which is what entitles a ``--platform`` dry run to take it."""
    folder = tmp_path_factory.mktemp("wheelhouse")
    done = _pip("wheel", "--no-deps", "--wheel-dir", str(folder), *PURE_SDISTS)
    assert done.returncode == 0, f"cannot build {PURE_SDISTS}:\n{done.stderr[-2000:]}"
    wheels = sorted(w.name for w in folder.glob("*.whl"))
    assert len(wheels) == len(PURE_SDISTS) and all(w.endswith("-none-any.whl") for w in wheels), wheels
    return folder


@pytest.mark.install
@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_every_dependency_resolves_from_wheels(target, wheelhouse, tmp_path):
    requirements = for_target(pyproject_requirements(), target)
    report = tmp_path / "report.json"
    platforms = [arg for tag in target.wheel_platforms for arg in ("--platform", tag)]
    done = _pip("install", "--dry-run", "--ignore-installed", "--only-binary=:all:", "--python-version", "3.11",
                *platforms, "--find-links", str(wheelhouse), "--report", str(report), *requirements)
    assert done.returncode == 0, f"pip cannot resolve the dependencies on {target.name}:\n{done.stderr[-3000:]}"
    installed = {canonicalize_name(i["metadata"]["name"]): i["metadata"]["version"]
                 for i in json.loads(report.read_text())["install"]}
    wanted = {canonicalize_name(Requirement(r).name) for r in requirements}
    assert wanted <= set(installed), f"not in the resolution: {sorted(wanted - set(installed))}"
    other = ({"tensorflow", "tensorflow-cpu"} - {target.tensorflow}).pop()
    assert target.tensorflow in installed and other not in installed, f"{target.name} must get {target.tensorflow} only"
