"""Every search strategy side by side on every landscape: samples to a top network, collapse, entropy.

One table per landscape, every strategy (arm) in the same run, each arm over the same number of seeds (different
per arm), budget 1,000 samples (125 asks of 8), searched with ``mnaslib.strategies.optimize`` (equivalent networks
share one evaluation through ``key=``). Per arm: how many seeds reached a top-1% network, samples to a top-1% and a
top-0.1% one (median [IQR]; a seed that never gets there counts as budget + 1 and is counted and shown), the
distinct networks among the last 200 samples (a collapsed controller re-samples a few), and the policy's entropy
(mean over decisions of entropy / log(choices): 1 is uniform, 0 collapsed) after 10%, 50% and 100% of the budget.

Landscapes (``--landscapes``; default all):

* the seeded NK and trap landscapes of ``mnaslib.tabular.landscapes`` (synthetic; ``nk-tune-*`` are where the
  controllers' defaults were chosen, every other landscape is held out); thresholds exact or from 200,000 samples;
* ``macro``: NAS-Bench-Macro, reward = its mean CIFAR-10 accuracy (benchmark); thresholds over its 3,969 networks;
* ``macro-latency``: NAS-Bench-Macro, reward mnas_soft of accuracy and the Pixel-1 model's latency of its own 32x32
  network (extrapolated, see ``nasbench_macro.latency_caveat``), T = the median latency over its networks;
* ``accel-soft``, ``accel-hard``: Accel-NASBench's space, the surrogate's ImageNet top-1 and the Pixel-1 model's
  latency, mnas_soft / mnas_hard at the space's T (``recipes.benchmark_searches.target_ms``), as in Figure 6;
* ``synthetic``: the seeded table over the MnasNet space (made-up accuracies, Pixel-1 latency, mnas_soft T = 75).

Real-benchmark thresholds are the top share of the benchmark's networks (NAS-Bench-Macro) or of 50,000 seeded
uniform samples (the others). Arms: ``random``, ``evolution``, ``ppo`` (PPOConfig's defaults), ``ppo-paper`` (the
``paper`` preset: NASNet's published controller settings), ``reinforce``, ``tpe``, ``nsga2`` (Optuna on the scalar
reward) and ``nsga2-pareto`` (Optuna's NSGA-II on accuracy and latency as two objectives; landscapes with a
latency only). ``--ppo``/``--reinforce NAME=VALUE`` override a config (the tuning runs); ``--cache DIR`` keeps each
search's result so a long sweep runs in resumable chunks.

    python benchmarks/search_efficiency.py --seeds 20 --cache /tmp/search-efficiency
    python benchmarks/search_efficiency.py --landscapes nk-tune-a nk-tune-b --arms ppo --seeds 5 --ppo epsilon=0.05
"""
from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mnaslib.seeds import arm_seed
from mnaslib.strategies import optimize
from mnaslib.tabular.landscapes import LANDSCAPES, landscape

ARMS: dict[str, tuple[str, dict[str, Any]]] = {
    "random": ("random", {}), "evolution": ("evolution", {}), "ppo": ("ppo", {}),
    "ppo-paper": ("ppo", {"preset": "paper"}), "reinforce": ("reinforce", {}),
    "tpe": ("optuna", {"sampler": "tpe"}), "nsga2": ("optuna", {"sampler": "nsga2"}),
    "nsga2-pareto": ("optuna", {"sampler": "nsga2", "objectives": ["accuracy", "latency"]}),
}
REAL = ("macro", "macro-latency", "accel-soft", "accel-hard", "synthetic")


class Problem:
    """A landscape as the benchmark needs it: reward, decisions, key, thresholds, metrics and a label."""

    def __init__(self, name: str, reward: Callable, decisions: list, thresholds: dict[str, float], label: str,
                 key: Callable | None = None, metrics: Callable | None = None) -> None:
        self.name, self.reward, self.decisions, self.thresholds = name, reward, decisions, thresholds
        self.label, self.key, self.metrics = label, key, metrics


def synthetic_problem(name: str) -> Problem:
    bench = landscape(name)
    return Problem(name, bench, bench.decisions(), {"1%": bench.top_threshold(0.01),
                   "0.1%": bench.top_threshold(0.001)}, f"{bench.provenance()}; thresholds {bench.threshold_method}")


def _uniform_thresholds(space, rewards: Callable[[list], np.ndarray]) -> dict[str, float]:
    rng = np.random.default_rng(12345)
    values = rewards([space.sample(rng) for _ in range(50_000)])
    return {"1%": float(np.quantile(values, 0.99)), "0.1%": float(np.quantile(values, 0.999))}


