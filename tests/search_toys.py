"""Cheap, picklable evaluators and latency functions for testing the search loop without training."""
import math
import os
import time

from mnaslib.search import LatencyValue
from mnaslib.train import ChildFailed


def toy_evaluate(job: dict) -> dict:
    """Accuracy from the tokens; op token 0 of block 1 'diverges', op token 1 of block 2 gives a NaN accuracy."""
    delay = float(os.environ.get("TOY_DELAY", "0"))
    if delay:
        time.sleep(delay)
    tokens = job["tokens"]
    if tokens[0] == 0 and tokens[1] == 0:
        raise ChildFailed("diverged", "training loss became non-finite (toy)")
    if tokens[6] == 1 and tokens[7] == 1:
        return {"accuracy": math.nan}
    return {"accuracy": 0.5 + 0.5 * sum(t == 1 for t in tokens) / len(tokens), "params": 1000 + sum(tokens),
            "seed_seen": job["trial_seed"]}


def toy_latency(arch) -> LatencyValue:
    return LatencyValue(20.0 + 2.0 * arch.num_layers, "computed (toy: layers)")
