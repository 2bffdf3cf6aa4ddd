"""``python -m stopsms``: the operator command line."""

import sys


def _quiet_interrupt(unraisable: "sys.UnraisableHookArgs") -> None:
    """Ctrl-C landing in a callback Python runs itself (a weak reference's, while modules
    load) is "ignored" with a traceback on stderr: the interrupt is what matters, not that."""
    if not isinstance(unraisable.exc_value, KeyboardInterrupt):
        sys.__unraisablehook__(unraisable)


sys.unraisablehook = _quiet_interrupt

try:
    from stopsms.cli import main
except KeyboardInterrupt:  # Ctrl-C while the command line loads: as main says it after
    print("error: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
