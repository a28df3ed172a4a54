"""Cheap, picklable evaluators and latency functions for testing the search loop without training."""
import os
import time
from dataclasses import dataclass

from mnaslib.evaluation.jobs import ChildMetrics, Job
from mnaslib.labels import Labelled
from mnaslib.evaluation.train import ChildFailed


@dataclass(frozen=True)
class ToyEvaluator:
    """Accuracy from the architecture's tokens; a regular-conv first block with kernel 3 'diverges', a second block
    of depthwise-separable convs with kernel 5 gives a NaN accuracy."""

    def describe(self) -> str:
        return "proxy (toy: tokens)"

    def check(self) -> None:
        return None

    def data_source(self) -> dict:
        return {"dataset": "toy"}

    def __call__(self, job: Job) -> ChildMetrics:
        delay = float(os.environ.get("TOY_DELAY", "0"))
        if delay:
            time.sleep(delay)
        blocks = getattr(job.arch, "blocks", None)  # the failure rules apply to MnasNet-space networks
        if blocks is not None and blocks[0].conv_op == "conv" and blocks[0].kernel == 3:
            raise ChildFailed("diverged", "training loss became non-finite (toy)")
        if blocks is not None and blocks[1].conv_op == "dconv" and blocks[1].kernel == 5:
            return ChildMetrics(float("nan"), self.describe())
        score = int(job.arch.arch_id[:8], 16) / 16 ** 8  # any space: a fixed number per architecture
        return ChildMetrics(0.5 + 0.5 * score, self.describe(), params=1000 + int(job.arch.arch_id[:3], 16),
                            extra={"seed_seen": job.seed})


toy_evaluate = ToyEvaluator()


def toy_latency(arch) -> Labelled:
    return Labelled(20.0 + 2.0 * arch.num_layers, "computed (toy: layers)")
