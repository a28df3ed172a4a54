"""Table 6 (layer diversity) on Accel-NASBench: one op everywhere against the mixed networks the soft searches find.

EfficientNet-B0's skeleton with a single MBConv op in every layer (each expansion and kernel of the space) is set
beside B0 itself (mixed by design) and each soft search's best-reward network (mixed as the search found it), every
top-1 from the benchmark's surrogate with its held-out error and the laptop predictor as a second opinion.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from mnaslib.labels import Labelled, render_table
from mnaslib.search.profile import Profile
from mnaslib.report.recipes.benchmark_searches import ArmRuns
from mnaslib.report.verdicts import NoiseFloor, median_over_seeds, not_testable, seed_spread, verdict
from mnaslib.reward import from_config as reward_from_config
from mnaslib.tabular.evaluator import load_predictor


def uniform_networks(space) -> dict[str, object]:
    """EfficientNet-B0's skeleton (its layers per block and SE) with one MBConv op everywhere, for every expansion
    and kernel of the space: the single-op networks of the paper's Table 6, in this space (which has expansion 4
    where MnasNet's has 3)."""
    from dataclasses import replace

    from mnaslib.spaces.accel import EXPANSIONS, KERNELS  # lazy: keeps TensorFlow out of this module's import

    b0 = space.efficientnet_b0()
    return {f"MBConv{e} {k}x{k} everywhere": replace(b0, name=f"b0-uniform-e{e}-k{k}",
                                                     blocks=tuple(replace(b, expand_ratio=e, kernel=k)
                                                                  for b in b0.blocks))
            for e in EXPANSIONS for k in KERNELS}


def layer_diversity(profile: Profile, soft: ArmRuns, target: float) -> pd.DataFrame:
    """Table 6's numbers on Accel-NASBench, raw: every single-op network (``uniform_networks``), EfficientNet-B0
    (mixed by design) and each soft search's best-reward network (mixed as the search found it), with the
    surrogate's top-1 (what the searches optimised), the laptop predictor's (fitted on the choosing part only, a
    second opinion with its own verdict-part error), the benchmark's own training where it trained the network,
    the Pixel-1 latency and the soft reward at ``target``."""
    space, benchmark, latency = profile.parts.space, profile.parts.evaluator.benchmark, profile.parts.latency
    predictor = load_predictor(profile.benchmark.get("path"))
    reward = reward_from_config({"name": "mnas_soft", "target_ms": target})
    networks = [(label, "single op", arch) for label, arch in uniform_networks(space).items()]
    networks.append(("EfficientNet-B0", "mixed (designed)", space.efficientnet_b0()))
    for arm_seed, pick in zip(soft.seeds, soft.best()):
        if pick is not None:
            networks.append((f"soft search, seed {arm_seed}: best reward", "mixed (searched)",
                             space.decode(list(pick["tokens"]))))
    rows = []
    for (label, kind, arch), record, predicted in zip(networks, benchmark.records([a for _, _, a in networks]),
                                                      predictor.predict([a for _, _, a in networks])):
        trained = benchmark.trained(arch)
        measured = latency(arch)
        rows.append({"network": label, "kind": kind, "ops": len({(b.expand_ratio, b.kernel) for b in arch.blocks}),
                     "surrogate": record.accuracy, "surrogate_label": record.provenance.label,
                     "predictor": float(predicted) / 100.0, "predictor_label": predictor.provenance.label,
                     "trained": trained.accuracy if trained is not None else np.nan,
                     "trained_label": trained.provenance.label if trained is not None else "",
                     "latency_ms": measured.value, "latency_label": str(measured.provenance),
                     "mult_adds": record.extra["macs"], "reward": float(reward(record.accuracy, measured.value))})
    return pd.DataFrame(rows)


def layer_diversity_table(raw: pd.DataFrame) -> pd.DataFrame:
    """``layer_diversity``'s numbers for display (7 columns), every cell labelled."""
    rows = []
    for r in raw.itertuples(index=False):
        rows.append({
            "network": r.network, "distinct ops": Labelled(r.ops, "computed"),
            "top-1 (%), surrogate": Labelled(100 * r.surrogate, r.surrogate_label, "{:.1f}"),
            "top-1 (%), predictor": Labelled(100 * r.predictor, r.predictor_label, "{:.1f}"),
            "top-1 (%), trained": (Labelled(100 * r.trained, r.trained_label, "{:.1f}") if np.isfinite(r.trained)
                                   else Labelled.missing("not among the benchmark's trained networks")),
            "latency (ms)": Labelled(r.latency_ms, r.latency_label, "{:.0f}"),
            "soft reward": Labelled(r.reward, "computed from the surrogate's top-1 and the latency", "{:.4f}"),
        })
    return render_table(rows)


def layer_diversity_claims(raw: pd.DataFrame, rmse_points: float) -> pd.DataFrame:
    """The paper's Table 6 reading, seed by seed (``verdicts.verdict``): the network a soft search finds (mixed ops)
    earns a higher soft reward than the best single-op network of the same skeleton, and is more accurate than every
    single-op network at most its latency. Noise floors: the seed-to-seed spread and the surrogate's held-out
    ``rmse_points`` (on the reward as the same relative error)."""
    uniform = raw[raw["kind"] == "single op"]
    searched = raw[raw["kind"] == "mixed (searched)"]
    best = uniform.loc[uniform["reward"].idxmax()]
    reward_gaps = [100 * g for g in searched["reward"] / best["reward"] - 1]
    accuracy_gaps = []
    for r in searched.itertuples(index=False):
        faster = uniform[uniform["latency_ms"] <= r.latency_ms]
        accuracy_gaps.append(100 * (r.surrogate - faster["surrogate"].max()) if len(faster) else None)
    error = NoiseFloor(rmse_points, f"RMSE {rmse_points:.2f}")
    relative = NoiseFloor(rmse_points / best["surrogate"], f"RMSE {rmse_points:.2f} of {100 * best['surrogate']:.1f}")
    label = f"computed from the surrogate's top-1 (held-out RMSE {rmse_points:.2f} points)"
    found = [g for g in accuracy_gaps if g is not None]
    return render_table([
        {"claim (paper V)": f"searched: higher soft reward than the best single-op "
                            f"({best['network'].replace(' everywhere', '')}; %)",
         "ours": median_over_seeds(reward_gaps, label, "{:+.1f}%"),
         "verdict": verdict(reward_gaps, [seed_spread(reward_gaps), relative], "%",
                            min_seeds=3)},
        {"claim (paper V)": "it is more accurate than every single-op network at most its latency (points)",
         "ours": median_over_seeds(accuracy_gaps, label, "{:+.2f}"),
         "verdict": (verdict(accuracy_gaps, [seed_spread(found), error], " points", min_seeds=3) if found
                     else not_testable("no single-op network is as fast as a searched one"))},
    ])
