"""The search engine: the loop (``loop``), its record (``store``, ``trial``), the run directory, executors, the
profile and the parts it builds (``parts``, ``wiring``). Imports every plug-in folder, never ``report``."""
