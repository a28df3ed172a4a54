"""The paper's accuracy-dependent search experiments, rerun on ImageNet-trained networks (Accel-NASBench).

Figure 6 (hard vs soft constraint), Table 2's SE study, Table 4's "scale down or search again" and Table 5's reward
half compare *searches*, so each runs its arms with several seeds (different per arm, so two arms never sample the
same sequence), on the real controller, the Pixel-1 latency model and Accel-NASBench's surrogate of ImageNet top-1
(labelled with its held-out error), at thousands of samples a minute. Every number is a median over seeds with its
spread, and a claim "holds" only when every seed agrees and every seed's gap clears a stated noise floor
(``mnaslib.report.verdicts.verdict``).

The soft search at the space's T with the profile's controller is the reference arm of Figure 6, Table 5's reward
half and Table 2's SE study (``soft_arm``): it takes the same seeds in all three, so notebook 07 copies notebook 03's
finished searches instead of running them again (``run_arms`` reuses any identical finished run beside its own).
Table 6 (layer diversity) on the same searches is ``mnaslib.report.recipes.layer_diversity_accel``; how widely Figure
6's arms spread in latency is ``mnaslib.report.recipes.figure6_spread``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from mnaslib.report.claims import figure6_gaps
from mnaslib.report.verdicts import NoiseFloor, label_error_floor, median_over_seeds, seed_spread, verdict
from mnaslib.labels import Labelled, render_table
from mnaslib.search.profile import Profile, load_profile
from mnaslib.report.runs import latency_spread, load_run
from mnaslib.seeds import arm_seed
from mnaslib.search.trial import best_rows, finished, label_of
from mnaslib.search.wiring import (deployment_options, make_latency, search_space, reuse_identical_run,
                                   search_from_profile, make_evaluator)
from mnaslib.quiet import progress_bar
from mnaslib import paper

BENCHMARK = "accel-nasbench"
PAPER_TARGET_MS = 75.0


@dataclass(frozen=True)
class Arm:
    """One side of a comparison: what it changes in the benchmark profile, and how tables name it.

    ``seed_offset`` fixes the arm's seeds (``seeds.arm_seed(seed, seed_offset, k)``); None takes the smallest offset no
    other arm of the comparison has. Arms that are the same search in several comparisons (``soft_arm``) share it.
    """

    key: str
    label: str
    overrides: dict
    seed_offset: int | None = None


SOFT_OFFSET = 1  # the reference soft search's seeds: arm_seed(seed, 1, k) in every comparison


def soft_arm(key: str, label: str, target: float, **overrides) -> Arm:
    """The soft reward (alpha = beta = -0.07) at ``target`` with the profile's controller: the same search (and the
    same seeds) wherever a comparison needs it, so a finished one is reused."""
    return Arm(key, label, {"reward": {"name": "mnas_soft", "target_ms": target}, **overrides}, SOFT_OFFSET)


@dataclass
class ArmRuns:
    """An arm's searches, one trial table (and its run folder, for the explorer) per seed."""

    arm: Arm
    seeds: list[int]
    trials: list[pd.DataFrame] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)

    def best(self, within_ms: float | None = None) -> list[pd.Series]:
        """Each seed's best-reward model (among those at or below ``within_ms`` when given)."""
        picks = []
        for trials in self.trials:
            done = finished(trials)
            best = best_rows(done if within_ms is None else done[done["latency_ms"] <= within_ms], 1)
            picks.append(best.iloc[0] if not best.empty else None)
        return picks

    @property
    def accuracy_label(self) -> str:
        return label_of(self.trials[0], "accuracy", "surrogate")

    @property
    def latency_label(self) -> str:
        return label_of(self.trials[0], "latency", "predicted")


def benchmark_profile(profile: str | os.PathLike | Profile, path: str | os.PathLike | None = None) -> Profile:
    """The profile's search on Accel-NASBench (read from ``path``, else ``$MNAS_BENCHMARK_DIR`` or the download), at
    its notebook budget (``notebooks.benchmark_steps`` x ``benchmark_batch_size``; Figure 6's 3,000 samples at the
    laptop and paper profiles)."""
    base = load_profile(profile)
    notebooks = base.notebooks
    benchmark = {"name": BENCHMARK, **({"path": str(path)} if path else {})}
    return base.with_overrides({"benchmark": benchmark, "steps": notebooks.benchmark_steps,
                                "batch_size": notebooks.benchmark_batch_size})


