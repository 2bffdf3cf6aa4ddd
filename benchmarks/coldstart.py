"""Cold start: the time to import each handler module, as Lambda does, against ``import boto3``.

Lambda's init phase imports ``app`` (``Handler: app.lambda_handler``) with the function's code
directory first on ``sys.path`` and the layer (``/opt/python``) after it, in an environment
holding the template's ``Globals`` variables and the function's own. Each measurement is a
fresh ``python -I -c`` that sets ``sys.path`` the same way (``functions/<name>`` then
``layers/stopsms``) and times ``import app`` with ``time.perf_counter``; the environment is
the template's (parameters at their defaults, resources by logical ID: nothing is called at
import time) plus what Lambda sets: ``LAMBDA_TASK_ROOT``, ``AWS_LAMBDA_FUNCTION_NAME``,
region and credentials. With ``LAMBDA_TASK_ROOT`` set, Powertools' ``Tracer`` is enabled and
patches the AWS SDK for X-Ray, as it does with the template's ``Tracing: Active``.

The baseline is ``import boto3`` in the same kind of process (the AWS SDK the runtime ships):
each handler is reported as the ratio of its median over boto3's median, runs of every target
interleaved so that the machine's noise spreads over all of them. A second reference, the
floor, imports the libraries every handler needs for its first message and nothing of StopSMS
(``coldstart_libraries.py``): a handler's ratio to it is what StopSMS's own code costs. For
the slowest handler, three more runs under ``-X importtime`` show where the time goes
(medians): the 10 modules of
largest cumulative import time, and the 10 top-level packages of largest own time (summed
over their modules: what each package itself costs, whoever imports it first). ``-X
importtime`` slows imports down a little, so those figures are larger than the timed ones.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path

from benchmarks.figures import Figure, print_table

SECTION = "Cold start"
ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "layers" / "stopsms"
RUNS = 7
QUICK_RUNS = 1
QUICK_HANDLER = "campaign"  # quick: this handler only, and no -X importtime run
TARGET = 1.5  # handler import / boto3 import
LIBRARIES = "libraries every handler needs"  # benchmarks/coldstart_libraries.py
TOP = 10
IMPORTTIME_RUNS = 3
REGION = "eu-west-3"
ACCOUNT = "123456789012"
TIMEOUT_S = 120

_TIMED = """
import sys, time
sys.path[0:0] = {path!r}
started = time.perf_counter()
import {module}
print(time.perf_counter() - started)
"""
_IMPORTTIME = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)\s*$")


def functions() -> dict[str, str]:
    """Function directory name -> logical ID, for every function of the template."""
    from stopsms.emulator import template

    found = {}
    for logical_id, properties in template.resources_of(
        template.load(), "AWS::Serverless::Function"
    ).items():
        code = Path(str(properties.get("CodeUri", "")))
        if (ROOT / code / "app.py").is_file():
            found[code.name] = logical_id
    return dict(sorted(found.items()))


def environment(logical_id: str, directory: Path) -> dict[str, str]:
    """What the function's process sees at init: Lambda's variables and the template's."""
    from stopsms.emulator import template

    document = template.load()
    parameters = document.get("Parameters", {})
    variables = dict(
        document.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    )
    own = template.resources_of(document, "AWS::Serverless::Function")[logical_id]
    variables.update(own.get("Environment", {}).get("Variables", {}))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(directory),
        "AWS_LAMBDA_FUNCTION_NAME": logical_id,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "_HANDLER": "app.lambda_handler",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }
    for name, value in variables.items():
        if isinstance(value, dict) and "Ref" in value:
            ref = value["Ref"]
            default = parameters.get(ref, {}).get("Default")
            env[name] = str(default) if default is not None else ref
        elif isinstance(value, dict) and "Fn::GetAtt" in value:
            logical, attribute = value["Fn::GetAtt"]
            env[name] = f"arn:aws:{attribute.lower()}:{REGION}:{ACCOUNT}:{logical}"
        elif isinstance(value, dict):  # a condition (Fn::If): not read at import
            env[name] = ""
        else:
            env[name] = str(value)
    return env


