"""``python -m mnaslib.cli``: the ``mnas`` command."""
import sys

from mnaslib.cli import main

sys.exit(main())
