"""What a network is: ``Arch`` and its block strings, the search spaces (MnasNet, NASNet cells, NAS-Bench-Macro,
Accel-NASBench), the Keras builders, and the analytic walks over an architecture (op lists, counts, size bounds).
Imports nothing above it but the root's vocabulary."""