def target_ms(profile: Profile, samples: int = 2000) -> tuple[float, str]:
    """T for searches of this space: the paper's 75 ms if the space's networks reach it under the profile's latency
    provider, else EfficientNet-B0's latency (the space's A1-like reference); and the sentence that says which."""
    space, latency = search_space(profile), make_latency(profile.latency, deployment_options(profile))
    rng = np.random.default_rng(0)
    values = [latency(space.decode(space.sample(rng))).value for _ in range(samples)]
    low, high = float(np.min(values)), float(np.max(values))
    if low <= PAPER_TARGET_MS <= high:
        return PAPER_TARGET_MS, (f"T = {PAPER_TARGET_MS:g} ms, the paper's: the space reaches it ({low:.0f}-{high:.0f} "
                                 f"ms over {samples} random networks)")
    b0 = latency(space.efficientnet_b0()).value
    return round(b0, 1), f"T = {b0:.1f} ms, EfficientNet-B0's: the space does not reach the paper's 75 ms"


def seed_offsets(arms: list[Arm]) -> list[int]:
    """Each arm's ``seed_offset``: its own where set, else the smallest one no other arm takes (in order)."""
    fixed = [a.seed_offset for a in arms if a.seed_offset is not None]
    if len(set(fixed)) != len(fixed):
        raise ValueError(f"two arms share a seed offset: {[(a.key, a.seed_offset) for a in arms]}")
    free = (n for n in range(len(arms) + len(fixed) + 1) if n not in fixed)
    return [a.seed_offset if a.seed_offset is not None else next(free) for a in arms]


def run_arms(profile: Profile, arms: list[Arm], run_dir: str | os.PathLike, seeds: int | None = None,
             seed: int | None = None, progress: bool = False) -> dict[str, ArmRuns]:
    """Every arm with ``seeds`` seeds (default: the profile's ``notebooks.benchmark_seeds``; an arm with offset
    ``o`` uses seeds ``seeds.arm_seed(seed, o, k)``, ``seed_offsets``, where ``seed`` is the profile's unless
    given), each search in its own resumable folder
    ``run_dir/<arm>_seed<s>``. A finished search with exactly the same settings in a sibling comparison's folder
    (``run_dir/../*/*_seed<s>``: another notebook's, say) is copied instead of searched again."""
    seeds = profile.notebooks.benchmark_seeds if seeds is None else seeds
    seed = profile.seed if seed is None else seed
    results = {}
    with progress_bar(total=len(arms) * seeds, desc="searches", unit="search", disable=not progress) as bar:
        for arm, offset in zip(arms, seed_offsets(arms)):
            runs = ArmRuns(arm, [arm_seed(seed, offset, k) for k in range(seeds)])
            changes = dict(arm.overrides)
            # replaced, not merged: accuracy alone takes no target, and random search takes no PPO options
            whole = {key: dict(changes.pop(key)) for key in ("reward", "strategy") if key in changes}
            for search_seed in runs.seeds:
                folder = Path(run_dir) / f"{arm.key}_seed{search_seed}"
                arm_profile = profile.with_overrides({**changes, "seed": search_seed})
                if whole:
                    arm_profile = arm_profile.search_with(**whole)
                if arm_profile.stored_runs is None:  # stored runs (class) are only read, never copied into
                    siblings = sorted(p for p in Path(run_dir).parent.glob(f"*/*_seed{search_seed}") if p != folder)
                    reuse_identical_run(arm_profile, folder, siblings)
                search_from_profile(arm_profile, folder, progress=False)
                runs.trials.append(load_run(folder).frame)
                runs.folders.append(folder)
                bar.update()
            results[arm.key] = runs
    return results


# ---------------------------------------------------------------------------------------------------------------
# Figure 6: hard vs soft constraint
# ---------------------------------------------------------------------------------------------------------------
def figure6(profile: Profile, run_dir: str | os.PathLike, seeds: int | None = None, seed: int | None = None,
            progress: bool = False) -> dict[str, ArmRuns]:
    """The hard (alpha = 0, beta = -1) and soft (alpha = beta = -0.07) searches at the space's T."""
    target, _ = target_ms(profile)
    arms = [Arm("hard", "alpha=0, beta=-1 (hard)", {"reward": {"name": "mnas_hard", "target_ms": target}}),
            soft_arm("soft", "alpha=beta=-0.07 (soft)", target)]
    return run_arms(profile, arms, Path(run_dir) / "figure6", seeds, seed, progress)


