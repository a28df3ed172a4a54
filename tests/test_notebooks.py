"""Every numbered notebook runs top to bottom headless under papermill at the ci profile, and is committed clean."""
import json
import re

import pytest
from shared_data import require_shared

from mnaslib.search.profile import load_profile
from mnaslib.reproduce import notebook_paths, render_report, run_notebook, save_table

NOTEBOOKS = notebook_paths()
# Notebooks that read Accel-NASBench (its searches, or the predictor scoring named networks), from shared/
# (MNAS_BENCHMARK_DIR, set in conftest.py)
NEEDS_ACCEL_NASBENCH = ("03_search", "04_imagenet_models", "05_scaling", "07_ablations")
# What a headless run printed before it was quieted (issue 24): papermill, ipykernel and LiteRT's C++ logger
NOISE = ("Passed unknown parameter", "Kernel is running over TCP without encryption", "XNNPACK delegate")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_without_outputs_and_with_parameters(path):
    notebook = json.loads(path.read_text())
    first_code = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    assert "parameters" in first_code["metadata"].get("tags", []), "the first code cell must be papermill parameters"
    assert "profile" in "".join(first_code["source"])
    assert not any(c.get("outputs") for c in notebook["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_papermill_parses_every_parameter(path):
    """`papermill --help-notebook` must list every parameter the cell assigns: a comment it cannot parse (an
    apostrophe, quotes) makes papermill drop the parameter silently and warn 'Passed unknown parameter'."""
    import papermill

    notebook = json.loads(path.read_text())
    first_code = "".join(next(c for c in notebook["cells"] if c["cell_type"] == "code")["source"])
    assigned = re.findall(r"^(\w+)\s*=", first_code, flags=re.MULTILINE)
    parsed = papermill.inspect_notebook(str(path))
    assert list(parsed) == assigned
    assert all(parsed[name]["default"] is not None for name in assigned)


@pytest.mark.notebooks
def test_a_custom_profile_yaml_drives_a_notebook(tmp_path):
    """Notebooks read their budgets from the profile, so a YAML file changes what they run."""
    profile = tmp_path / "mine.yaml"
    profile.write_text("base: ci\nnotebooks: {space_samples: 3}\n")
    path = next(p for p in NOTEBOOKS if p.name.startswith("01_"))
    run_notebook(path, tmp_path / path.name, {"profile": str(profile), "figures_dir": str(tmp_path / "figures"),
                                              "tables_dir": str(tmp_path / "tables")}, cell_timeout=900)
    import pandas as pd

    assert len(pd.read_csv(tmp_path / "tables" / "01_samples.csv")) == 3   # ci alone samples 2
    assert load_profile("ci").notebooks.space_samples == 2 and load_profile(profile).name == "mine"


@pytest.fixture(scope="module")
def ci_tables(tmp_path_factory):
    """Where the ci runs below save their tables, one folder per notebook, for the layout test after them."""
    return tmp_path_factory.mktemp("ci-tables")


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_at_ci_profile(path, tmp_path, capfd, caplog, ci_tables):
    """... quietly: no papermill, kernel or LiteRT chatter reaches the user, and progress bars are saved moved."""
    if path.stem in NEEDS_ACCEL_NASBENCH:
        require_shared("benchmarks", "accel-nasbench")
    figures = tmp_path / "figures"
    run_notebook(path, tmp_path / path.name, {"profile": "ci", "figures_dir": str(figures),
                                              "tables_dir": str(ci_tables / path.stem),
                                              "run_dir": str(tmp_path / "runs")}, cell_timeout=900)
    assert list(figures.glob("*.png")), f"{path.name} saved no figure"
    captured = capfd.readouterr()
    printed = captured.out + captured.err + caplog.text
    for noise in NOISE:
        assert noise not in printed
    executed = (tmp_path / path.name).read_text()
    tables = ci_tables / path.stem  # where this run saved its tables (tables_dir above)
    if path.stem == "03_search":  # the ci soft search: 2 steps x 2 children, its bar saved at its end
        assert re.search(r"search: 100%[^\n]*4/4", executed)
        # the reading is generated from this run's table, not written for an earlier run
        import pandas as pd

        settles = pd.read_csv(tables / "03_where_soft_searches_settle.csv")
        last = settles.filter(like="median of the last quarter").iloc[:, 0]
        assert f"settles at a median of {last.iloc[0]:.0f} ms" in executed
        assert f"{last.iloc[1:].min():.0f}-{last.iloc[1:].max():.0f} ms" in executed
        assert "T scales every reward by one constant" in executed
    if path.stem == "07_ablations":
        import pandas as pd

        six = pd.read_csv(tables / "07_table6_accel_nasbench.csv")
        assert six["network"].str.endswith("everywhere").sum() == 6 and six["network"].str.startswith("soft").sum() == 3
        assert pd.read_csv(tables / "07_table5_claims.csv")["verdict"].str.startswith("not testable here").all()
        from mnaslib.report.teaching import summary_counts

        summary = pd.read_csv(tables / "07_what_reproduces.csv")
        assert f"**This run**: {summary_counts(summary)}." in executed
        assert (summary["outcome"] == "not testable here").sum() >= 3  # Table 5's cell-space claims


# Tables that still break the layout rule, each with its owner: the test expects them to fail (xfail), and fails
# when one of them fits, so the entry is removed and the rule tightened.
TOO_WIDE: dict[str, str] = {}  # table name -> who makes it fit and how (expected to fail until then)


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_table_of_a_ci_run_reads_on_one_screen(path, ci_tables):
    """Each table a notebook saved at ci, shown as a reader sees it (``labels.footnoted``), has at most
    ``MAX_COLUMNS`` columns and no header or cell wider than ``MAX_CELL`` characters."""
    import pandas as pd

    from mnaslib.labels import layout_problems

    folder = ci_tables / path.stem
    if not folder.exists():
        pytest.skip(f"{path.stem} did not run at ci in this session (run it with test_notebook_runs_at_ci_profile)")
    problems = {csv.stem: layout_problems(pd.read_csv(csv)) for csv in sorted(folder.glob("*.csv"))}
    unexpected = {name: p for name, p in problems.items() if p and name not in TOO_WIDE}
    fitting_now = [name for name, p in problems.items() if not p and name in TOO_WIDE]
    assert not unexpected, f"tables too wide to read: {unexpected}"
    assert not fitting_now, f"{fitting_now} fit now: remove them from TOO_WIDE"
    known = {name: TOO_WIDE[name] for name, p in problems.items() if p}
    if known:
        pytest.xfail("; ".join(f"{name} (owner {why})" for name, why in known.items()))


def test_the_layout_rule_catches_wide_tables():
    import pandas as pd

    from mnaslib.labels import MAX_CELL, MAX_COLUMNS, layout_problems

    label = "measured (host LiteRT 2.3, AMD EPYC, 1 thread, thread-CPU clock, median of 50 runs after 5 warm-up)"
    narrow = pd.DataFrame({"model": ["a", "b"], "latency (ms)": [f"10.98 [{label}]", "12.5 [paper (V)]"]})
    assert layout_problems(narrow) == []  # the long label becomes a footnote key
    wide = pd.DataFrame({f"c{i}": [1.0] for i in range(MAX_COLUMNS + 1)})
    assert layout_problems(wide) == [f"{MAX_COLUMNS + 1} columns (at most {MAX_COLUMNS})"]
    sentence = pd.DataFrame({"claim": ["x" * (MAX_CELL + 1)]})
    assert layout_problems(sentence)[0].startswith(f"column 'claim': {MAX_CELL + 1} characters")


def test_report_lists_tables_and_settings(tmp_path):
    import pandas as pd
    save_table(pd.DataFrame({"model": ["a1"], "params": ["3.89 [computed]"]}), "table1", tmp_path / "tables")
    text = render_report(load_profile("ci"), [("01_x.ipynb", 12.0, "ok")], tmp_path / "tables", tmp_path)
    assert "| a1 | 3.89 [computed] |" in text and "profile: ci" in text and "01_x.ipynb" in text
    with pytest.raises(ValueError):
        save_table(pd.DataFrame(), "../escape", tmp_path)


def test_report_keeps_earlier_notebooks_and_marks_missing_ones(tmp_path):
    from mnaslib.reproduce import load_figures, load_runs, reproduce, save_runs
    out = tmp_path / "ci"
    out.mkdir()
    save_runs(out, {"00_reward.ipynb": (12.0, "ok")})
    report = reproduce("ci", tmp_path, notebooks=["01_search_space.ipynb"], figures_dir=tmp_path / "figures")
    text = report.read_text()
    assert "| 00_reward.ipynb | 12 | ok |" in text and "| 01_search_space.ipynb |" in text
    assert "| 02_latency.ipynb | nan | not run yet at this profile |" in text and "**Incomplete:**" in text
    assert set(load_runs(out)) == {"00_reward.ipynb", "01_search_space.ipynb"}
    made = load_figures(out)["01_search_space.ipynb"]
    assert made and all((tmp_path / "figures" / f).exists() for f in made)  # 01 draws Figure 7
    assert all(f"- `{f}` (01_search_space.ipynb)" in text for f in made)
    (out / "notebook_runs.json").write_text("{not json")
    with pytest.raises(ValueError, match="delete it"):
        load_runs(out)


def test_stale_figures_go_only_once_every_notebook_has_a_record(tmp_path):
    """A figure no notebook wrote any more is deleted after a complete run, never one another notebook made."""
    import os
    import time

    from mnaslib.reproduce import figures_made_since, remove_stale_figures
    old = tmp_path / "fig6_old.png"
    old.write_bytes(b"png")
    started = time.time()
    new = tmp_path / "fig6_new.png"
    new.write_bytes(b"png")
    os.utime(old, (started - 60, started - 60))
    assert figures_made_since(tmp_path, started) == ["fig6_new.png"]
    assert remove_stale_figures(tmp_path, {"03_search.ipynb": ["fig6_new.png"]}) == ["fig6_old.png"]
    assert not old.exists() and new.exists()
    text = render_report(load_profile("ci"), [("03_search.ipynb", 1.0, "ok")], tmp_path / "tables", tmp_path,
                         {"03_search.ipynb": ["fig6_new.png", "fig6_gone.png"]})
    assert "- `fig6_new.png` (03_search.ipynb)" in text and "fig6_gone" not in text


def test_only_the_default_profile_writes_the_committed_figures(tmp_path):
    from mnaslib.reproduce import REPO, default_figures_dir
    assert default_figures_dir("laptop", tmp_path) == REPO / "figures"
    assert default_figures_dir("ci", tmp_path) == tmp_path / "figures"
