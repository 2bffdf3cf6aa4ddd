"""``python -m stopsms``: the operator command line."""

import sys

from stopsms.cli import main

sys.exit(main())
