"""How well does each cheap proxy rank NAS-Bench-Macro's networks, and at what cost? (resumable; runs for an hour+)

Draws ``--networks`` distinct NAS-Bench-Macro networks (seeded, uniform over the 3,969 distinct networks), scores
each with every proxy and compares the scores with the benchmark's ``mean_acc`` (CIFAR-10 test accuracy after the
authors' 200-epoch training):

* ``trained@N``: the project's proxy trainer (``mnaslib.evaluation.train.train_child``) at the laptop profile's settings
  (one epoch, batch 128, lr 0.064 per 256, 1,000 images held out of the training split) on ``N`` CIFAR-10 training
  images, at width ``--width`` (the full-width networks train at 14-50 images/s here); the first budget is today's
  laptop child, the others multiply its training images. The score is held-out accuracy.
* ``mult_adds`` and ``params`` of the full-width network (mnaslib's exact counts).
* ``naswot``, ``naswot_normalised`` (what ``ZeroCostEvaluator`` reports), ``synflow`` and ``grad_norm`` at
  initialisation, full width, on 64 real CIFAR-10 training images (``mnaslib.evaluation.zerocost``).

Every score of a network at a seed is one line of ``--out`` (JSON lines), written as it finishes, so a killed run
resumes where it stopped. The report gives Kendall tau and Spearman rho against ``mean_acc`` over all networks and
within FLOPs terciles (mean of the three), repeatability (tau between seeds 0 and 1), the benchmark's ceiling (tau
between two of its own training runs, over all distinct networks and over this sample) and seconds per network on
this machine; ``--figure`` draws tau against seconds. The per-network file holds our scores and the keys only;
``--summary`` writes the statistics (no benchmark accuracy) for ``mnaslib.evaluation.fidelity``'s labels.

    MNAS_DATA_DIR=/path/to/datasets MNAS_BENCHMARK_DIR=/path/to/benchmarks \\
        python benchmarks/proxy_fidelity.py --networks 20 --budgets 4000 10000 20000 --workers 2

``--space mnasnet`` scores seeded MnasNet-space networks instead (trained children at the given budgets, which
should all be in ``--repeat-budgets``, and the training-free scores), where there is no ground truth: it reports each
proxy's repeatability only.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from mnaslib.seeds import image_batch_seed

TRAINED_SEEDS = (0, 1)
# The training-free scores' settings, recorded in the summary so that ``ZeroCostEvaluator`` labels match them.
ZERO_COST = {"dataset": "cifar10", "image_size": 32, "width_multiplier": 1.0, "images": 64}


def sample_keys(count: int, seed: int) -> list[str]:
    from mnaslib.spaces.macro import distinct_keys

    keys = distinct_keys()
    picked = np.random.default_rng(seed).choice(len(keys), size=count, replace=False)
    return [keys[i] for i in sorted(picked)]


def network(key: str):
    """A NAS-Bench-Macro key, or ``mnasnet-<i>``: the MnasNet-space network sampled with seed ``i``."""
    from mnaslib.spaces.mnasnet import MnasNetSpace
    from mnaslib.spaces.macro import MacroArch

    if key.startswith("mnasnet-"):
        space = MnasNetSpace()
        return space.decode(space.sample(int(key.split("-")[1])))
    return MacroArch(key)


def _full_width(key: str):
    """The network at full width for the training-free scores and counts (32 px, 10 classes, logits)."""
    from mnaslib.spaces.buildable import BuildOptions

    return network(key).build(BuildOptions(input_size=32, num_classes=10, stem_stride=1, logits=True))


def _worker_init() -> None:
    from mnaslib.evaluation.train import set_threads

    set_threads(1, 1)


def laptop_task(max_train: int):
    """The laptop profile's proxy task on ``max_train`` training images."""
    from mnaslib.search.profile import load_profile
    from mnaslib.evaluation.train import ProxyTask

    return ProxyTask.from_dict({**load_profile("laptop").proxy, "max_train": max_train})


def _cifar(max_train: int):
    from mnaslib.evaluation.worker import proxy_datasets

    task = laptop_task(max_train)
    return task, proxy_datasets(task)


def score_trained(key: str, budget: int, width: float, seed: int) -> dict:
    from dataclasses import replace

    from mnaslib.evaluation.train import ChildFailed, train_child

    task, (train_ds, val_ds, info) = _cifar(budget)
    task = replace(task, width_multiplier=width, seed=seed)
    start = time.perf_counter()
    try:
        result = train_child(network(key), train_ds, val_ds, task, num_classes=int(info.num_classes))
        score = result.accuracy
    except ChildFailed as err:
        score = None
        print(f"  {key} trained@{budget} seed {seed} failed: {err}")
    return {"key": key, "proxy": f"trained@{budget}", "seed": seed, "score": score,
            "seconds": time.perf_counter() - start, "label": f"proxy ({task.describe()})"}


