"""`python -m seqlang` runs the command line where pip's script folder is not on PATH."""

import sys

from .cli import main

sys.exit(main())
