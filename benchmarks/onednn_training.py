"""What does switching TensorFlow's oneDNN custom ops off cost a proxy child? Training time with TF_ENABLE_ONEDNN_OPTS
0 against 1, side by side.

``mnaslib.quiet`` turns the oneDNN custom ops off by default (``TF_ENABLE_ONEDNN_OPTS=0``), because they are the source
of the log lines no user should have to read past ("oneDNN custom operations are on", "oneDNN supports DT_INT32 only
on platforms with AVX-512"). This script measures what that choice costs: each repetition trains the same child
(MnasNet-A1 at the profile's proxy task, one thread, as a process-pool worker does) once per setting in a fresh
process, alternating the order, and prints the fit's wall seconds and the process's CPU seconds per setting (CPU
time is the steadier of the two on a shared machine), their median ratios and the final losses.

    MNAS_DATA_DIR=/path/to/datasets python benchmarks/onednn_training.py --profile laptop --repeats 3

(the laptop profile trains on CIFAR-10, which mnaslib reads from ``MNAS_DATA_DIR``; ``--profile ci`` uses the
Fashion-MNIST subset shipped in data/, but its children are too small to say much.)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from mnaslib.reproduce import machine_description

CHILD = """
import json, sys, time
from mnaslib import zoo
from mnaslib.profile import load_profile
from mnaslib.train import ProxyTask, set_threads, train_child
from mnaslib.worker import proxy_datasets

set_threads(1, 1)
task = ProxyTask.from_dict(load_profile(sys.argv[1]).proxy)
train_ds, val_ds, info = proxy_datasets(task)
cpu = time.process_time()
result = train_child(zoo.reference("mnasnet-a1"), train_ds, val_ds, task, num_classes=int(info.num_classes))
print(json.dumps({"train_seconds": result.train_seconds, "cpu_seconds": time.process_time() - cpu,
                  "final_loss": result.final_loss, "proxy": task.describe()}))
"""


def train_once(profile: str, onednn: str) -> dict:
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn}
    done = subprocess.run([sys.executable, "-c", CHILD, profile], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="laptop")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"0": [], "1": []}
    for repeat in range(args.repeats):
        for onednn in ("0", "1") if repeat % 2 == 0 else ("1", "0"):
            runs[onednn].append(train_once(args.profile, onednn))
    print(f"machine: {machine_description()}")
    print(f"profile {args.profile}: MnasNet-A1 child, {runs['0'][0]['proxy']}, 1 thread, {args.repeats} runs each")
    medians = {}
    for onednn, results in runs.items():
        wall, cpu, loss = ([r[key] for r in results] for key in ("train_seconds", "cpu_seconds", "final_loss"))
        medians[onednn] = statistics.median(wall), statistics.median(cpu)
        print(f"TF_ENABLE_ONEDNN_OPTS={onednn}: fit wall seconds {', '.join(f'{s:.1f}' for s in wall)}; process CPU "
              f"seconds (build, fit, evaluate) {', '.join(f'{s:.1f}' for s in cpu)}; final losses "
              f"{', '.join(f'{v:.4f}' for v in loss)}   [measured]")
    print(f"median ratio oneDNN off / on: fit wall {medians['0'][0] / medians['1'][0]:.2f}, "
          f"process CPU {medians['0'][1] / medians['1'][1]:.2f}   [measured]")


if __name__ == "__main__":
    main()
