"""Shared test settings: quiet TensorFlow, one thread per op so tests behave on a 2-core machine."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