def score_free(key: str, seed: int) -> list[dict]:
    import keras

    from mnaslib.spaces.counting import summarize
    from mnaslib.evaluation.train_loop import dataset_tensors
    from mnaslib.evaluation.zerocost import timed_scores

    _, (train_ds, _, _) = _cifar(4000)
    images, labels = dataset_tensors(train_ds)
    draw = np.random.default_rng(image_batch_seed(seed))  # the draw ZeroCostEvaluator makes for a trial's seed
    picked = draw.choice(int(images.shape[0]), ZERO_COST["images"], replace=False)
    x, y = images.numpy()[picked], labels.numpy()[picked]
    start = time.perf_counter()
    keras.utils.set_random_seed(seed)
    model = _full_width(key)
    built = time.perf_counter() - start
    counts = summarize(model)
    rows = [{"key": key, "proxy": "mult_adds", "seed": seed, "score": counts["mult_adds"], "seconds": built},
            {"key": key, "proxy": "params", "seed": seed, "score": counts["trainable_params"], "seconds": built}]
    for name, (value, seconds) in timed_scores(model, x, y).items():
        rows.append({"key": key, "proxy": name, "seed": seed, "score": value, "seconds": built + seconds})
    return rows


def tasks(keys: list[str], budgets: list[int], repeat_budgets: list[int]) -> list[tuple]:
    todo = [("free", key, seed) for seed in TRAINED_SEEDS for key in keys]
    for budget in budgets:
        for seed in TRAINED_SEEDS if budget in repeat_budgets else TRAINED_SEEDS[:1]:
            todo += [("trained", key, budget, seed) for key in keys]
    return todo


def _done(rows: list[dict]) -> set[tuple]:
    done = set()
    for row in rows:
        if row["proxy"].startswith("trained@"):
            done.add(("trained", row["key"], int(row["proxy"].split("@")[1]), row["seed"]))
        elif row["proxy"] == "naswot":
            done.add(("free", row["key"], row["seed"]))
    return done


def run(args: argparse.Namespace, keys: list[str]) -> list[dict]:
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()] if out.exists() else []
    todo = [t for t in tasks(keys, args.budgets, args.repeat_budgets) if t not in _done(rows)]
    print(f"{len(todo)} scorings to run ({len(rows)} rows already in {out})")
    if not todo:
        return rows
    from tqdm.auto import tqdm

    with ProcessPoolExecutor(args.workers, initializer=_worker_init) as pool, out.open("a") as sink:
        futures = [pool.submit(score_free, t[1], t[2]) if t[0] == "free" else
                   pool.submit(score_trained, t[1], t[2], args.width, t[3]) for t in todo]
        for future in tqdm(as_completed(futures), total=len(futures), desc="scorings"):
            result = future.result()
            for row in result if isinstance(result, list) else [result]:
                sink.write(json.dumps(row) + "\n")
                sink.flush()
                rows.append(row)
    return rows


def report(rows: list[dict], keys: list[str], budgets: list[int], bench) -> dict:
    import pandas as pd
    from scipy import stats

    table = pd.DataFrame(rows)
    wanted = table["proxy"].isin([f"trained@{b}" for b in budgets]) | ~table["proxy"].str.startswith("trained@")
    table = table[table["key"].isin(keys) & wanted]
    truth = pd.Series({k: bench.record(k).accuracy for k in keys})
    flops = pd.Series({k: bench.record(k).extra["flops"] for k in keys})
    terciles = pd.qcut(flops.rank(method="first"), 3, labels=False)
    run0 = pd.Series({k: bench.record(k).runs[0] for k in keys})
    run1 = pd.Series({k: bench.record(k).runs[1] for k in keys})
    ceiling_sample = float(stats.kendalltau(run0, run1).statistic)
    summary = {"networks": len(keys), "keys": keys, "ceiling_all_distinct": bench.noise_ceiling(),
               "ceiling_sample": ceiling_sample, "proxies": {}}
    for proxy, group in table.groupby("proxy", sort=False):
        by_seed = {seed: g.set_index("key")["score"].astype(float) for seed, g in group.groupby("seed")}
        first = by_seed[min(by_seed)].reindex(keys)
        ok = first.notna()
        tau = stats.kendalltau(first[ok], truth[ok]).statistic
        rho = stats.spearmanr(first[ok], truth[ok]).statistic
        within = [stats.kendalltau(first[ok & (terciles == t)], truth[ok & (terciles == t)]).statistic
                  for t in range(3)]
        entry = {"kendall": float(tau), "spearman": float(rho), "kendall_within_flops_terciles": float(np.mean(within)),
                 "kendall_terciles": [float(w) for w in within], "scored": int(ok.sum()),
                 "seconds_per_network": float(group["seconds"].median()), "label": group["label"].dropna().iloc[0]
                 if "label" in group and group["label"].notna().any() else proxy}
        if len(by_seed) > 1:
            second = by_seed[sorted(by_seed)[1]].reindex(keys)
            both = first.notna() & second.notna()
            entry["repeatability_kendall"] = float(stats.kendalltau(first[both], second[both]).statistic)
        summary["proxies"][proxy] = entry
    return summary


