"""Children evaluated per hour at a profile's proxy task on this machine (default: laptop, 2 process workers).

Runs one real search step of ``--children`` children through the configured executor and prints the throughput,
the mean training time per child and the machine it ran on.

    python benchmarks/child_throughput.py --profile laptop --children 4
"""
from __future__ import annotations

import argparse
import tempfile
import time

from mnaslib.runs import load_run
from mnaslib.reproduce import machine_description
from mnaslib.search import load_config, search_from_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="laptop")
    parser.add_argument("--children", type=int, default=4)
    args = parser.parse_args()
    config = load_config(args.profile, {"steps": 1, "batch_size": args.children})
    with tempfile.TemporaryDirectory() as run_dir:
        start = time.perf_counter()
        search_from_config(config, run_dir)
        wall = time.perf_counter() - start
        trials, _ = load_run(run_dir)
    done = trials[trials["status"] == "done"]
    print(f"machine: {machine_description()}")
    print(f"profile {args.profile}: proxy {config.proxy}, executor {config.executor}")
    print(f"{len(trials)} children ({len(done)} done) in {wall:.0f} s (incl. worker start-up) -> "
          f"{3600 * len(trials) / wall:.0f} children/hour; mean training time per child "
          f"{done['train_seconds'].mean():.0f} s")


if __name__ == "__main__":
    main()
