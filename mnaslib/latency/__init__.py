"""Latency providers: one interface for measured (host TFLite, Pixel over adb) and predicted latencies.

``get_provider(name, **options).latency(model)`` returns a ``LatencyResult`` whose provenance says how the number
was obtained. Registered here: ``host-tflite`` (``HostTFLiteProvider``) and ``pixel-adb`` (``AdbPixelProvider``);
cost models register themselves with ``register_provider``.
"""
from mnaslib.latency.adb import AdbError, AdbPixelProvider, BenchmarkOutput, parse_benchmark_output
from mnaslib.latency.base import LatencyProvider, LatencyResult, get_provider, provider_names, register_provider
from mnaslib.latency.host import HostTFLiteProvider, measure_tflite
from mnaslib.latency.tflite import ConversionError, check_flatbuffer, to_tflite

register_provider(HostTFLiteProvider.name, HostTFLiteProvider)
register_provider(AdbPixelProvider.name, AdbPixelProvider)

__all__ = [
    "AdbError", "AdbPixelProvider", "BenchmarkOutput", "ConversionError", "HostTFLiteProvider", "LatencyProvider",
    "LatencyResult", "check_flatbuffer", "get_provider", "measure_tflite", "parse_benchmark_output",
    "provider_names", "register_provider", "to_tflite",
]
