"""Training-free scores: what each responds to, and that scoring leaves the model as it was."""
import keras
import numpy as np
import pytest

from mnaslib.spaces.macro import MacroArch
from mnaslib.evaluation.zerocost import (SCORES, grad_norm, naswot, naswot_kernel, naswot_normalised, naswot_score,
                                         synflow, timed_scores)

RNG = np.random.default_rng(0)
IMAGES = RNG.random((16, 32, 32, 3), dtype=np.float32)
LABELS = RNG.integers(0, 10, 16)


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return MacroArch("11111111").build()


def test_naswot_is_finite_for_distinct_images_and_minus_infinity_for_copies(model):
    assert np.isfinite(naswot(model, IMAGES))
    copies = np.repeat(IMAGES[:1], 16, axis=0)  # one activation pattern: the kernel is singular
    assert naswot(model, copies) == float("-inf")


def test_synflow_puts_the_weights_back_and_grows_with_the_network(model):
    before = [w.numpy().copy() for w in model.trainable_weights]
    small = synflow(MacroArch("00000000").build(), (32, 32, 3))
    assert synflow(model, (32, 32, 3)) > small
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, model.trainable_weights))


def test_normalised_naswot_is_the_log_determinant_over_its_hadamard_bound(model):
    kernel, units = naswot_kernel(model, IMAGES)
    assert np.all(np.diag(kernel) == units)  # every image agrees with itself on all R units: det K <= R ** N
    expected = naswot(model, IMAGES) / (len(IMAGES) * np.log(units))
    assert 0 < expected < 1
    assert naswot_normalised(model, IMAGES) == pytest.approx(expected)
    assert naswot_normalised(model, np.repeat(IMAGES[:1], 16, axis=0)) == 0.0  # singular kernel: clipped to 0


def test_the_reward_scale_keeps_naswot_s_order_and_ratios():
    small, large = naswot(MacroArch("00000000").build(), IMAGES), naswot(MacroArch("22222222").build(), IMAGES)
    assert (naswot_score(small, 16) < naswot_score(large, 16)) == (small < large)
    assert naswot_score(small, 16) / naswot_score(large, 16) == pytest.approx(small / large)
    assert naswot_score(float("-inf"), 16) == 0.0 and naswot_score(1e6, 16) == 1.0  # clipped to [0, 1]


def test_grad_norm_is_positive_and_all_scores_are_reported_with_their_time(model):
    assert grad_norm(model, IMAGES, LABELS) > 0
    scores = timed_scores(model, IMAGES, LABELS)
    assert tuple(scores) == SCORES
    assert all(np.isfinite(value) and seconds > 0 for value, seconds in scores.values())


def test_a_network_without_relus_is_refused():
    linear = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no ReLU"):
        naswot(linear, np.ones((3, 4), np.float32))
