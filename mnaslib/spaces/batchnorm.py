"""Batch normalisation that trains with TensorFlow's fused kernel: Keras' layer, computed in one op instead of ten.

Keras 3's ``BatchNormalization`` on the TensorFlow backend computes a training step's moments and normalisation
from separate ops (mean, squared difference, mean, sub, mul, add, and their gradients, including a ``Tile`` per
reduction). On a proxy child (0.35 width, 32 px, batch 128, one thread, AMD EPYC) those ops took half of every
training step in TensorFlow's profiler; TensorFlow's ``FusedBatchNormV3`` and its gradient do the same arithmetic in
one kernel each. One step took 1.30 s before and 0.88 s after with TensorFlow's default kernels, 0.63 s and 0.40 s
with oneDNN's (``TF_ENABLE_ONEDNN_OPTS=1``, as worker processes run); ``benchmarks/child_throughput.py`` measures
whole children.

The layer is Keras' own in every other respect: the same weights, config and serialisation (registered as
``mnaslib>FusedBatchNormalization``), and its inference path is Keras' unchanged, so the TFLite files and latency
the project measures do not move. It normalises with the biased batch variance and moves ``moving_variance``
towards it, as Keras does (the fused kernel reports the unbiased one, which is rescaled back). Any case the kernel
does not cover (another backend, a mask, renorm, a channel axis that is not last, inputs that are not float32 images)
falls back to Keras' computation.
"""
from __future__ import annotations

import keras
from keras import layers


@keras.saving.register_keras_serializable(package="mnaslib")
class FusedBatchNormalization(layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` whose training step runs TensorFlow's fused batch-norm kernel."""

    def _fused_applies(self, inputs, training, mask) -> bool:
        return (bool(training) and self.trainable and mask is None and not self.renorm and self.scale
                and self.center and keras.backend.backend() == "tensorflow" and len(inputs.shape) == 4
                and self.axis in (3, -1) and keras.backend.standardize_dtype(inputs.dtype) == "float32")

    def call(self, inputs, training=None, mask=None):
        if not self._fused_applies(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        channels = self.gamma.shape[0]
        outputs, mean, unbiased_variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
            x=inputs, scale=self.gamma, offset=self.beta, mean=tf.zeros([channels]), variance=tf.ones([channels]),
            epsilon=self.epsilon, exponential_avg_factor=1.0, data_format="NHWC", is_training=True)
        count = tf.cast(tf.reduce_prod(tf.shape(inputs)[:3]), tf.float32)
        variance = unbiased_variance * (count - 1.0) / tf.maximum(count, 1.0)
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return outputs


def with_keras_batch_norm(model: keras.Model) -> keras.Model:
    """A copy of ``model`` with Keras' own ``BatchNormalization`` in place of every fused one, weights included:
    what an exported ``.keras`` file holds, so that it loads in any Keras without mnaslib."""
    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        kind = layers.BatchNormalization if isinstance(layer, FusedBatchNormalization) else type(layer)
        return kind.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy
