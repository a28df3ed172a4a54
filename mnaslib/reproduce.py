"""``make reproduce``: run every numbered notebook headless with papermill and write a reproduction report.

Notebooks save the tables they show with ``save_table`` (CSV, every cell already carrying its provenance label);
the report gathers them with the settings, the machine and each notebook's wall time, so one Markdown file says what
was reproduced, how, and where each number came from.
"""
from __future__ import annotations

import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from mnaslib.errors import UserError
from mnaslib.labels import footnote_lines, footnoted
from mnaslib.search.profile import DEFAULT_PROFILE, PROFILE_NAMES
from mnaslib.quiet import PROGRESS_VARIABLE
from mnaslib.search.profile import load_profile
from mnaslib.search.stored import missing

if TYPE_CHECKING:
    from mnaslib.search.profile import Profile

REPO = Path(__file__).resolve().parents[1]
RUNS_FILE = "notebook_runs.json"
FIGURES_FILE = "notebook_figures.json"


def save_table(df: pd.DataFrame, name: str, tables_dir: str | os.PathLike | None) -> None:
    """Write a displayed table as ``<tables_dir>/<name>.csv`` for the report (no-op when ``tables_dir`` is empty),
    every label in full: the report shows it through ``markdown_table``, footnoted as the notebook showed it."""
    if not tables_dir:
        return
    if not name or Path(name).name != name:
        raise UserError(f"table name must be a plain file name, got {name!r}")
    folder = Path(tables_dir)
    folder.mkdir(parents=True, exist_ok=True)
    df.to_csv(folder / f"{name}.csv", index=False)


def notebook_paths(notebooks_dir: Path = REPO / "notebooks", names: list[str] | None = None) -> list[Path]:
    """The numbered notebooks in order (``00_...`` to ``07_...``), or only ``names``."""
    paths = sorted(p for p in notebooks_dir.glob("[0-9][0-9]_*.ipynb"))
    if names:
        wanted = {Path(n).name for n in names}
        unknown = wanted - {p.name for p in paths}
        if unknown:
            raise UserError(f"no notebook(s) {sorted(unknown)} in {notebooks_dir}; have {[p.name for p in paths]}")
        paths = [p for p in paths if p.name in wanted]
    return paths


def run_notebook(path: Path, output: Path, parameters: dict, cell_timeout: float | None = None) -> float:
    """Execute one notebook headless with papermill in its own folder; returns the wall time in seconds.

    Only the parameters the notebook declares are passed (papermill warns about any other). A notebook that
    declares ``interactive`` gets ``False`` (no widgets: their comm messages have hung nbclient headless). The
    kernel talks to papermill over local sockets (``LocalKernelManager``) and draws plain-text progress bars
    (``quiet.progress_bar``). ``cell_timeout`` (seconds per cell) turns a hung kernel into an error instead of a
    wait.
    """
    import papermill

    declared = papermill.inspect_notebook(str(path))
    parameters = {key: value for key, value in {**parameters, "interactive": False}.items() if key in declared}
    start = time.perf_counter()
    previous = os.environ.get(PROGRESS_VARIABLE)
    os.environ[PROGRESS_VARIABLE] = "text"  # the kernel inherits it
    try:
        papermill.execute_notebook(str(path), str(output), parameters=parameters, cwd=str(path.parent),
                                   kernel_name="python3", progress_bar=False, execution_timeout=cell_timeout,
                                   kernel_manager_class=local_kernel_manager())
    finally:
        if previous is None:
            os.environ.pop(PROGRESS_VARIABLE)
        else:
            os.environ[PROGRESS_VARIABLE] = previous
    return time.perf_counter() - start


def local_kernel_manager() -> type:
    """jupyter_client's kernel manager with the kernel's sockets on local (IPC) files instead of TCP ports: nothing
    leaves the machine, and ipykernel does not warn "Kernel is running over TCP without encryption"."""
    import tempfile

    from jupyter_client import AsyncKernelManager
    from traitlets import default

    class LocalKernelManager(AsyncKernelManager):
        @default("transport")
        def _transport_default(self) -> str:
            return "ipc"

        @default("ip")
        def _ip_default(self) -> str:
            # the socket files' prefix: in a folder of their own, not beside the notebooks, where a copy of the
            # folder (a test's, a user's) would trip over live sockets
            return str(Path(tempfile.mkdtemp(prefix="mnas-kernel-")) / "kernel-ipc")

    return LocalKernelManager


