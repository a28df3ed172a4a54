"""The fused batch norm is Keras' BatchNormalization, computed faster: same outputs, gradients, moving statistics,
inference path and serialisation, and the project's children use it."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from mnaslib.spaces.batchnorm import FusedBatchNormalization
from mnaslib.spaces.mnasnet import MnasNetSpace
from mnaslib.spaces.macro import MacroArch
from mnaslib.evaluation.train import ProxyTask, build_child


def _pair(shape, momentum=0.5, **kwargs):
    """A Keras BN and a fused BN with equal non-trivial weights for inputs of ``shape``."""
    pair = (keras.layers.BatchNormalization(momentum=momentum, epsilon=1e-3, **kwargs),
            FusedBatchNormalization(momentum=momentum, epsilon=1e-3, **kwargs))
    channels = shape[kwargs.get("axis", -1)]
    for layer in pair:
        layer.build(shape)
        layer.gamma.assign(tf.random.stateless_normal([channels], [1, 2]) + 1.0)
        layer.beta.assign(tf.range(channels, dtype=tf.float32))
    return pair


def _train_step(layer, x, weights):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(y * weights)
    return [y, *tape.gradient(loss, [x, layer.gamma, layer.beta])]


def test_training_matches_keras_outputs_gradients_and_moving_statistics():
    # 2 x 2 x 2 positions per channel: the fused kernel's unbiased variance would differ from Keras' by 8/7
    x = tf.random.stateless_normal([2, 2, 2, 3], [3, 4]) * 3.0 + 1.0
    weights = tf.random.stateless_normal(x.shape, [5, 6])
    keras_bn, fused_bn = _pair(x.shape)
    for step in range(2):
        for expected, got in zip(_train_step(keras_bn, x + step, weights), _train_step(fused_bn, x + step, weights)):
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fused_bn.moving_mean, keras_bn.moving_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused_bn.moving_variance, keras_bn.moving_variance, rtol=1e-5, atol=1e-6)
    assert not np.allclose(keras_bn.moving_variance, 1.0)  # the statistics did move
    np.testing.assert_allclose(fused_bn(x, training=False), keras_bn(x, training=False), rtol=1e-5, atol=1e-5)


def test_training_step_uses_the_fused_kernel():
    layer = FusedBatchNormalization()
    x = tf.random.normal([4, 5, 5, 6])
    layer.build(x.shape)
    graph = tf.function(lambda v: layer(v, training=True)).get_concrete_function(x).graph
    assert "FusedBatchNormV3" in {op.type for op in graph.get_operations()}
    inference = tf.function(lambda v: layer(v, training=False)).get_concrete_function(x).graph
    assert "FusedBatchNormV3" not in {op.type for op in inference.get_operations()}  # Keras' own inference path


@pytest.mark.parametrize("case", ["channels_first", "matrix"])
def test_cases_the_kernel_does_not_cover_fall_back_to_keras(case):
    shape, kwargs = ([2, 3, 4, 4], {"axis": 1}) if case == "channels_first" else ([6, 3], {})
    x = tf.random.stateless_normal(shape, [7, 8])
    keras_bn, fused_bn = _pair(shape, **kwargs)
    np.testing.assert_allclose(fused_bn(x, training=True), keras_bn(x, training=True), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fused_bn.moving_variance, keras_bn.moving_variance, rtol=1e-6)


def test_a_saved_child_loads_back_with_the_layer_and_its_weights(tmp_path):
    arch = MnasNetSpace().decode(MnasNetSpace().sample(0))
    model = build_child(arch, ProxyTask(), num_classes=10)
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert bns and all(type(layer) is FusedBatchNormalization for layer in bns)
    bns[0].moving_variance.assign(tf.fill(bns[0].moving_variance.shape, 2.5))
    model.save(tmp_path / "child.keras")
    loaded = keras.models.load_model(tmp_path / "child.keras")
    assert type(loaded.get_layer(bns[0].name)) is FusedBatchNormalization
    np.testing.assert_array_equal(loaded.get_layer(bns[0].name).moving_variance, bns[0].moving_variance)
    x = tf.random.stateless_normal([2, *model.input_shape[1:]], [9, 9])
    np.testing.assert_allclose(loaded(x, training=False), model(x, training=False), rtol=1e-5, atol=1e-5)


def test_nas_bench_macro_networks_use_it_too():
    from mnaslib.spaces.buildable import BuildOptions

    model = MacroArch("01201201").build(BuildOptions(input_size=32, num_classes=10, stem_stride=1, logits=True))
    assert any(type(layer) is FusedBatchNormalization for layer in model.layers)
