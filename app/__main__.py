"""`python -m checkpoint_browser [PATH …]` (installed) or `python -m app` (source tree)."""

import sys

from .launch import main

sys.exit(main())
