"""`python -m narratives ...` is the same as the `narratives` command."""

import sys

from narratives.cli import main

sys.exit(main())