def figure6_claims(runs: dict[str, ArmRuns], target: float) -> pd.DataFrame:
    """Figure 6's claim rows (``claims.figure6_gaps``) seed by seed: each row's values as medians [IQR] over the
    seeds, and its verdict over the seeds, against the largest of each seed's floors and the seed-to-seed spread."""
    hard, soft = runs["hard"], runs["soft"]
    pairs = [figure6_gaps(latency_spread(h, target, "hard"), latency_spread(s, target, "soft"))
             for h, s in zip(hard.trials, soft.trials)]
    rows = []
    for index, claim in enumerate(pairs[0]):
        gaps = [pair[index] for pair in pairs]
        floors = [f for g in gaps for f in g.floors] + [seed_spread([g.hard for g in gaps], [g.soft for g in gaps])]
        rows.append({"claim (paper V)": claim.claim,
                     "hard": median_over_seeds([g.hard for g in gaps], "computed", "{:.3g}"),
                     "soft": median_over_seeds([g.soft for g in gaps], "computed", "{:.3g}"),
                     "verdict": verdict([g.gap for g in gaps], floors, claim.unit, min_seeds=3)})
    return render_table(rows)


def se_study(profile: Profile, run_dir: str | os.PathLike, seeds: int | None = None, seed: int | None = None,
             progress: bool = False) -> dict[str, ArmRuns]:
    """The same search (soft reward at T) in the space with squeeze-excitation and in the space without it."""
    target, _ = target_ms(profile)
    arms = [soft_arm("with_se", "SE in the space", target),
            Arm("without_se", "no SE in the space", {"reward": {"name": "mnas_soft", "target_ms": target},
                                                     "benchmark": {"space": {"se": False}}})]
    return run_arms(profile, arms, Path(run_dir) / "se_study", seeds, seed, progress)


def reward_ablation(profile: Profile, run_dir: str | os.PathLike, seeds: int | None = None, seed: int | None = None,
                    progress: bool = False) -> dict[str, ArmRuns]:
    """Table 5's reward half: accuracy alone against the multi-objective (soft) reward, same space and budget."""
    target, _ = target_ms(profile)
    arms = [Arm("single_objective", "single-objective (accuracy)", {"reward": {"name": "accuracy"}}),
            soft_arm("multi_objective", "multi-objective (soft)", target)]
    return run_arms(profile, arms, Path(run_dir) / "reward_ablation", seeds, seed, progress)


def best_models(runs: dict[str, ArmRuns], within_ms: float | None = None) -> pd.DataFrame:
    """Each arm's best-reward model per seed, summarised: accuracy, latency, and how many seeds found one."""
    rows = []
    for arm_runs in runs.values():
        picks = arm_runs.best(within_ms)
        rows.append({"search": arm_runs.arm.label,
                     "best model: accuracy (top-1 %)": median_over_seeds([100 * p["accuracy"] if p is not None else None
                                                                    for p in picks], arm_runs.accuracy_label, "{:.2f}"),
                     "best model: latency (ms)": median_over_seeds([p["latency_ms"] if p is not None else None
                                                                    for p in picks], arm_runs.latency_label, "{:.1f}"),
                     "seeds": f"{sum(p is not None for p in picks)} of {len(picks)}"})
    return render_table(rows)


def _paired(first: ArmRuns, second: ArmRuns, measure) -> list[float | None]:
    """``measure(best of first, best of second)`` for each seed pair (the k-th seed of one arm with the k-th of the
    other; the arms' seeds differ, so each pair is two independent searches), None where one found no model."""
    return [None if a is None or b is None else float(measure(a, b)) for a, b in zip(first.best(), second.best())]


