"""Tabular ground truth: published benchmarks of trained networks, and a synthetic table for demonstrations.

* ``files``: locating a benchmark's data file (a path, an environment variable, or a checked download).
* ``base``: the ``TabularBenchmark`` concept shared by every data set: a search space whose networks have a
  recorded accuracy, looked up instead of trained.
* ``accel_space``, ``accel_nasbench``, ``accel_surrogate``: Accel-NASBench's EfficientNet-B0 space as ``Arch``
  networks, its 5,138 ImageNet trainings, and a surrogate of their top-1 with its held-out error.
* ``macro_space``, ``macro_network``, ``nasbench_macro``: NAS-Bench-Macro (real CIFAR-10 accuracies of 3,969
  MBConv networks): its space, its exact Keras network, and the table with the helpers a search benchmark needs.
* ``evaluator``: a benchmark as the search's evaluator (``benchmark:`` in a profile).
* ``synthetic``: a seeded table over the MnasNet space, labelled synthetic, for demonstrations only.
"""
