"""What a child is worth: data sets, the proxy trainer, zero-cost scores, rank fidelity, and the worker that turns a
``Job`` into ``ChildMetrics``. Imports ``spaces`` and the root, never ``search`` or ``report``."""
