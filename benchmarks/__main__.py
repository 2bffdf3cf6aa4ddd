"""``make bench``: every benchmark in one run, one table per section.

``python -m benchmarks [--quick] [NAME ...]`` (names: compute, coldstart, segments, fanout,
requests, imports). ``--quick`` shrinks every workload so the whole run takes seconds (a smoke
test).
"""

from __future__ import annotations

import argparse
import importlib
import time

from benchmarks.figures import Figure, print_table, summary

MODULES = ("compute", "coldstart", "segments", "fanout", "requests", "imports", "receipts")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small workloads (smoke test)")
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(MODULES))
    args = parser.parse_args()
    if unknown := set(args.names) - set(MODULES):
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    figures: list[Figure] = []
    for name in args.names or MODULES:
        started = time.monotonic()
        print(f"running {name}...", flush=True)
        figures += importlib.import_module(f"benchmarks.{name}").measure(quick=args.quick)
        print(f"   {name} took {time.monotonic() - started:.0f}s", flush=True)
    print_table(figures)
    missed = [f for f in figures if f.ok is False]
    print(f"\n{len(figures)} figures, {len(missed)} missed target(s)")
    print(summary(figures))  # the last line: one JSON object a script or a chart reads
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