def _paired_claim(claim: str, paper_cell: Labelled, values: list[float | None], label: str, fmt: str,
                  gap: Callable[[float], float], error: NoiseFloor | None, unit: str = "") -> dict:
    """A claim on each seed pair's ``values``, ``gap(value)`` positive where it holds, judged by ``verdicts.verdict``
    against the larger of the values' seed-to-seed spread and the evidence's own ``error``."""
    return {"claim": claim, "paper": paper_cell, "ours": median_over_seeds(values, label, fmt),
            "verdict": verdict([None if v is None else gap(v) for v in values], [seed_spread(values), error], unit,
                               min_seeds=3)}


def _ratio_error(arm: ArmRuns) -> NoiseFloor | None:
    """A latency ratio's floor: the latency model's stated relative error (its MAPE), as a share of 1."""
    floor = label_error_floor(arm.latency_label, 1.0)
    return None if floor is None else NoiseFloor(floor.value, floor.source.replace(" of 1 ms", " of the ratio"))


def _paper_ratio(table: str, slow: str, fast: str, column: str, fmt: str, difference: bool = False) -> Labelled:
    a, b = paper.value(table, slow, column), paper.value(table, fast, column)
    statuses = ", ".join(sorted({a.status, b.status}))
    return Labelled(a.value - b.value if difference else a.value / b.value, f"computed from paper ({statuses})",
                    fmt)


def reward_claims(runs: dict[str, ArmRuns]) -> pd.DataFrame:
    """Table 5's reward finding in this space: the multi-objective reward finds a much faster best model than
    accuracy alone, at a small accuracy cost (the paper measured it in the cell-based space: 183 vs 100 ms,
    74.0 vs 72.0 %)."""
    single, multi = runs["single_objective"], runs["multi_objective"]
    table, slow, fast = "table5_ablation", "Single-objective, Cell-based (NASNet)", "Multi-objective, Cell-based"
    return render_table([
        _paired_claim("multi-objective reward: faster best model than accuracy alone",
                      _paper_ratio(table, slow, fast, "latency_ms", "{:.2f}x"),
                      _paired(single, multi, lambda a, b: a["latency_ms"] / b["latency_ms"]),
                      f"computed from {multi.latency_label}", "{:.2f}x", lambda ratio: ratio - 1,
                      _ratio_error(multi)),
        _paired_claim("accuracy alone: the more accurate best model (the multi-objective reward's cost, points)",
                      _paper_ratio(table, slow, fast, "top1", "{:+.1f}", difference=True),
                      _paired(single, multi, lambda a, b: 100 * (a["accuracy"] - b["accuracy"])),
                      f"computed from {multi.accuracy_label}", "{:+.2f}", lambda gain: gain,
                      label_error_floor(multi.accuracy_label), " points"),
    ])


def se_claims(runs: dict[str, ArmRuns], same_latency: float = 0.10) -> pd.DataFrame:
    """Table 2's finding in this space: with SE in the space the search finds a more accurate best model (A1 75.2 %
    against B1 74.5 %) at about the same latency (78 against 77 ms; "about": within ``same_latency``)."""
    with_se, without = runs["with_se"], runs["without_se"]
    table = "table2_se"
    return render_table([
        _paired_claim("SE in the space: a more accurate best model (points)",
                      _paper_ratio(table, "MnasNet-A1", "MnasNet-B1", "top1", "{:+.1f}", difference=True),
                      _paired(with_se, without, lambda a, b: 100 * (a["accuracy"] - b["accuracy"])),
                      f"computed from {with_se.accuracy_label}", "{:+.2f}", lambda gain: gain,
                      label_error_floor(with_se.accuracy_label), " points"),
        _paired_claim(f"at about the same latency (ratio within {1 - same_latency:g}-{1 + same_latency:g})",
                      _paper_ratio(table, "MnasNet-A1", "MnasNet-B1", "latency_ms", "{:.2f}x"),
                      _paired(with_se, without, lambda a, b: a["latency_ms"] / b["latency_ms"]),
                      f"computed from {with_se.latency_label}", "{:.2f}x",
                      lambda ratio: same_latency - abs(ratio - 1), _ratio_error(with_se)),
    ])


