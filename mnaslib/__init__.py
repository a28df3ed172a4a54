"""mnaslib: a reproduction of MnasNet."""
from mnaslib import quiet  # noqa: F401  first: TensorFlow's logging defaults must be set before it is imported