def reproduce(profile: str | os.PathLike = DEFAULT_PROFILE, output_dir: str | os.PathLike = "outputs",
              notebooks: list[str] | None = None, figures_dir: str | os.PathLike | None = None) -> Path:
    """Run the notebooks at ``profile`` (a name or a YAML file) into ``output_dir/<profile name>/`` and write
    ``REPORT.md`` there.

    The report covers every numbered notebook: those run now, those run into the same folder before (their times
    are kept in ``notebook_runs.json``), and, marked as such, those not run yet. The profile is validated first, so
    a mistake in a YAML file is one error before any notebook starts. A stored-runs profile (``class``) passes the
    notebooks ``<output_dir>/<stored_runs>/runs`` as their ``run_dir`` (``stored_runs_dir``).
    """
    from tqdm.auto import tqdm

    loaded = load_profile(profile)
    packaged = isinstance(profile, str) and profile in PROFILE_NAMES
    if not packaged:
        profile = str(Path(profile).resolve())  # the notebooks run in notebooks/: a relative path would not resolve
    out = Path(output_dir).resolve() / loaded.name
    tables = out / "tables"
    out.mkdir(parents=True, exist_ok=True)
    figures = (Path(figures_dir).resolve() if figures_dir
               else default_figures_dir(profile if packaged else "custom", out))
    paths = notebook_paths(names=notebooks)
    run_dir = stored_runs_dir(loaded, Path(output_dir).resolve(), paths) if loaded.stored_runs else out / "runs"
    runs, failed = load_runs(out), []
    for path in tqdm(paths, desc=f"notebooks ({loaded.name})", unit="notebook"):
        params = {"profile": profile, "figures_dir": str(figures), "tables_dir": str(tables),
                  "run_dir": str(run_dir)}
        started = time.time()
        try:
            runs[path.name] = (run_notebook(path, out / path.name, params), "ok")
        except Exception as err:  # keep going: the report says which notebook failed and why
            runs[path.name] = (float("nan"), f"failed: {type(err).__name__}: {str(err)[:300]}")
            failed.append(path.name)
        # after each notebook, so a killed run still reports what finished; merged with what another run into the
        # same folder (a second notebook run in parallel) recorded meanwhile
        runs = {**load_runs(out), path.name: runs[path.name]}
        save_runs(out, runs)
        record_figures(out, path.name, figures_made_since(figures, started))
    timings = [(p.name, *runs.get(p.name, (float("nan"), "not run yet at this profile"))) for p in notebook_paths()]
    made = load_figures(out)
    if not failed and set(made) >= {p.name for p in notebook_paths()}:
        remove_stale_figures(figures, made)
    report = out / "REPORT.md"
    report.write_text(render_report(loaded, timings, tables, figures, made))
    if failed:
        raise UserError(f"notebook(s) failed: {', '.join(failed)}; see {report} and the executed copies in {out}")
    return report


def stored_runs_dir(profile: "Profile", output_dir: Path, paths: list[Path]) -> Path:
    """Where a stored-runs profile (``class``) reads its runs: ``<output_dir>/<stored_runs>/runs``, which
    ``make reproduce PROFILE=<stored_runs>`` wrote. Checked before any notebook starts when one of ``paths`` reads
    runs (declares ``run_dir``), so a class that forgot the day-before run gets one line, not a failed notebook."""
    import papermill

    folder = output_dir / str(profile.stored_runs) / "runs"
    readers = [p.name for p in paths if "run_dir" in papermill.inspect_notebook(str(p))]
    if readers and not folder.is_dir():
        raise missing(profile, f"any run (needed by {', '.join(readers)})", folder)
    return folder


def default_figures_dir(profile: str, out: Path) -> Path:
    """``figures/`` (committed) for the default ``laptop`` profile; ``<out>/figures`` for the others, so a quick
    ``ci`` run or a cluster run never overwrites the committed figures."""
    return REPO / "figures" if profile == DEFAULT_PROFILE else out / "figures"


def load_runs(out: Path) -> dict[str, tuple[float, str]]:
    """Wall time and status of every notebook already run into ``out`` (so a run of some notebooks keeps the rest
    in the report: a long reproduction can be done a few notebooks at a time)."""
    path = out / RUNS_FILE
    if not path.exists():
        return {}
    try:
        return {name: (float(t), str(status)) for name, (t, status) in json.loads(path.read_text()).items()}
    except (ValueError, TypeError) as err:
        raise UserError(f"{path} is not a notebook-run record ({err}); delete it to start the report afresh") from err


def save_runs(out: Path, runs: dict[str, tuple[float, str]]) -> None:
    tmp = out / (RUNS_FILE + ".tmp")
    tmp.write_text(json.dumps({name: [t, status] for name, (t, status) in sorted(runs.items())}, indent=1))
    tmp.replace(out / RUNS_FILE)


