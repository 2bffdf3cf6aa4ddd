"""``python -m stopsms``: the operator command line."""

import sys

try:
    from stopsms.cli import main
except KeyboardInterrupt:  # Ctrl-C while the command line loads: as main says it after
    print("error: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
