"""Tabular ground truth: published benchmarks of trained networks, and a synthetic table for demonstrations.

* ``files``: locating a benchmark's data file (a path, an environment variable, or a checked download).
* ``base``: the ``TabularBenchmark`` concept shared by every data set: a search space whose networks have a
  recorded accuracy, looked up instead of trained.
* ``accel_space``, ``accel_nasbench``, ``accel_surrogate``: Accel-NASBench's EfficientNet-B0 space as ``Arch``
  networks, its 5,138 ImageNet trainings, and a surrogate of their top-1 with its held-out error.
"""
