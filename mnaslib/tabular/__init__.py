"""Tabular ground truth: published benchmarks of trained networks, and a synthetic table for demonstrations.

* ``files``: locating a benchmark's data file (a path, an environment variable, or a checked download).
* ``base``: the ``TabularBenchmark`` concept shared by every data set: a search space whose networks have a
  recorded accuracy, looked up instead of trained.
"""
