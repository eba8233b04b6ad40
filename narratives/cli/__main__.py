"""`python -m narratives.cli`: the `narratives` command without its installed script."""

import sys

from narratives.cli import main

sys.exit(main())
