"""What a reader sees: runs read back as tables, claims and verdicts, one recipe per paper artefact, plots, the run
explorer and the teaching helpers. The top floor: nothing in the package imports it but the CLI and ``reproduce``."""
