"""mnaslib: a reproduction of MnasNet."""
from mnaslib import quiet  # noqa: F401  first: TensorFlow's logging defaults must be set before it is imported

import sys as _sys

if "IPython" in _sys.modules:  # a notebook: its tables show footnote keys, as the report's do
    from mnaslib.labels import install_notebook_display as _install

    _install()