def real_problem(name: str, path: str | None) -> Problem:
    from mnaslib.search.wiring import deployment_options, make_evaluator, make_latency, search_space
    from mnaslib.search.profile import load_profile
    from mnaslib.reward import get_reward

    if name == "synthetic":
        from mnaslib.latency import get_provider
        from mnaslib.spaces.mnasnet import MnasNetSpace
        from mnaslib.tabular.synthetic import SyntheticTable

        provider = get_provider("pixel1-model")
        table = SyntheticTable(MnasNetSpace(), lambda arch: provider.latency(arch).median_ms,
                               get_reward("mnas_soft", target_ms=75.0), seed=0)
        return Problem(name, table, table.space.decision_sizes(), _uniform_thresholds(
            table.space, lambda s: np.array([table(t) for t in s])), f"accuracy [{table.provenance()}], latency "
            "[predicted (Pixel-1 model)], mnas_soft T = 75 ms; thresholds from 50,000 uniform samples",
            key=lambda t: table.space.decode(t).arch_id)
    if name.startswith("macro"):
        profile = load_profile("laptop").with_overrides({"benchmark": {"name": "nasbench-macro", **(
            {"path": path} if path else {})}})
    else:
        from mnaslib.report.recipes.benchmark_searches import benchmark_profile, target_ms

        profile = benchmark_profile(load_profile("laptop"), path=path)
    space, bench = search_space(profile), make_evaluator(profile).benchmark
    latency, cache = make_latency(profile.latency, deployment_options(profile)), {}

    # NAS-Bench-Macro's accuracy-only landscape needs no latency (timing one of its networks builds it, ~0.3 s)
    timed = name != "macro"

    def latency_ms(arch) -> float:
        return float(latency(arch).value) if timed else np.nan

    def measure(tokens) -> tuple[float, float]:
        arch = space.decode(tokens)
        if arch.arch_id not in cache:
            cache[arch.arch_id] = (bench.record(arch).accuracy, latency_ms(arch))
        return cache[arch.arch_id]

    def measure_many(samples: list) -> np.ndarray:
        """(accuracy, latency) of many samples, the surrogate queried once for all where it can be."""
        archs = [space.decode(t) for t in samples]
        new = list({a.arch_id: a for a in archs if a.arch_id not in cache}.values())
        records = bench.records(new) if hasattr(bench, "records") else [bench.record(a) for a in new]
        cache.update({a.arch_id: (r.accuracy, latency_ms(a)) for a, r in zip(new, records)})
        return np.array([cache[a.arch_id] for a in archs])

    def metrics(tokens) -> dict[str, float]:
        return dict(zip(("accuracy", "latency"), measure(tokens)))

    def key(tokens) -> str:
        return space.decode(tokens).arch_id

    accuracy_label = bench.record(space.decode(space.sample(np.random.default_rng(0)))).provenance.label
    if name == "macro":
        return Problem(name, lambda t: measure(t)[0], space.decision_sizes(),
                       {"1%": bench.top_threshold(0.01), "0.1%": bench.top_threshold(0.001)},
                       f"accuracy [{accuracy_label}]; thresholds over its {bench.num_distinct:,} networks", key=key)
    if name == "macro-latency":
        samples = [space.sample(np.random.default_rng(s)) for s in range(2000)]
        target = float(np.median(measure_many(samples)[:, 1]))
        reward, how = get_reward("mnas_soft", target_ms=target), f"mnas_soft, T = {target:.3g} (median over 2,000)"
    else:
        target, _ = target_ms(profile)
        kind = "mnas_soft" if name == "accel-soft" else "mnas_hard"
        reward, how = get_reward(kind, target_ms=target), f"{kind}, T = {target:g} ms"
    def scalar(tokens) -> float:
        return float(reward(*measure(tokens)))

    thresholds = _uniform_thresholds(space, lambda s: np.asarray(reward(*measure_many(s).T), dtype=float))
    return Problem(name, scalar, space.decision_sizes(), thresholds, f"accuracy [{accuracy_label}], latency "
                   f"[{latency(space.decode(space.sample(np.random.default_rng(0)))).label}], {how}; thresholds "
                   "from 50,000 uniform samples", key=key, metrics=metrics)