def figures_made_since(figures_dir: Path, started: float) -> list[str]:
    """The PNGs in ``figures_dir`` that a notebook started at ``started`` (``time.time()``) wrote."""
    return sorted(f.name for f in figures_dir.glob("*.png") if f.stat().st_mtime >= started) \
        if figures_dir.exists() else []


def load_figures(out: Path) -> dict[str, list[str]]:
    """The figures each notebook run into ``out`` wrote, by notebook (kept like ``load_runs`` across partial runs)."""
    path = out / FIGURES_FILE
    if not path.exists():
        return {}
    try:
        return {name: [str(f) for f in files] for name, files in json.loads(path.read_text()).items()}
    except (ValueError, TypeError, AttributeError) as err:
        raise UserError(f"{path} is not a figure record ({err}); delete it to start the report afresh") from err


def record_figures(out: Path, notebook: str, files: list[str]) -> None:
    figures = {**load_figures(out), notebook: files}
    tmp = out / (FIGURES_FILE + ".tmp")
    tmp.write_text(json.dumps(dict(sorted(figures.items())), indent=1))
    tmp.replace(out / FIGURES_FILE)


def remove_stale_figures(figures_dir: Path, made: dict[str, list[str]]) -> list[str]:
    """Delete the PNGs in ``figures_dir`` that no notebook wrote, once every notebook has run to the end into the
    report's folder: a figure no notebook makes any more must not sit beside the report as if it were current.
    Returns the names removed."""
    current = {f for files in made.values() for f in files}
    stale = sorted(f for f in figures_dir.glob("*.png") if f.name not in current) if figures_dir.exists() else []
    for figure in stale:
        figure.unlink()
    return [f.name for f in stale]


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def markdown_table(df: pd.DataFrame) -> str:
    """A plain Markdown table as a reader sees it (``labels.footnoted``: long labels as keys, their footnotes listed
    under the table), the same rendering a notebook's display uses."""
    shown = footnoted(df)
    cells = [[str(c) for c in shown.columns]] + [["" if pd.isna(v) else str(v) for v in row] for row in shown.values]
    lines = ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in cells]
    lines.insert(1, "|" + "---|" * len(shown.columns))
    notes = footnote_lines(shown)
    return "\n".join(lines + ([""] + [f"- {note}" for note in notes] if notes else []))


def render_report(profile: "Profile", timings: list[tuple[str, float, str]], tables_dir: Path,
                  figures_dir: Path, made: dict[str, list[str]] | None = None) -> str:
    """The report's Markdown. ``made`` (notebook -> the figures it wrote) lists each figure under the notebook that
    drew it; without it, every PNG in ``figures_dir``."""
    config = profile
    total = sum(t for _, t, _ in timings if t == t)
    missing = [name for name, _, status in timings if status != "ok"]
    parts = [f"# Reproduction report: profile `{profile.name}`", "",
             f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} on {machine_description()}.", "",
             "Provenance of every cell: `paper` (with the paper's V/C/U status), `computed` (exact from the "
             "architecture), `measured` (runtime, device, threads), `predicted` (cost model and its error), `proxy` "
             "(our proxy task, budget and measured rank fidelity), `surrogate` (a model fitted on a benchmark's "
             "trained networks, with its held-out error), `benchmark` (a published table of trained networks), "
             "`synthetic` (made up for a demonstration). A proxy, surrogate or predicted number is never the paper's.",
             "", "## Settings", "", "```", _yaml(config.to_dict(include_notebooks=True)), "```", "",
             "## Notebooks", "",
             markdown_table(pd.DataFrame([{"notebook": n, "wall time (s)": f"{t:.0f}", "status": s}
                                          for n, t, s in timings])), "",
             f"Total wall time: {total / 60:.1f} min."
             + (f" **Incomplete:** {', '.join(missing)} did not run to the end at this profile; their tables and "
                "figures below, if any, are not from this reproduction." if missing else ""), ""]
    for csv in sorted(tables_dir.glob("*.csv")) if tables_dir.exists() else []:
        parts += [f"## {csv.stem}", "", markdown_table(pd.read_csv(csv)), ""]
    if made is None:
        made = {"": [f.name for f in sorted(figures_dir.glob("*.png"))]} if figures_dir.exists() else {}
    listed = [(notebook, name) for notebook, files in sorted(made.items()) for name in files
              if (figures_dir / name).exists()]
    if listed:
        parts += ["## Figures", ""] + [f"- `{name}`" + (f" ({notebook})" if notebook else "")
                                       for notebook, name in listed] + [""]
    return "\n".join(parts)


def _yaml(values: dict) -> str:
    import yaml
    return yaml.safe_dump(values, sort_keys=False).strip()
