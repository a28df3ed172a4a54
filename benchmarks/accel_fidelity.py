"""Which laptop evaluator ranks Accel-NASBench's *trained* networks? (resumable; the zero-cost part runs for minutes)

Accel-NASBench's networks (EfficientNet-B0's skeleton, each trained on ImageNet for 16 epochs) are the closest
ground truth to the MnasNet space a laptop can judge an evaluator on. Its trainings are split once and for all
(``mnaslib.tabular.accel_predictor.split``): the **verdict part** (result number a multiple of 5, 1,028 trainings)
on which nothing is fitted, tuned or chosen, and the **choosing part** (the other 4,110).

* Cheap candidates use both parts whole: the parameter count and mult-adds (the baselines to beat) and the learned
  predictors of ``accel_predictor.CANDIDATES``. They are compared on the choosing part by grouped 5-fold
  cross-validation and by fitting on two thirds of its mult-add range and judging on the other third
  (``size_extrapolation``: a MnasNet child's widths lie outside Accel-NASBench's); the chosen one is the best mean
  of those two Kendall taus among the candidates that see a network's width (through its counts), then every
  candidate, fitted on the whole choosing part, is judged once on the whole verdict part.
* Training-free scores (``mnaslib.evaluation.zerocost``) cost a Keras network each, so they are computed on seeded
  samples: ``--choosing`` networks of the choosing part (to choose among their settings and to fit their combination
  with the counts, a ridge regression) and ``--verdict`` networks of the verdict part (reported with a 95% bootstrap
  interval). Settings: the laptop evaluator's own (CIFAR-10, 32 px, 64 images, full width, stride-1 stem), 16 of
  those images, 64 Gaussian-noise images, and CIFAR-10 upsampled to 64 px (32 images).

Each network's zero-cost scores are one JSON line of ``--out`` (our scores and the result number, no benchmark
value), written as it finishes, so ``--max-seconds`` splits the work into chunks and a rerun resumes. ``--summary``
writes the aggregate numbers (no per-network value) that ``AccelPredictor``'s label quotes.

    MNAS_BENCHMARK_DIR=/path/to/benchmarks MNAS_DATA_DIR=/path/to/datasets \\
        python benchmarks/accel_fidelity.py --choosing 60 --verdict 100 --max-seconds 240
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

# name -> (image source, resolution, images); NASWOT and friends are computed for each
SETTINGS = {"cifar32x64": ("cifar10", 32, 64), "cifar32x16": ("cifar10", 32, 16), "noise32x64": ("noise", 32, 64),
            "cifar64x32": ("cifar10", 64, 32)}
LAPTOP = "cifar32x64"  # the laptop profile's NASWOT evaluator, exactly
COUNTS = "params"  # the baseline on the same samples: the parameter count, and a ridge on the counts alone
TARGET = "val_top1"


def _images(source: str, size: int, count: int) -> np.ndarray:
    if source == "noise":
        return np.random.default_rng(0).normal(size=(count, size, size, 3)).astype("float32")
    from mnaslib.evaluation.data import get_datasets
    from mnaslib.evaluation.train_loop import dataset_tensors

    train, _, _ = get_datasets("cifar10", image_size=size, batch_size=128, val_size=1000, max_train=4000, seed=0)
    images = dataset_tensors(train)[0].numpy()
    return images[np.random.default_rng(0).choice(len(images), count, replace=False)]


def score_network(arch, images: dict[str, np.ndarray], labels: np.ndarray) -> dict[str, float]:
    """Every training-free score of one network at every setting, and the seconds they took."""
    import keras

    from mnaslib.spaces.buildable import BuildOptions
    from mnaslib.evaluation.zerocost import bound_fraction, grad_norm, log_determinant, naswot_kernel, synflow

    keras.backend.clear_session()  # otherwise every network built so far slows the next one down
    scores, models = {}, {}
    for name, (_, size, count) in SETTINGS.items():
        start = time.perf_counter()
        if size not in models:
            keras.utils.set_random_seed(0)
            models[size] = arch.build(BuildOptions(input_size=size, num_classes=10, stem_stride=1, logits=True))
        kernel, units = naswot_kernel(models[size], images[name])
        logdet = log_determinant(kernel)
        scores[f"naswot@{name}"] = logdet
        scores[f"naswot_normalised@{name}"] = bound_fraction(logdet, count, units)
        scores[f"seconds_naswot@{name}"] = time.perf_counter() - start  # with the build, where it was the first
    start = time.perf_counter()
    scores[f"synflow@{LAPTOP}"] = synflow(models[32], (32, 32, 3))
    scores["seconds_synflow"] = time.perf_counter() - start
    start = time.perf_counter()
    scores[f"grad_norm@{LAPTOP}"] = grad_norm(models[32], images[LAPTOP], labels)
    scores["seconds_grad_norm"] = time.perf_counter() - start
    return scores


def zero_cost_rows(table, args) -> list[dict]:
    """Score the seeded samples (resuming from ``--out``), stopping after ``--max-seconds``."""
    from mnaslib.tabular.accel_predictor import split, table_archs
    from mnaslib.evaluation.train import set_threads

    choosing, verdict = split(table)
    picks = {"choosing": sorted(np.random.default_rng(args.seed).choice(choosing["result"], args.choosing, False)),
             "verdict": sorted(np.random.default_rng(args.seed + 1).choice(verdict["result"], args.verdict, False))}
    out = Path(args.out)
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    done = {row["result"] for row in rows}
    todo = [(part, int(r)) for part, results in picks.items() for r in results if int(r) not in done]
    if todo:
        set_threads(1, 1)
        images = {name: _images(*setting) for name, setting in SETTINGS.items()}
        labels = np.random.default_rng(0).integers(10, size=SETTINGS[LAPTOP][2])
        start = time.perf_counter()
        by_result = table.set_index("result")
        for index, (part, result) in enumerate(todo):
            if time.perf_counter() - start > args.max_seconds:
                print(f"stopped after {args.max_seconds:g} s: {len(todo) - index} networks left; run again to resume")
                break
            arch = table_archs(by_result.loc[[result]].reset_index())[0]
            row = {"result": result, "part": part, **score_network(arch, images, labels)}
            rows.append(row)
            with out.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
    wanted = {int(r) for results in picks.values() for r in results}
    return [row for row in rows if row["result"] in wanted]


def bootstrap(score: np.ndarray, target: np.ndarray, mult_adds: np.ndarray, seed: int = 0, draws: int = 500):
    """95% bootstrap intervals of Kendall overall and within terciles (networks resampled with replacement)."""
    from mnaslib.tabular.accel_predictor import rank_fidelity

    rng = np.random.default_rng(seed)
    values = np.array([list(rank_fidelity(score[i], target[i], mult_adds[i]).values())[:2]
                       for i in (rng.integers(len(target), size=len(target)) for _ in range(draws))])
    return np.nanpercentile(values, [2.5, 97.5], axis=0).T.tolist()


def cheap_candidates(table) -> dict:
    """Cross-validate, choose on the choosing part; then judge every candidate once on the verdict part."""
    from mnaslib.tabular import accel_predictor as ap

    choosing, verdict = ap.split(table)
    Xc, yc = ap.feature_matrix(ap.table_archs(choosing)), choosing[TARGET].to_numpy(float)
    Xv, yv = ap.feature_matrix(ap.table_archs(verdict)), verdict[TARGET].to_numpy(float)
    mult_adds = 10 ** Xv[:, ap.FEATURE_NAMES.index("log10_mult_adds")]
    choose, judged, seconds = {}, {}, {}
    for name in ap.CANDIDATES:
        choose[name] = {**ap.cross_validate(name, Xc, yc), **ap.size_extrapolation(name, Xc, yc)}
    sees_width = [n for n, (cols, factory) in ap.CANDIDATES.items()
                  if factory is not None and set(cols) & {"log10_params", "log10_mult_adds"}]
    chosen = max(sees_width, key=lambda n: choose[n]["kendall"] + choose[n]["kendall_outside_sizes"])
    for name in ap.CANDIDATES:
        model = ap.fit_candidate(name, Xc, yc)
        start = time.perf_counter()
        predicted = ap.predict_candidate(name, model, ap.feature_matrix(ap.table_archs(verdict)))
        seconds[name] = (time.perf_counter() - start) / len(yv)
        rmse = float(np.sqrt(np.mean((predicted - yv) ** 2))) if model is not None else float("nan")
        judged[name] = {**ap.rank_fidelity(predicted, yv, mult_adds), "rmse": rmse, "s_per_network": seconds[name]}
    return {"chosen": chosen, "choosing_cv": choose, "verdict": judged, "n_choosing": len(yc), "n_verdict": len(yv)}


def zero_cost_candidates(table, rows: list[dict]) -> dict:
    """Every zero-cost score (and its ridge combination with the counts, fitted on the choosing sample) judged on
    the verdict sample, with bootstrap intervals; the best on the choosing sample is marked."""
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mnaslib.tabular import accel_predictor as ap

    by_result = table.drop_duplicates("result").set_index("result")
    parts = {part: [r for r in rows if r["part"] == part] for part in ("choosing", "verdict")}
    data = {}
    for part, prow in parts.items():
        results = [r["result"] for r in prow]
        X = ap.feature_matrix(ap.table_archs(by_result.loc[results].reset_index()))
        data[part] = (prow, X, by_result.loc[results, TARGET].to_numpy(float))
    names = [k for k in rows[0] if "@" in k and not k.startswith("seconds_")] + [COUNTS]
    out = {}
    for name in names:
        entry = {}
        for label, combine in (("", False), ("+counts", True)):
            fitted = None
            values = {}
            for part in ("choosing", "verdict"):
                prow, X, y = data[part]
                counts = X[:, ap.columns(("log10_params", "log10_mult_adds"))]
                score = counts[:, 0] if name == COUNTS else np.array([r[name] for r in prow], float)
                score = np.where(np.isfinite(score), score, np.nan)
                features = np.column_stack([np.nan_to_num(score, nan=np.nanmin(score)), counts])
                if combine and fitted is None:
                    fitted = make_pipeline(StandardScaler(), RidgeCV()).fit(features, y)
                predicted = fitted.predict(features) if combine else np.nan_to_num(score, nan=-np.inf)
                mult_adds = 10 ** X[:, ap.FEATURE_NAMES.index("log10_mult_adds")]
                values[part] = ap.rank_fidelity(predicted, y, mult_adds)
                if part == "verdict":
                    values["interval"] = bootstrap(predicted, y, mult_adds)
            entry[label] = values
        out[name] = entry
    seconds = {k: float(np.median([r[k] for r in rows])) for k in rows[0] if k.startswith("seconds_")}
    return {"scores": out, "seconds": seconds, "n_choosing": len(parts["choosing"]),
            "n_verdict": len(parts["verdict"])}


def print_table(cheap: dict, free: dict | None) -> None:
    print(f"\nchoosing part: {cheap['n_choosing']} trainings, verdict part: {cheap['n_verdict']}; "
          f"chosen on the choosing part: {cheap['chosen']}")
    print(f"{'candidate':42s} {'CV tau':>7s} {'outside':>7s} | {'verdict tau':>11s} {'terciles':>8s} {'RMSE':>5s}")
    for name, verdict in cheap["verdict"].items():
        cv = cheap["choosing_cv"][name]
        print(f"{name:42s} {cv['kendall']:7.3f} {cv['kendall_outside_sizes']:7.3f} | {verdict['kendall']:11.3f} "
              f"{verdict['kendall_terciles']:8.3f} {verdict['rmse']:5.2f}")
    if not free:
        return
    print(f"\ntraining-free scores: {free['n_choosing']} choosing-part networks (seeded), {free['n_verdict']} "
          "verdict-part networks (seeded), 95% bootstrap intervals; median seconds "
          + ", ".join(f"{k[8:]} {v:.2f}" for k, v in free["seconds"].items()))
    for name, entry in free["scores"].items():
        for label, values in entry.items():
            (lo, hi), (tlo, thi) = values["interval"]
            print(f"{name + label:42s} choosing {values['choosing']['kendall']:6.3f} "
                  f"{values['choosing']['kendall_terciles']:6.3f} | verdict {values['verdict']['kendall']:6.3f} "
                  f"[{lo:.2f}, {hi:.2f}] terciles {values['verdict']['kendall_terciles']:6.3f} [{tlo:.2f}, {thi:.2f}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--choosing", type=int, default=60, help="zero-cost sample of the choosing part (0: none)")
    parser.add_argument("--verdict", type=int, default=100, help="zero-cost sample of the verdict part")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=float("inf"), help="stop scoring after this long")
    parser.add_argument("--out", default="outputs/accel_fidelity.jsonl", help="per-network zero-cost scores")
    parser.add_argument("--summary", default=None, help="write the aggregate numbers here (JSON)")
    args = parser.parse_args()
    from mnaslib.tabular.accel_nasbench import load_results

    table = load_results()
    free = None
    if args.choosing and args.verdict:
        os.makedirs(Path(args.out).parent, exist_ok=True)
        rows = zero_cost_rows(table, args)
        if len(rows) < args.choosing + args.verdict:
            return  # the next chunk resumes; the table needs every network scored
        free = zero_cost_candidates(table, rows)
    cheap = cheap_candidates(table)
    print_table(cheap, free)
    if args.summary:
        summary = {"benchmark": "Accel-NASBench", "split": "verdict part: result number a multiple of 5",
                   "chosen": cheap["chosen"], "verdict": cheap["verdict"], "choosing_cv": cheap["choosing_cv"],
                   "zero_cost": free}
        Path(args.summary).write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
