"""Keras model -> TFLite flatbuffer, with a guard against conversions that would measure the wrong thing.

Conversion path (checked with Keras 3.15 + TensorFlow 2.21): the model's inference call (``training=False``) is
exported through ``keras.export.ExportArchive`` with a *fixed batch-1* input signature, and that SavedModel goes
through ``tf.lite.TFLiteConverter.from_saved_model``. This is the path ``TFLiteConverter.from_keras_model`` itself
takes for Keras 3 models, except that the batch dimension is pinned to 1, the way the paper measured, instead of
being left dynamic.

The pitfall this module guards: converting a ``tf.function`` concrete function *with* its trackable object keeps
the weights as resource variables (``VAR_HANDLE`` / ``READ_VARIABLE`` ops). The file is then tiny (about 190 KB for
MobileNetV2 instead of 13.9 MB) and a benchmark of it times variable reads rather than the network as shipped.
``check_flatbuffer`` therefore requires about 4 bytes per parameter for float32 (MobileNetV2: 3.93) and about 1 for
int8, and rejects any variable ops outright.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Literal, Sequence

import numpy as np

from mnaslib.quiet import tensorflow_info_silenced

if TYPE_CHECKING:
    import keras

Quantization = Literal["float32", "int8"]
QUANTIZATIONS: tuple[str, ...] = ("float32", "int8")
# Lower bounds on flatbuffer bytes per Keras parameter. Batch-norm folding removes up to 3 of every 4 BN parameters,
# so a real float32 network lands a little under 4 bytes/param (MobileNetV2: 3.93) and tiny ones above it (file
# overhead); int8 stores weights in 1 byte plus int32 biases and per-channel scales. The failure mode we catch sits
# far below these bounds (MobileNetV2 with weights left as variables: 0.05 bytes/param).
MIN_BYTES_PER_PARAM: dict[str, float] = {"float32": 3.0, "int8": 0.75}
_VARIABLE_OPS = frozenset({"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE"})

RepresentativeDataset = Callable[[], Iterable[Sequence[np.ndarray] | np.ndarray]]


class ConversionError(RuntimeError):
    """The TFLite conversion failed or produced a flatbuffer that does not hold the network's weights."""


def to_tflite(model: "keras.Model", *, quantization: Quantization = "float32",
              representative_dataset: RepresentativeDataset | None = None,
              cache_dir: str | Path | None = None) -> bytes:
    """Convert ``model`` to a batch-1 TFLite flatbuffer and check that it really contains the weights.

    ``quantization='int8'`` is full-integer post-training quantisation (int8 kernels and int8 input/output), which
    needs ``representative_dataset``: a callable yielding input samples (an array, or a list of arrays for
    multi-input models), each with a leading batch dimension of 1. With ``cache_dir`` a float32 conversion is
    stored there under a hash of the model's config and weights and reused next time; int8 results are not cached
    because they also depend on the calibration data, which cannot be hashed without consuming it.
    """
    _check_quantization(quantization, representative_dataset)
    cached = None
    if cache_dir is not None and quantization == "float32":
        cached = Path(cache_dir) / f"{model_fingerprint(model, quantization)}.tflite"
        if cached.is_file():
            flatbuffer = cached.read_bytes()
            check_flatbuffer(flatbuffer, model.count_params(), quantization)
            return flatbuffer
    flatbuffer = _convert(model, quantization, representative_dataset)
    check_flatbuffer(flatbuffer, model.count_params(), quantization)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".tflite.partial")
        partial.write_bytes(flatbuffer)
        partial.replace(cached)  # atomic: a concurrent reader never sees half a file
    return flatbuffer


