"""Latency providers: one interface for measured (host TFLite, Pixel over adb) and predicted latencies.

``get_provider(name, **options).latency(model)`` returns a ``LatencyResult`` whose provenance (and unit) says how
the number was obtained; ``latency.base.PROVIDERS`` lists the built-in providers, ``register_provider`` adds one.
"""
from mnaslib.latency.adb import AdbError, AdbPixelProvider, BenchmarkOutput, parse_benchmark_output
from mnaslib.latency.base import LatencyProvider, LatencyResult, get_provider, provider_names, register_provider
from mnaslib.latency.host import HostTFLiteProvider, measure_tflite
from mnaslib.latency.tflite import ConversionError, check_flatbuffer, to_tflite

__all__ = [
    "AdbError", "AdbPixelProvider", "BenchmarkOutput", "ConversionError", "HostTFLiteProvider", "LatencyProvider",
    "LatencyResult", "check_flatbuffer", "get_provider", "measure_tflite", "parse_benchmark_output",
    "provider_names", "register_provider", "to_tflite",
]
