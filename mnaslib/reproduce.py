"""``make reproduce``: run every numbered notebook headless with papermill and write a reproduction report.

Notebooks save the tables they show with ``save_table`` (CSV, every cell already carrying its provenance label);
the report gathers them with the settings, the machine and each notebook's wall time, so one Markdown file says what
was reproduced, how, and where each number came from.
"""
from __future__ import annotations

import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def save_table(df: pd.DataFrame, name: str, tables_dir: str | os.PathLike | None) -> None:
    """Write a displayed table as ``<tables_dir>/<name>.csv`` for the report (no-op when ``tables_dir`` is empty)."""
    if not tables_dir:
        return
    if not name or Path(name).name != name:
        raise ValueError(f"table name must be a plain file name, got {name!r}")
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
            raise ValueError(f"no notebook(s) {sorted(unknown)} in {notebooks_dir}; have {[p.name for p in paths]}")
        paths = [p for p in paths if p.name in wanted]
    return paths


def run_notebook(path: Path, output: Path, parameters: dict) -> float:
    """Execute one notebook with papermill in its own folder; returns the wall time in seconds."""
    import papermill

    start = time.perf_counter()
    papermill.execute_notebook(str(path), str(output), parameters=parameters, cwd=str(path.parent),
                               kernel_name="python3", progress_bar=False)
    return time.perf_counter() - start


def reproduce(profile: str = "laptop", output_dir: str | os.PathLike = "outputs", notebooks: list[str] | None = None,
              figures_dir: str | os.PathLike | None = None) -> Path:
    """Run the notebooks at ``profile`` into ``output_dir/<profile>/`` and write ``REPORT.md`` there."""
    from tqdm.auto import tqdm

    out = Path(output_dir).resolve() / profile
    tables = out / "tables"
    out.mkdir(parents=True, exist_ok=True)
    figures = Path(figures_dir).resolve() if figures_dir else REPO / "figures"
    timings: list[tuple[str, float, str]] = []
    for path in tqdm(notebook_paths(names=notebooks), desc=f"notebooks ({profile})", unit="notebook"):
        params = {"profile": profile, "figures_dir": str(figures), "tables_dir": str(tables),
                  "run_dir": str(out / "runs")}
        try:
            timings.append((path.name, run_notebook(path, out / path.name, params), "ok"))
        except Exception as err:  # keep going: the report says which notebook failed and why
            timings.append((path.name, float("nan"), f"failed: {type(err).__name__}: {str(err)[:300]}"))
    report = out / "REPORT.md"
    report.write_text(render_report(profile, timings, tables, figures))
    failed = [name for name, _, status in timings if status != "ok"]
    if failed:
        raise RuntimeError(f"notebook(s) failed: {', '.join(failed)}; see {report} and the executed copies in {out}")
    return report


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def markdown_table(df: pd.DataFrame) -> str:
    """A plain Markdown table (no extra dependency)."""
    cells = [[str(c) for c in df.columns]] + [["" if pd.isna(v) else str(v) for v in row] for row in df.values]
    lines = ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in cells]
    lines.insert(1, "|" + "---|" * len(df.columns))
    return "\n".join(lines)


def render_report(profile: str, timings: list[tuple[str, float, str]], tables_dir: Path, figures_dir: Path) -> str:
    from mnaslib.search import load_config

    config = load_config(profile)
    total = sum(t for _, t, _ in timings if t == t)
    parts = [f"# Reproduction report: profile `{profile}`", "",
             f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} on {machine_description()}.", "",
             "Provenance of every cell: `paper` (with the paper's V/C/U status), `computed` (exact from the "
             "architecture), `measured` (runtime, device, threads), `predicted` (cost model and its error), `proxy` "
             "(our proxy task and budget). A proxy accuracy or a predicted latency is never the paper's number.", "",
             "## Settings", "", "```", _yaml(config.to_dict()), "```", "", "## Notebooks", "",
             markdown_table(pd.DataFrame([{"notebook": n, "wall time (s)": f"{t:.0f}", "status": s}
                                          for n, t, s in timings])), "",
             f"Total wall time: {total / 60:.1f} min.", ""]
    for csv in sorted(tables_dir.glob("*.csv")) if tables_dir.exists() else []:
        parts += [f"## {csv.stem}", "", markdown_table(pd.read_csv(csv)), ""]
    figures = sorted(figures_dir.glob("*.png")) if figures_dir.exists() else []
    if figures:
        parts += ["## Figures", ""] + [f"- `{f.name}`" for f in figures] + [""]
    return "\n".join(parts)


def _yaml(values: dict) -> str:
    import yaml
    return yaml.safe_dump(values, sort_keys=False).strip()