def fast_tflite(model: "keras.Model") -> bytes:
    """Batch-1 float32 TFLite flatbuffer of a single-input Keras model through a frozen concrete function.

    The function is traced and converted with ``TFLiteConverter.from_concrete_functions`` *without* a trackable
    object, which freezes the weights into constants: several times faster than :func:`to_tflite` (SavedModel
    export; ``docs/architecture.md``, "Measured costs"), with the same operators and flatbuffer size up to signature
    metadata (checked in the tests); every flatbuffer still passes :func:`check_flatbuffer`. TensorFlow 2.21 calls
    this frozen path deprecated (its warning is silenced here); if a later version drops it, this fails loudly and
    ``to_tflite`` is the slower replacement.
    """
    import tensorflow as tf

    if len(model.inputs) != 1:
        raise ValueError(f"fast_tflite converts single-input models, {model.name!r} has {len(model.inputs)} inputs; "
                         "use mnaslib.latency.tflite.to_tflite")
    tensor = model.inputs[0]
    spec = tf.TensorSpec((1, *tuple(tensor.shape)[1:]), tensor.dtype)
    function = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)  # the frozen path logs a deprecation warning per conversion (see module doc)
    try:
        flatbuffer = tf.lite.TFLiteConverter.from_concrete_functions([function]).convert()
    finally:
        absl.setLevel(level)
    check_flatbuffer(flatbuffer, model.count_params())
    return flatbuffer


def model_fingerprint(model: "keras.Model", quantization: Quantization = "float32") -> str:
    """A hex digest of the model's architecture, weights, input shapes and the conversion settings.

    Weights are included so that two differently trained copies of one architecture never share a cache entry;
    hashing even MobileNetV2's 14 MB of weights takes milliseconds. The TensorFlow version is included because a
    different converter may emit a different (faster or slower) graph.
    """
    import tensorflow as tf

    digest = hashlib.sha256()
    config = {"config": model.get_config(), "inputs": [list(i.shape) for i in model.inputs],
              "quantization": quantization, "tensorflow": tf.__version__}
    digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    for weight in model.weights:
        value = np.ascontiguousarray(weight.numpy())
        digest.update(f"{weight.path}:{value.dtype}:{value.shape}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()[:32]


def read_tflite(source: str | Path | bytes) -> bytes:
    """The flatbuffer bytes of a ``.tflite`` path, or ``source`` itself when it already is bytes."""
    if isinstance(source, bytes):
        return source
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"no TFLite model at {path}; convert one with mnaslib.latency.tflite.to_tflite")
    return path.read_bytes()


def check_flatbuffer(flatbuffer: bytes, num_params: int, quantization: Quantization = "float32") -> None:
    """Raise ``ConversionError`` unless ``flatbuffer`` plausibly holds ``num_params`` weights as constants.

    Two independent checks: no variable ops (the weights were frozen into the graph), and at least
    ``MIN_BYTES_PER_PARAM[quantization]`` bytes per parameter (they are all there, at the expected precision).
    Pass ``num_params=0`` for a file whose source model is unknown: only the first check applies.
    """
    if quantization not in MIN_BYTES_PER_PARAM:
        raise ValueError(f"unknown quantization {quantization!r}; expected one of {', '.join(QUANTIZATIONS)}")
    variable_ops = sorted(flatbuffer_ops(flatbuffer) & _VARIABLE_OPS)
    if variable_ops:
        raise ConversionError(
            f"the TFLite flatbuffer keeps the weights as variables (ops {', '.join(variable_ops)}), so it would time "
            "variable reads rather than the network; convert with mnaslib.latency.tflite.to_tflite, or pass no "
            "trackable object to from_concrete_functions")
    bound = MIN_BYTES_PER_PARAM[quantization]
    if num_params > 0 and len(flatbuffer) < bound * num_params:
        raise ConversionError(
            f"the {quantization} TFLite flatbuffer is {len(flatbuffer):,} bytes for {num_params:,} parameters "
            f"({len(flatbuffer) / num_params:.2f} bytes/param, expected at least {bound}); the weights did not make "
            "it into the file, so a latency measured on it would be wrong. Convert with "
            "mnaslib.latency.tflite.to_tflite")


def flatbuffer_ops(flatbuffer: bytes) -> set[str]:
    """The operator names used by a TFLite flatbuffer (builtin names such as ``CONV_2D``; ``CUSTOM:<code>``)."""
    return set(_read(flatbuffer)[1])


