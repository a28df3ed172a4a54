"""Search strategies side by side on ImageNet-trained networks (Accel-NASBench), for notebook 07.

The paper says other strategies "should also work" (section 4.2) and never compares them. Here the same search
(Accel-NASBench's space, the surrogate's ImageNet top-1, the Pixel-1 latency model, the soft reward at the space's
T, the notebook budget) runs with every strategy, several seeds each (different per arm): the profile's PPO, the
``paper`` PPO preset (NASNet's published controller settings), TuNAS-style REINFORCE, regularised evolution,
random search, Optuna's TPE, and Optuna's NSGA-II searching accuracy and latency as two objectives instead of the
scalar reward (an ablation the paper never ran). Each arm is judged on the same scalar reward.
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

from mnaslib.labels import Labelled, render_table
from mnaslib.search.profile import Profile
from mnaslib.report.recipes.benchmark_searches import Arm, ArmRuns, run_arms, soft_arm, target_ms
from mnaslib.search.trial import finished


def strategy_arms(profile: Profile, target: float) -> list[Arm]:
    """The compared strategies, each with the soft reward at ``target``; PPO is the profile's own controller (the
    reference soft search of ``benchmark_searches.soft_arm``, reused where the budgets match)."""
    ppo = dict(profile.strategy) if profile.strategy.get("name", "ppo") == "ppo" else {"name": "ppo"}
    others = [("ppo_paper", "PPO, paper preset", {"name": "ppo", "preset": "paper"}),
              ("reinforce", "REINFORCE (TuNAS-style)", {"name": "reinforce"}),
              ("evolution", "regularised evolution", {"name": "evolution"}),
              ("random", "random search", {"name": "random"}),
              ("tpe", "Optuna TPE", {"name": "optuna", "sampler": "tpe"}),
              ("nsga2_pareto", "Optuna NSGA-II on accuracy and latency",
               {"name": "optuna", "sampler": "nsga2", "objectives": ["accuracy", "latency"]})]
    reward = {"name": "mnas_soft", "target_ms": target}
    return [soft_arm("ppo", "PPO (the profile's)", target, strategy=ppo)] + [
        Arm(key, label, {"reward": reward, "strategy": strategy}) for key, label, strategy in others]


def compare_strategies(profile: Profile, run_dir: str | os.PathLike, seeds: int | None = None,
                       seed: int | None = None,
                       progress: bool = False, arms: list[str] | None = None) -> dict[str, ArmRuns]:
    """Every strategy (or those named in ``arms``) with the soft reward at the space's T, ``seeds`` seeds each, at
    ``notebooks.strategy_steps`` steps a search where the profile sets it (the laptop's: the comparison of seven
    strategies at Figure 6's 3,000 samples took 14 min on our 2-core VM, TPE alone 104 s a search), else at
    ``benchmark_steps``."""
    steps = profile.notebooks.strategy_steps
    profile = profile if steps is None else profile.with_overrides({"steps": steps})
    target, _ = target_ms(profile)
    chosen = [a for a in strategy_arms(profile, target) if arms is None or a.key in arms]
    return run_arms(profile, chosen, os.path.join(run_dir, "strategies"), seeds, seed, progress)


def strategy_table(runs: dict[str, ArmRuns], top: float = 0.001, last: float = 0.2) -> pd.DataFrame:
    """Per arm: samples to a top-``top`` reward (the threshold is that quantile of every random-search sample, or
    of every sample when random search was not run), how many seeds reached it, the best reward, and the distinct
    networks among the last ``last`` of the samples; medians [IQR] over seeds."""
    pool = runs["random"].trials if "random" in runs else [t for r in runs.values() for t in r.trials]
    rewards = np.concatenate([finished(t)["reward"].to_numpy(float) for t in pool])
    threshold = float(np.quantile(rewards, 1 - top))
    source = "random search's" if "random" in runs else "all arms'"
    rows = []
    for arm_runs in runs.values():
        hits, best, distinct = [], [], []
        budget = 0
        for trials in arm_runs.trials:
            values = trials["reward"].to_numpy(float)
            budget = max(budget, len(values))
            above = np.flatnonzero(np.nan_to_num(values, nan=-np.inf) >= threshold)
            hits.append(int(above[0]) + 1 if above.size else None)
            best.append(float(np.nanmax(values)))
            tail = trials.iloc[-max(1, int(round(last * len(trials)))):]
            distinct.append(int(tail["arch_id"].nunique()))
        reached = [h for h in hits if h is not None]
        counted = [budget + 1 if h is None else h for h in hits]
        rows.append({"strategy": arm_runs.arm.label,
                     f"samples to the top {100 * top:g}% (never: {budget + 1})": _spread(counted, "computed",
                                                                                         "{:.0f}"),
                     "seeds that got there": f"{len(reached)} of {len(hits)}",
                     "best reward": _spread(best, "computed from surrogate and predicted latency", "{:.4f}"),
                     f"distinct networks, last {100 * last:.0f}%": _spread(distinct, "computed", "{:.0f}")})
    table = render_table(rows)
    table.attrs["threshold"] = (f"top {100 * top:g}% reward = {threshold:.4f}, the {1 - top:.3f} quantile of the "
                                f"{source} {len(rewards):,} samples")
    return table


def _spread(values: list[float], label: str, fmt: str) -> Labelled:
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return Labelled(f"{fmt.format(median)} [{fmt.format(q1)}-{fmt.format(q3)}]",
                    f"{label}; median [IQR] of {len(values)} seeds")
