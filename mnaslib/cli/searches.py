"""``mnas search``, ``runs show``, ``runs compare`` and ``reproduce``: searches and the notebooks."""
from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import yaml

from mnaslib.errors import UserError, shown

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def add_commands(sub) -> None:
    search = sub.add_parser("search", help="run or resume a search in a run directory")
    search.add_argument("--profile", default="laptop",
                        help="a profile name (ci, laptop, paper) or a YAML file (it may start from one with "
                             "'base: laptop'); default laptop")
    search.add_argument("--config", help="a YAML profile file (the same as --profile FILE)")
    search.add_argument("--run-dir", required=True, help="where trials.sqlite lives; an existing search there is "
                                                         "resumed (its settings must match)")
    search.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                        help="override a setting, e.g. --set steps=4 --set reward.name=mnas_hard --set "
                             "proxy.dataset=fashion_mnist; VALUE is read as a YAML scalar (numbers, true/false, "
                             "null, [lists]), anything else is text")
    search.add_argument("--retry-failed", action="store_true",
                        help="evaluate the run's failed trials again (after fixing what made them fail)")
    search.add_argument("--reevaluate", action="store_true",
                        help="train an architecture again each time it is sampled (noise studies); by default a "
                             "repeat reuses the first result and is recorded as reused")
    search.set_defaults(func=cmd_search)

    runs = sub.add_parser("runs", help="inspect finished searches")
    runs_sub = runs.add_subparsers(dest="runs_command", required=True, metavar="ACTION")
    show = runs_sub.add_parser("show", help="summary, best trials, Pareto front and failed trials of a search")
    show.add_argument("run_dir", help="a run directory (holding trials.sqlite)")
    show.add_argument("--top", type=int, default=5, help="how many best trials to list (1 or more; default 5)")
    show.set_defaults(func=cmd_runs_show)
    compare = runs_sub.add_parser("compare", help="two searches side by side: settings that differ, what each found")
    compare.add_argument("first", help="a run directory")
    compare.add_argument("second", help="another run directory")
    compare.set_defaults(func=cmd_runs_compare)

    reproduce = sub.add_parser("reproduce", help="run the notebooks headless and write the reproduction report")
    reproduce.add_argument("--profile", default="laptop",
                           help="a profile name (ci: minutes, laptop: the default, paper: a cluster, class: "
                                "laptop read from its stored runs) or a YAML file")
    reproduce.add_argument("--output-dir", default="outputs", help="where the report and executed notebooks go")
    reproduce.add_argument("--notebooks", nargs="*", help="only these notebooks (file names, e.g. 03_search.ipynb)")
    reproduce.set_defaults(func=cmd_reproduce)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` items as a nested mapping; values are YAML scalars (``1e-3`` is a number, as a reader
    expects, though YAML 1.1 would read it as text)."""
    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not _KEY.match(key):
            raise UserError(f"--set needs KEY=VALUE with a dotted KEY such as reward.name, got {shown(item)}")
        overrides_at = overrides
        parts = key.split(".")
        for part in parts[:-1]:
            node = overrides_at.setdefault(part, {})
            if not isinstance(node, dict):
                raise UserError(f"--set {key}: {part} was set to a value, it cannot also hold settings")
            overrides_at = node
        overrides_at[parts[-1]] = _scalar(text)
    return overrides


def _scalar(text: str) -> Any:
    if _NUMBER.match(text.strip()):
        if len(text) > 100:
            raise UserError(f"--set value {shown(text)} is too long to be a number")
        number = float(text)
        return int(text) if re.fullmatch(r"[+-]?\d+", text.strip()) else number
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return text if value is None and text.strip() not in ("null", "~") else value


def cmd_search(args: argparse.Namespace) -> int:
    from mnaslib.search.wiring import search_from_profile  # lazy: keeps SciPy and pandas out of this module's import
    from mnaslib.search.profile import load_profile  # lazy: keeps SciPy and pandas out of this module's import

    profile = load_profile(args.config or args.profile, parse_overrides(args.set))
    result = search_from_profile(profile, args.run_dir, retry_failed=args.retry_failed, reevaluate=args.reevaluate,
                                 log=print)
    print(f"search finished: {result.trials} trials ({result.failed} failed, {result.reused} reused results) in "
          f"{result.seconds:.0f} s; store: {Path(args.run_dir) / 'trials.sqlite'}")
    _print_findings(args.run_dir, top=3)
    return 0


def _print_findings(run_dir: str, top: int) -> None:
    import pandas as pd

    from mnaslib.report.runs import summarize_run  # lazy: keeps pandas out of this module's import

    summary = summarize_run(run_dir)
    with pd.option_context("display.max_colwidth", 100, "display.width", 250):
        if not summary.done.empty:
            _print_table(f"best {top} by reward", summary.best(top))
            _print_table("accuracy-latency Pareto front", summary.pareto())
        if summary.run.failed():
            print(f"\nfailed trials ({len(summary.run.failed())}):\n" + summary.failures().to_string(index=False))


def _print_table(title: str, table) -> None:
    """A table of labelled cells, a column whose cells share one label printed as plain numbers with the label
    once underneath (the same provenance, said once)."""
    from mnaslib.labels import split_label  # here, not at the top: pandas stays out of the CLI's start

    legend = []
    for column in table.columns:
        parts = [split_label(str(cell)) for cell in table[column]]
        labels = {label for _, label in parts}
        if len(labels) == 1 and None not in labels:
            table = table.assign(**{column: [text for text, _ in parts]})
            legend.append(f"  {column}: {labels.pop()}")
    print(f"\n{title}:\n{table.to_string(index=False)}")
    if legend:
        print("\n".join(legend))


def cmd_runs_show(args: argparse.Namespace) -> int:
    from mnaslib.report.runs import summarize_run  # lazy: keeps pandas out of this module's import

    if args.top < 1:
        raise UserError(f"--top must be at least 1 (how many best trials to list), got {args.top}")
    summary = summarize_run(args.run_dir)
    counts = ", ".join(f"{value} {key}" for key, value in summary.counts().items())
    config = summary.config
    print(f"{args.run_dir}: profile {config.get('profile', '?')}, {summary.steps_done} of {config.get('steps', '?')} "
          f"steps done; {counts}")
    print(f"evaluator data: {config.get('data', {})}; reward {config.get('reward')}; latency {config.get('latency')}")
    _print_findings(args.run_dir, top=args.top)
    return 0


def cmd_runs_compare(args: argparse.Namespace) -> int:
    import pandas as pd

    from mnaslib.report.runs import compare_runs, summarize_run  # lazy: keeps pandas out of this module's import

    table = compare_runs(summarize_run(args.first), summarize_run(args.second))
    table = table.rename(columns={"first": args.first, "second": args.second})
    with pd.option_context("display.max_colwidth", 60, "display.width", 200):
        print(table.to_string(index=False))
    print("\n(one run per side: a difference here is not a claim; compare searches over several seeds)")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from mnaslib.reproduce import reproduce  # lazy: keeps SciPy and pandas out of this module's import

    report = reproduce(profile=args.profile, output_dir=args.output_dir, notebooks=args.notebooks)
    print(f"report: {report}")
    return 0