def repeatability(rows: list[dict], keys: list[str]) -> dict[str, float]:
    """Kendall tau between the scores of seeds 0 and 1, per proxy (no ground truth needed)."""
    import pandas as pd
    from scipy import stats

    table = pd.DataFrame(rows)
    table = table[table["key"].isin(keys)]
    result = {}
    for proxy, group in table.groupby("proxy", sort=False):
        seeds = {seed: g.set_index("key")["score"].astype(float).reindex(keys) for seed, g in group.groupby("seed")}
        if len(seeds) > 1:
            first, second = seeds[0], seeds[1]
            both = first.notna() & second.notna()
            result[proxy] = float(stats.kendalltau(first[both], second[both]).statistic)
    return result


def print_report(summary: dict, machine: str) -> None:
    print(f"\n{summary['networks']} NAS-Bench-Macro networks; against mean_acc. Machine: {machine}")
    print(f"benchmark ceiling (Kendall between its runs 0 and 1): {summary['ceiling_all_distinct']:.3f} over all "
          f"distinct networks, {summary['ceiling_sample']:.3f} over this sample")
    print(f"{'proxy':18s} {'Kendall':>8s} {'Spearman':>9s} {'within FLOPs terciles':>22s} {'repeat':>7s} "
          f"{'s/network':>10s}")
    for name, p in summary["proxies"].items():
        repeat = f"{p['repeatability_kendall']:7.3f}" if "repeatability_kendall" in p else "      -"
        print(f"{name:18s} {p['kendall']:8.3f} {p['spearman']:9.3f} {p['kendall_within_flops_terciles']:22.3f} "
              f"{repeat} {p['seconds_per_network']:10.1f}")


def figure(summary: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, p in summary["proxies"].items():
        seconds = max(p["seconds_per_network"], 1e-3)
        ax.scatter(seconds, p["kendall"], color="C0" if name.startswith("trained") else "C1")
        ax.annotate(name, (seconds, p["kendall"]), fontsize="small", xytext=(4, 3), textcoords="offset points")
    ax.axhline(summary["ceiling_sample"], color="0.5", linestyle="--",
               label=f"benchmark ceiling on this sample ({summary['ceiling_sample']:.2f})")
    ax.set_xscale("log")
    ax.set_xlabel("seconds per network on this machine [measured]")
    ax.set_ylabel("Kendall tau vs NAS-Bench-Macro mean_acc [computed]")
    ax.set_title(f"Proxy fidelity on {summary['networks']} NAS-Bench-Macro networks", fontsize="small")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"figure: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", choices=("nas-bench-macro", "mnasnet"), default="nas-bench-macro",
                        help="mnasnet: seeded MnasNet-space networks, repeatability only (no ground truth)")
    parser.add_argument("--networks", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0, help="which networks are drawn")
    parser.add_argument("--budgets", type=int, nargs="+", default=[4000, 10000, 20000, 40000],
                        help="training images of the trained proxies")
    parser.add_argument("--repeat-budgets", type=int, nargs="*", default=[4000],
                        help="budgets trained at a second seed too, for repeatability")
    parser.add_argument("--width", type=float, default=0.35)
    parser.add_argument("--workers", type=int, default=2, help="processes (one thread each)")
    parser.add_argument("--out", default="outputs/proxy_fidelity/nas-bench-macro.jsonl")
    parser.add_argument("--summary", default=None, help="write the statistics as JSON here")
    parser.add_argument("--figure", default=None, help="write the tau-vs-seconds figure here")
    parser.add_argument("--path", default=None, help="NAS-Bench-Macro's file (default: $MNAS_NASBENCH_MACRO, "
                                                     "$MNAS_BENCHMARK_DIR, the cache or a checked download)")
    args = parser.parse_args()

    from mnaslib.reproduce import machine_description
    from mnaslib.tabular.nasbench_macro import NASBenchMacro

    if args.space == "mnasnet":
        keys = [f"mnasnet-{args.seed * 1000 + i}" for i in range(args.networks)]
        rows = run(args, keys)
        print(f"\n{len(keys)} MnasNet-space networks (seeded samples); Kendall tau between seeds 0 and 1. Machine: "
              f"{machine_description()}")
        for proxy, tau in repeatability(rows, keys).items():
            print(f"  {proxy:18s} {tau:6.3f}")
        return
    bench = NASBenchMacro.load(args.path)
    keys = sample_keys(args.networks, args.seed)
    rows = run(args, keys)
    summary = report(rows, keys, args.budgets, bench)
    summary.update({"task": {**laptop_task(args.budgets[0]).to_dict(), "width_multiplier": args.width},
                    "zero_cost": ZERO_COST, "machine": machine_description(), "width": args.width,
                    "budgets": args.budgets,
                    "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "0"), "network_seed": args.seed})
    print_report(summary, summary["machine"])
    if args.summary:
        Path(args.summary).parent.mkdir(parents=True, exist_ok=True)
        Path(args.summary).write_text(json.dumps(summary, indent=1) + "\n")
    if args.figure:
        figure(summary, args.figure)


if __name__ == "__main__":
    main()
