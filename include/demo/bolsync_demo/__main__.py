"""``python -m bolsync_demo run|up|down``."""

import sys

from bolsync_demo.cli import main

sys.exit(main())