def flatbuffer_op_sequence(flatbuffer: bytes) -> list[str]:
    """The main subgraph's operators in execution order, by name (one entry per executed kernel), to check what
    the converter made of a model against the op lists of :mod:`mnaslib.spaces.ops`."""
    model, names = _read(flatbuffer)
    graph = model.Subgraphs(0)
    return [names[graph.Operators(i).OpcodeIndex()] for i in range(graph.OperatorsLength())]


def _read(flatbuffer: bytes) -> tuple[object, list[str]]:
    """The flatbuffer's root ``Model`` table and the name of each entry of its operator-code table; anything that
    is not a TFLite file is a ``ConversionError``."""
    if flatbuffer[4:8] != b"TFL3":  # the schema's file_identifier
        raise ConversionError(f"not a TFLite flatbuffer ({len(flatbuffer)} bytes without the TFL3 identifier)")
    schema = _schema()
    try:
        model = schema.Model.GetRootAsModel(flatbuffer, 0)
        codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
    except Exception as error:  # the flatbuffers runtime raises assorted errors on garbage input
        raise ConversionError(f"not a TFLite flatbuffer ({len(flatbuffer)} bytes): {error}") from error
    builtin_names = {value: key for key, value in vars(schema.BuiltinOperator).items() if not key.startswith("_")}
    names = []
    for code in codes:
        # Builtin codes above 127 live only in BuiltinCode; older files fill only DeprecatedBuiltinCode.
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == schema.BuiltinOperator.CUSTOM:
            names.append(f"CUSTOM:{code.CustomCode().decode()}")
        else:
            names.append(builtin_names.get(builtin, f"BUILTIN_{builtin}"))
    return model, names


def _schema():
    """The generated TFLite schema module, from LiteRT where installed, else from TensorFlow."""
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError:
        from tensorflow.lite.python import schema_py_generated
    return schema_py_generated


def _check_quantization(quantization: str, representative_dataset: RepresentativeDataset | None) -> None:
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantization!r}; expected one of {', '.join(QUANTIZATIONS)}")
    if quantization == "int8" and representative_dataset is None:
        raise ValueError("int8 quantization needs a representative_dataset: a callable yielding batch-1 input "
                         "samples for calibration (100 or so real images is typical)")


@tensorflow_info_silenced()  # saving the SavedModel logs "INFO:tensorflow:Assets written to" twice in Jupyter
def _convert(model: "keras.Model", quantization: Quantization,
             representative_dataset: RepresentativeDataset | None) -> bytes:
    import keras
    import tensorflow as tf

    if not model.inputs:
        raise ConversionError("the model has no defined inputs; build it as a functional model or call it once on "
                              "a batch before converting")
    specs = [tf.TensorSpec((1, *tuple(t.shape)[1:]), t.dtype, name=t.name) for t in model.inputs]
    if any(dim is None for spec in specs for dim in spec.shape):
        raise ConversionError(f"the model's input shape {[tuple(s.shape) for s in specs]} has unknown dimensions "
                              "besides the batch; build it with a fixed input size (e.g. 224x224x3)")
    signature = specs if len(specs) == 1 else [specs]
    with tempfile.TemporaryDirectory(prefix="mnaslib-savedmodel-") as saved_model_dir:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint("serve", functools.partial(model.__call__, training=False), input_signature=signature)
        with contextlib.redirect_stdout(io.StringIO()):  # write_out lists every captured variable
            archive.write_out(saved_model_dir)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
        if quantization == "int8":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = _as_sample_lists(representative_dataset)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        try:
            return converter.convert()
        except Exception as error:  # the converter raises ConverterError, ValueError, RuntimeError...
            raise ConversionError(f"TFLite conversion of {model.name!r} failed: {error}") from error


def _as_sample_lists(dataset: RepresentativeDataset) -> Callable[[], Iterable[list[np.ndarray]]]:
    """Adapt a dataset yielding bare arrays to the converter's list-of-inputs convention, as float32."""
    def generator() -> Iterable[list[np.ndarray]]:
        for sample in dataset():
            arrays = list(sample) if isinstance(sample, (list, tuple)) else [sample]
            yield [np.asarray(a, dtype=np.float32) for a in arrays]
    return generator
