"""The committed laptop report and figures are the code's: they fail this test when they no longer match.

`docs/REPORT-laptop.md` and `figures/` are what a visitor reads before running anything. They are the output of
`make reproduce` at the default profile; when the profile's settings change, or a notebook stops drawing a figure,
the committed copies describe code that no longer exists. Regenerate them with `make reproduce` and copy
`outputs/laptop/REPORT.md` to `docs/REPORT-laptop.md`.
"""
import re

import yaml

from mnaslib.search.profile import load_profile
from mnaslib.reproduce import DEFAULT_PROFILE, REPO

REPORT = REPO / "docs" / f"REPORT-{DEFAULT_PROFILE}.md"
FIGURES = REPO / "figures"


def report_text() -> str:
    return REPORT.read_text()


def test_the_committed_report_has_the_settings_of_the_profile_it_names():
    text = report_text()
    named = re.search(r"^# Reproduction report: profile `([^`]+)`", text, re.M)
    settings = re.search(r"^## Settings\n\n```\n(.*?)\n```", text, re.M | re.S)
    assert named and settings, f"{REPORT} lacks its title or its Settings block"
    assert named.group(1) == DEFAULT_PROFILE
    committed = yaml.safe_load(settings.group(1))
    current = load_profile(DEFAULT_PROFILE).to_dict(include_notebooks=True)
    assert committed == current, (f"{REPORT} was made with other settings than mnaslib/configs/{DEFAULT_PROFILE}.yaml "
                                  "now has: run `make reproduce` and copy outputs/laptop/REPORT.md there")


def test_every_committed_figure_is_one_the_report_lists_and_every_notebook_finished():
    text = report_text()
    listed = set(re.findall(r"^- `([^`]+\.png)`", text, re.M))
    committed = {p.name for p in FIGURES.glob("*.png")}
    assert committed == listed, (f"figures/ and the report disagree: only in figures/ {sorted(committed - listed)}, "
                                 f"only in the report {sorted(listed - committed)}")
    statuses = re.findall(r"^\| (\d\d_\w+\.ipynb) \| [^|]+ \| ([^|]+) \|$", text, re.M)
    assert len(statuses) == len(list((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    assert all(status.strip() == "ok" for _, status in statuses), statuses