def scaled_references(space) -> dict[str, object]:
    """EfficientNet-B0 and its uniform scale-downs inside the space (the space has no width multiplier): fewer
    layers per block (depth x0.67 and x0.34, at least one) and expansion 4 instead of 6, alone and combined."""
    from dataclasses import replace

    b0 = space.efficientnet_b0()

    def scaled(depth: float, expansion: int | None, name: str):
        blocks = tuple(replace(b, repeats=max(1, round(b.repeats * depth)),
                               expand_ratio=b.expand_ratio if expansion is None or b.expand_ratio == 1 else expansion)
                       for b in b0.blocks)
        return replace(b0, blocks=blocks, name=name)

    return {"EfficientNet-B0": b0, "B0, expansion 4": scaled(1.0, 4, "b0-e4"),
            "B0, depth x0.67": scaled(0.67, None, "b0-d0.67"), "B0, depth x0.34": scaled(0.34, None, "b0-d0.34"),
            "B0, depth x0.34, expansion 4": scaled(0.34, 4, "b0-d0.34-e4")}


def search_again(profile: Profile, run_dir: str | os.PathLike, seeds: int | None = None, seed: int | None = None,
                 progress: bool = False) -> tuple[dict[str, ArmRuns], pd.DataFrame, float]:
    """Table 4 in this space: a search whose T is the latency of the smallest scaled reference, beside the scaled
    references themselves; returns the runs, the references' table and T.

    The search uses the hard reward (alpha = 0, beta = -1): with alpha = beta the soft reward is
    ``ACC * LAT**w * T**-w``, so T only rescales every reward by one factor and the search (whose advantages are
    normalised) samples exactly what it samples at any other T. A search that targets a latency needs a reward
    that changes at T; the paper does not say which it used for its 22 ms search.
    """
    space, evaluator = search_space(profile), make_evaluator(profile)
    latency = make_latency(profile.latency, deployment_options(profile))
    references = scaled_references(space)
    rows = []
    for label, arch in references.items():
        record = evaluator.benchmark.record(arch)
        rows.append({"model": label, "accuracy (top-1 %)": Labelled(100 * record.accuracy, record.provenance,
                                                                   "{:.2f}"),
                     "latency (ms)": latency(arch), "_ms": latency(arch).value, "_acc": record.accuracy})
    table = pd.DataFrame(rows)
    target = float(table["_ms"].min())  # unrounded, so the reference that sets T meets it
    arm = Arm("search_again", f"search again at T = {target:.1f} ms (hard)",
              {"reward": {"name": "mnas_hard", "target_ms": target}})
    runs = run_arms(profile, [arm], Path(run_dir) / "search_again", seeds, seed, progress)
    return runs, table, target


def search_again_claims(runs: dict[str, ArmRuns], references: pd.DataFrame, target: float) -> pd.DataFrame:
    """Does searching again beat scaling down? Per seed: the best model within T against the most accurate scaled
    reference within T; and whether the best-reward model meets T at all."""
    arm = runs["search_again"]
    fitting = references[references["_ms"] <= target]
    if fitting.empty:
        raise ValueError(f"no scaled reference meets T = {target:.1f} ms; T must be one of their latencies")
    best_reference = fitting.loc[fitting["_acc"].idxmax()]
    bar = float(best_reference["_acc"])
    within = arm.best(within_ms=target)
    overall = arm.best()
    return render_table([
        {"claim (paper V)": "a new search finds a more accurate model than scaling down, at the same latency",
         "ours": median_over_seeds([100 * p["accuracy"] if p is not None else None for p in within], arm.accuracy_label,
                         "{:.2f}"),
         "scaled-down reference": best_reference["accuracy (top-1 %)"],
         "verdict": verdict([None if p is None else 100 * (p["accuracy"] - bar) for p in within],
                            [seed_spread([100 * p["accuracy"] for p in within if p is not None]),
                             label_error_floor(arm.accuracy_label)], " points", min_seeds=3)},
        {"claim (paper V)": "the search's best-reward model meets the target",
         "ours": median_over_seeds([p["latency_ms"] if p is not None else None for p in overall], arm.latency_label,
                                   "{:.1f}"),
         "scaled-down reference": Labelled(target, "T (computed)", "{:.1f}"),
         "verdict": verdict([None if p is None else target - p["latency_ms"] for p in overall],
                            [label_error_floor(arm.latency_label, target)], " ms", min_seeds=3)},
    ])


def references_table(references: pd.DataFrame) -> pd.DataFrame:
    """The scaled references of ``search_again`` for display."""
    return render_table(references.drop(columns=["_ms", "_acc"]))