def run_one(problem: Problem, arm: str, seed: int, budget: int, batch: int, config: dict) -> dict[str, Any]:
    name, base = ARMS[arm]
    history = optimize(problem.reward, problem.decisions, name, steps=-(-budget // batch), batch_size=batch,
                       seed=seed, key=problem.key, metrics=problem.metrics if arm == "nsga2-pareto" else None,
                       **{**base, **config})
    trials = history.trials[:budget]
    keys = [(problem.key or tuple)(t.tokens) for t in trials]
    fractions = [s.get("entropy_fraction", np.nan) for s in history.stats]
    return {"rewards": np.array([t.reward for t in trials], dtype=float),
            "distinct_last200": len(set(keys[-200:])), "entropy": np.array(fractions, dtype=float)}


def first_hit(rewards: np.ndarray, threshold: float) -> int | None:
    hits = np.flatnonzero(rewards >= threshold - 1e-12)
    return int(hits[0]) + 1 if hits.size else None


def summarise(runs: list[dict], problem: Problem, budget: int) -> dict[str, str]:
    def counts(share: str) -> str:
        found = [first_hit(r["rewards"], problem.thresholds[share]) for r in runs]
        values = np.array([budget + 1 if c is None else c for c in found], dtype=float)
        q1, median, q3 = np.percentile(values, [25, 50, 75])
        missed = sum(c is None for c in found)
        return f"{median:.0f} [{q1:.0f}-{q3:.0f}]" + (f", {missed} never" if missed else "")

    reached = sum(first_hit(r["rewards"], problem.thresholds["1%"]) is not None for r in runs)
    entropy = [r["entropy"] for r in runs]
    points = []
    for share in (0.1, 0.5, 1.0):
        values = [e[min(len(e) - 1, int(share * len(e)) - 1 if share < 1 else len(e) - 1)] for e in entropy if len(e)]
        points.append("-" if not values or np.isnan(values).all() else f"{np.nanmedian(values):.2f}")
    distinct = [r["distinct_last200"] for r in runs]
    return {"top-1% reached": f"{reached}/{len(runs)}", "samples to top 1%": counts("1%"),
            "samples to top 0.1%": counts("0.1%"),
            "distinct in last 200": f"{np.median(distinct):.0f} [{min(distinct)}-{max(distinct)}]",
            "entropy @10/50/100%": "/".join(points)}


def resolved(arm: str, config: dict) -> dict:
    """The arm's full configuration (defaults filled in), so a cached result never outlives a change of default."""
    from mnaslib.strategies import PPOConfig, ReinforceConfig

    name, base = ARMS[arm]
    merged = {**base, **config}
    if name == "ppo":
        return PPOConfig.from_dict(merged).to_dict()
    return ReinforceConfig.from_dict(merged).to_dict() if name == "reinforce" else merged


def cached_run(args: argparse.Namespace, problem: Problem, arm: str, seed: int) -> dict[str, Any] | None:
    config = {"ppo": args.ppo, "ppo-paper": args.ppo_paper, "reinforce": args.reinforce}.get(arm, {})
    if args.cache is None:
        return run_one(problem, arm, seed, args.budget, args.batch_size, config)
    tag = hashlib.sha256(json.dumps([arm, resolved(arm, config), args.budget, args.batch_size],
                                    sort_keys=True).encode()).hexdigest()
    path = Path(args.cache) / problem.name / f"{arm}-{tag[:10]}-seed{seed}.npz"
    if path.exists():
        with np.load(path) as data:
            return {"rewards": data["rewards"], "distinct_last200": int(data["distinct_last200"]),
                    "entropy": data["entropy"]}
    if args.cached_only:
        return None
    result = run_one(problem, arm, seed, args.budget, args.batch_size, config)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landscapes", nargs="+", default=[*LANDSCAPES, *REAL], choices=[*LANDSCAPES, *REAL])
    parser.add_argument("--arms", nargs="+", default=[a for a in ARMS], choices=list(ARMS))
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--path", help="the benchmark's file or folder (default: $MNAS_BENCHMARK_DIR or the download)")
    parser.add_argument("--cache", help="a folder keeping each search's result, so an interrupted sweep resumes")
    parser.add_argument("--max-seconds", type=float, default=None, help="stop starting searches after this long")
    parser.add_argument("--cached-only", action="store_true", help="report only the searches in --cache (the seeds "
                                                                   "column says how many there are)")
    for name in ("ppo", "ppo-paper", "reinforce"):
        parser.add_argument(f"--{name}", type=_override, action="append", default=[], metavar="NAME=VALUE",
                            dest=name.replace("-", "_"), help=f"a {name} config option (repeatable)")
    args = parser.parse_args()
    args.ppo, args.ppo_paper, args.reinforce = dict(args.ppo), dict(args.ppo_paper), dict(args.reinforce)
    start = time.perf_counter()
    for name in args.landscapes:
        problem = synthetic_problem(name) if name in LANDSCAPES else real_problem(name, args.path)
        print(f"\n### {name}: {problem.label}\n" + ", ".join(f"top {k} >= {v:.4f}" for k, v in
                                                        problem.thresholds.items()))
        print(f"median [IQR] over seeds (distinct in last 200: median [min-max]); budget {args.budget} "
              f"({args.batch_size} per ask); never reached counts "
              f"{args.budget + 1}")
        rows = []
        for arm in args.arms:
            if arm == "nsga2-pareto" and problem.metrics is None:
                continue
            # different seeds per arm, the same whichever arms a run names (so cached runs fit together)
            seeds = [arm_seed(args.first_seed, list(ARMS).index(arm), k) for k in range(args.seeds)]
            runs = []
            for seed in seeds:
                if args.max_seconds and time.perf_counter() - start > args.max_seconds:
                    print(f"stopped after {args.max_seconds:.0f} s (the cache keeps what finished)")
                    return
                runs.append(cached_run(args, problem, arm, seed))
            runs = [r for r in runs if r is not None]
            if not runs:
                continue
            rows.append({"arm": arm, "seeds": len(runs), **summarise(runs, problem, args.budget)})
        if rows:
            _print_table(rows)
    print(f"\n{time.perf_counter() - start:.0f} s")


def _print_table(rows: list[dict[str, str]]) -> None:
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")


def _override(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. epsilon=0.05), got {text!r}")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


if __name__ == "__main__":
    main()