def targets() -> dict[str, tuple[str, list[str], dict[str, str]]]:
    """Name -> (module to import, sys.path prefix, environment); boto3 and the libraries'
    floor first."""
    found = {}
    for name, logical_id in functions().items():
        directory = ROOT / "functions" / name
        found[name] = ("app", [str(directory), str(LAYER)], environment(logical_id, directory))
    any_env = next(iter(found.values()))[2]
    libraries = ("coldstart_libraries", [str(ROOT / "benchmarks")], any_env)
    return {"boto3": ("boto3", [], any_env), LIBRARIES: libraries} | found


def run(module: str, path: list[str], env: dict[str, str], *options: str) -> tuple[float, str]:
    """One fresh interpreter importing ``module``: seconds, and what it wrote on stderr."""
    code = _TIMED.format(path=path, module=module)
    done = subprocess.run(
        [sys.executable, "-I", *options, "-c", code],
        cwd=path[0] if path else ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT_S,
    )
    if done.returncode != 0:
        raise RuntimeError(f"importing {module} from {path} failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1]), done.stderr


def import_profile(stderrs: list[str]) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """From ``-X importtime`` outputs: the top modules by cumulative µs (named with their
    nesting depth), and the top top-level packages by their modules' own µs summed; each the
    median over the outputs."""
    cumulative: dict[str, list[int]] = {}
    own: dict[str, list[int]] = {}
    for stderr in stderrs:
        package_own: Counter[str] = Counter()
        for line in stderr.splitlines():
            match = _IMPORTTIME.match(line)
            if match is None:
                continue
            self_us, cumulative_us, indent, name = match.groups()
            depth = (len(indent) - 1) // 2
            cumulative.setdefault("  " * depth + name, []).append(int(cumulative_us))
            package_own[name.split(".")[0]] += int(self_us)
        for package, us in package_own.items():
            own.setdefault(package, []).append(us)

    def top(values: dict[str, list[int]]) -> list[tuple[str, float]]:
        medians = {
            name: statistics.median(us + [0] * (len(stderrs) - len(us)))
            for name, us in values.items()
        }
        return sorted(medians.items(), key=lambda item: -item[1])[:TOP]

    return top(cumulative), top(own)


def measure(quick: bool = False) -> list[Figure]:
    runs = QUICK_RUNS if quick else RUNS
    subjects = targets()
    if quick:
        subjects = {name: subjects[name] for name in ("boto3", LIBRARIES, QUICK_HANDLER)}
    seconds: dict[str, list[float]] = {name: [] for name in subjects}
    for _ in range(runs):
        for name, (module, path, env) in subjects.items():
            seconds[name].append(run(module, path, env)[0])
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    base = medians.pop("boto3")
    floor = medians.pop(LIBRARIES)
    figures = [
        Figure(SECTION, f"import boto3 (baseline, median of {runs})", base * 1e3, "ms"),
        Figure(SECTION, f"{LIBRARIES} (floor)", floor * 1e3, "ms"),
        Figure(SECTION, f"{LIBRARIES} / import boto3", floor / base, "×"),
    ]
    for name, median in medians.items():
        ratio = median / base
        figures += [
            Figure(SECTION, f"{name}: import app", median * 1e3, "ms"),
            Figure(
                SECTION,
                f"{name}: import app / import boto3",
                ratio,
                "×",
                f"≤ {TARGET}×",
                ratio <= TARGET,
            ),
            Figure(SECTION, f"{name}: import app / floor", median / floor, "×"),
        ]
    if medians:  # the slowest handler against the libraries it cannot avoid importing
        worst = max(medians.values()) / floor
        figures.append(
            Figure(SECTION, "slowest import app / floor", worst, "×", key="coldstart_max_ratio")
        )
    if quick:
        return figures
    slowest = max(medians, key=lambda name: medians[name])
    module, path, env = subjects[slowest]
    stderrs = [run(module, path, env, "-X", "importtime")[1] for _ in range(IMPORTTIME_RUNS)]
    top, packages = import_profile(stderrs)
    how = f"median of {IMPORTTIME_RUNS} -X importtime runs"
    where = f"{SECTION}: {slowest}, top {TOP} imports by cumulative time ({how})"
    figures += [Figure(where, name, us / 1e3, "ms") for name, us in top]
    where = f"{SECTION}: {slowest}, top {TOP} packages by own import time, summed ({how})"
    figures += [Figure(where, name, us / 1e3, "ms") for name, us in packages]
    return figures


if __name__ == "__main__":
    print_table(measure(quick="--quick" in sys.argv))
