"""Fan-out of S3 audiences: time and memory of the real fan-out for 10k, 100k and 1M rows.

Each audience is fanned out in a fresh child process (``--child ROWS``), so that its peak memory is
its own, by the real campaign handler (``functions/campaign/app.py``, which runs
``stopsms.fanout``): the campaign request is handled, then every continuation message the fan-out
puts on ``CampaignQueue`` is received and handled in turn, as SQS would (the Lambda context always
has time left, so slices end at ``fanout_slice_rows``, the deployment's 20,000). A baseline child
imports the same modules and sets up the same emulated account, but fans out nothing: memory is
reported as the peak of a size's child minus the baseline's.

What is real and what stands in:

* moto (``mock_aws``, in the child's own process) holds ``CampaignsTable``, ``CampaignQueue``
  and everything else the template creates, built from ``template.yaml`` like the tests do.
* ``SendMessageBatch`` to ``SendQueue`` is answered by a counting spy (:class:`SendSpy`):
  moto's queues cannot hold 1M messages (each message it stores costs O(messages queued)).
  The spy checks that every ``seq`` of ``[0, rows)`` arrives exactly once, in a bitmap (one
  bit a row, 125 KB at 1M), and answers every entry as successful. It stands in place of the
  ``send_message_batch`` call, like the 100k-row test's spy: the figures per size are the
  fan-out's own work (CSV parsing, jobs, batching, threads). One more child fans out the
  smallest size with the spy inside botocore instead (on the SQS client's ``before-send``
  event, in place of moto's handler), so that botocore validates, serialises, signs and
  parses each call as it would for real: its time over the first shows what the SDK adds per
  call (100,000 calls at 1M), which the Lambda pays too.
* The audience CSV is a file on disk, and ``GetObject`` on it is served from that file by a
  stand-in for ``clients.s3()`` (``Range: bytes=N-`` and ``If-Match`` honoured, ``ETag`` and
  ``InvalidRange`` as S3 gives them), whose ``Body`` is botocore's own ``StreamingBody`` over
  the open file. Moto's S3 is not used for it: moto answers each ranged GET by reading the
  whole object into memory and slicing it, so a 1M-row audience (26 MB) would add about twice
  its size to the child's peak (and its upload more), and each of the 50 slices would read it
  all again. Real S3 streams the body over the network, which the file-backed body mimics: the
  memory measured is the fan-out's own, and the audience's size is reported beside it.

Each child first fans out a 2,000-row warm-up audience (clients, connections, thread pool and
lazily loaded metadata created, as in a warm Lambda), then times the measured audience alone;
the 10k audience, whose run is short, is timed three times (median). Figures per
size: wall and CPU seconds, rows/s, µs/row, peak RSS over the baseline; then the peak
increase from the smallest to the largest size (flat memory) and the µs/row of the largest
over the smallest's (linearity; the machine's noise alone moves µs/row by ±30% within a run).
Peak RSS is the child's ``VmHWM``: what ``getrusage`` reports as ``ru_maxrss`` for its own
memory (``ru_maxrss`` may also hold the parent's peak, inherited across ``exec`` after
``vfork``).

Clients are patched with plain functions, never with ``mock.patch(..., return_value=...)``:
the MagicMock would record every ``clients.sqs()`` call, one per batch, and show as a leak of
about 90 bytes a row.
"""

from __future__ import annotations

import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from benchmarks.figures import Figure, print_table
from stopsms import clock
from stopsms.settings import Settings

SECTION = "Fan-out of S3 audiences"
ROOT = Path(__file__).resolve().parents[1]
SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (5_000,)
REPEATS = {10_000: 3}  # short runs are timed several times (median)
WARMUP_ROWS = 2_000
SLICE_ROWS = Settings().fanout_slice_rows  # template.yaml keeps the default
MEMORY_TARGET_MB = 128.0
FLAT_TARGET_MB = 32.0  # peak increase from the smallest to the largest audience
LINEAR_TARGET = 1.5  # µs/row at the largest size over the smallest
CHILD_TIMEOUT_S = 900
REGION = "eu-west-3"
FIRST_NAMES = ("Léa", "Zoé", "Hugo", "Chloé", "Noé", "Inès", "Jérôme", "Maëlle", "Louis", "Anaïs")
BODY = "Bonjour {first_name}, -20% sur tout le magasin avec le code {code} ce week-end chez Acme !"


# --- the child ----------------------------------------------------------------------------------


def write_audience(path: Path, rows: int) -> tuple[int, str]:
    """A CSV of ``rows`` recipients, written in blocks; its size and its S3-style ETag."""
    import hashlib

    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    blocks = (
        "".join(
            f"+336{i:08d},{FIRST_NAMES[i % len(FIRST_NAMES)]},ACME{i % 997:03d}\n"
            for i in range(start, min(rows, start + 10_000))
        ).encode()
        for start in range(0, rows, 10_000)
    )
    with path.open("wb") as handle:
        for block in itertools.chain([b"phone,first_name,code\n"], blocks):
            handle.write(block)
            digest.update(block)
            size += len(block)
    return size, f'"{digest.hexdigest()}"'


class FileS3:
    """``clients.s3()`` whose ``GetObject`` of the audiences is served from files on disk."""

    def __init__(self, real: Any, bucket: str) -> None:
        self.real = real
        self.bucket = bucket
        self.objects: dict[tuple[str, str], tuple[Path, int, str]] = {}

    def add(self, key: str, path: Path, size: int, etag: str) -> str:
        self.objects[(self.bucket, key)] = (path, size, etag)
        return f"s3://{self.bucket}/{key}"

    def get_object(self, *, Bucket: str, Key: str, **options: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError
        from botocore.response import StreamingBody

        if (Bucket, Key) not in self.objects:
            return self.real.get_object(Bucket=Bucket, Key=Key, **options)  # type: ignore[no-any-return]
        path, size, etag = self.objects[(Bucket, Key)]
        if options.get("IfMatch", etag) != etag:
            raise ClientError({"Error": {"Code": "PreconditionFailed"}}, "GetObject")
        start = int(options.get("Range", "bytes=0-").removeprefix("bytes=").rstrip("-"))
        if start >= size:
            raise ClientError({"Error": {"Code": "InvalidRange"}}, "GetObject")
        handle = path.open("rb")
        handle.seek(start)
        return {"Body": StreamingBody(handle, size - start), "ETag": etag}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class SendSpy:
    """Answers the SendMessageBatch calls to ``queue_url`` as SQS would, and counts their jobs.

    Two ways in: as ``clients.sqs()`` itself (``send_message_batch`` answered without calling
    botocore, everything else passed to the moto-backed client), or installed on the real
    client's ``before-send`` event in place of moto (:meth:`install`), after botocore has
    validated, serialised and signed the request, and before it parses the answer."""

    def __init__(self, queue_url: str, real: Any) -> None:
        import threading

        from moto.core.models import botocore_stubber

        self.moto = botocore_stubber
        self.real = real
        self.queue_url = queue_url
        self.lock = threading.Lock()
        self.seen = bytearray()
        self.capacity = 0
        self.entries = self.calls = self.duplicates = self.out_of_range = 0

    def expect(self, rows: int) -> None:
        with self.lock:
            self.seen = bytearray((rows + 7) // 8)
            self.capacity = rows
            self.entries = self.calls = self.duplicates = self.out_of_range = 0

    def record(self, entries: list[dict[str, str]]) -> dict[str, Any]:
        """Mark the jobs' ``seq`` in the bitmap; SQS's answer (every entry successful)."""
        seqs = [_seq(entry["MessageBody"]) for entry in entries]
        with self.lock:
            self.calls += 1
            self.entries += len(entries)
            for seq in seqs:
                if not 0 <= seq < self.capacity:
                    self.out_of_range += 1
                    continue
                byte, bit = divmod(seq, 8)
                if self.seen[byte] >> bit & 1:
                    self.duplicates += 1
                self.seen[byte] |= 1 << bit
        successful = [
            {"Id": e["Id"], "MessageId": e["Id"], "MD5OfMessageBody": ""} for e in entries
        ]
        return {"Successful": successful, "Failed": []}

    def missing(self) -> int:
        full = self.capacity // 8
        missing = sum(8 - byte.bit_count() for byte in self.seen[:full])
        for seq in range(full * 8, self.capacity):
            missing += not self.seen[seq // 8] >> seq % 8 & 1
        return missing

    # -- as clients.sqs() --------------------------------------------------------------------

    def send_message_batch(self, **kwargs: Any) -> Any:
        if kwargs["QueueUrl"] != self.queue_url:
            return self.real.send_message_batch(**kwargs)
        return self.record(kwargs["Entries"])

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    # -- inside botocore ---------------------------------------------------------------------

    def install(self) -> None:
        """Take the place of moto on the real client (botocore calls every ``before-send``
        handler, even after one has answered: moto would store the messages all the same)."""
        self.real.meta.events.unregister("before-send", self.moto)
        self.real.meta.events.register("before-send", self.before_send)

    def before_send(self, event_name: str, request: Any, **kwargs: Any) -> Any:
        from botocore.awsrequest import AWSResponse
        from moto.core.botocore_stubber import MockRawResponse

        payload = None
        if event_name.endswith(".SendMessageBatch"):
            payload = json.loads(request.body)
        if payload is None or payload.get("QueueUrl") != self.queue_url:
            return self.moto(event_name=event_name, request=request, **kwargs)
        answer = json.dumps(self.record(payload["Entries"]))
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "spy"}
        return AWSResponse(request.url, 200, cast(Any, headers), MockRawResponse(answer))


def _seq(body: str) -> int:
    """The ``seq`` of a SendJob body, read without decoding the whole job."""
    start = body.index('"seq":') + 6
    return int(body[start : body.index(",", start)])


def returning(value: Any) -> Callable[[], Any]:
    """A function returning ``value``: unlike a MagicMock (``return_value=``), it keeps no
    record of its calls, which would grow by one per SendMessageBatch and show as a leak."""
    return lambda: value


def peak_rss_kb() -> int:
    """The peak resident memory of this process, in KiB (VmHWM; ru_maxrss where no /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(rows: int, repeats: int, through_botocore: bool = False) -> dict[str, Any]:
    """Run in the child: fan out ``rows`` (0: the baseline) and return what was measured.

    ``through_botocore``: the spy answers inside botocore, not in place of its call."""
    import importlib.util
    import uuid
    from datetime import UTC, datetime
    from unittest import mock

    import boto3
    from moto import mock_aws

    from stopsms.aws import clients
    from stopsms.dal import campaigns, tables
    from stopsms.emulator import template
    from stopsms.settings import get_settings

    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 - moto's fake credentials
        AWS_DEFAULT_REGION=REGION,
        POWERTOOLS_TRACE_DISABLED="1",
        POWERTOOLS_SERVICE_NAME="stopsms",
        POWERTOOLS_METRICS_NAMESPACE="StopSMS",
        POWERTOOLS_LOG_LEVEL="WARNING",
    )
    spec = importlib.util.spec_from_file_location(
        "stopsms_function_campaign", ROOT / "functions" / "campaign" / "app.py"
    )
    if spec is None or spec.loader is None:
        raise ImportError("functions/campaign/app.py cannot be loaded")
    app = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = app
    spec.loader.exec_module(app)

    class Context:
        function_name = "CampaignFunction"
        memory_limit_in_mb = 512
        invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:CampaignFunction"
        aws_request_id = "00000000-0000-0000-0000-000000000000"

        def get_remaining_time_in_millis(self) -> int:
            return 900_000  # always ample: slices end at fanout_slice_rows

    def record(body: str, message_id: str) -> dict[str, Any]:
        return {
            "messageId": message_id,
            "receiptHandle": message_id,
            "body": body,
            # As SQS gives them: the fan-out orders controls by SentTimestamp.
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": str(int(time.time() * 1000)),
                "SenderId": "AIDAEXAMPLE",
                "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
            },
            "messageAttributes": {},
            "md5OfBody": "0" * 32,
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:CampaignQueue",
            "awsRegion": REGION,
        }

    def handle(records: list[dict[str, Any]]) -> None:
        response = app.lambda_handler({"Records": records}, Context())
        if response["batchItemFailures"]:
            raise RuntimeError(f"the fan-out failed: {response}")

    def fan_out(campaign_id: str, uri: str, queue_url: str, marks: list[float]) -> int:
        """The request, then every continuation until none is left; the messages handled.

        ``marks`` gets the time at the end of each handler call (one slice each)."""
        body = {
            "campaign_id": campaign_id,
            "category": "marketing",
            "brand": "acme",
            "body": BODY,
            "audience": {"s3_uri": uri},
        }
        handle([record(json.dumps(body), str(uuid.uuid4()))])
        marks.append(time.perf_counter())
        handled = 1
        sqs = aws["sqs"]
        while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
            "Messages"
        ):
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )
            handle([record(m["Body"], m["MessageId"]) for m in messages])
            marks.append(time.perf_counter())
            handled += len(messages)
        return handled

    result: dict[str, Any] = {"rows": rows}
    monday_10h_paris = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    with (
        tempfile.TemporaryDirectory(prefix="stopsms-bench-") as directory,
        mock_aws(),
        mock.patch.object(clock, "now", new=returning(monday_10h_paris)),
    ):
        aws: dict[str, Any] = {
            name: boto3.client(name, region_name=REGION)
            for name in ("sqs", "sns", "dynamodb", "s3", "secretsmanager")
        }
        stack = template.create(aws)
        os.environ.update(stack.environment(template.load(), "CampaignFunction"))
        get_settings.cache_clear()
        clients.reset()
        tables.reset_connections()
        tables.bind(get_settings())
        if rows:
            s3 = FileS3(clients.s3(), stack.buckets["AudienceBucket"])
            spy = SendSpy(stack.queues["SendQueue"], clients.sqs())
            sqs = spy
            if through_botocore:
                spy.install()
                sqs = spy.real
            with (
                mock.patch.object(clients, "s3", new=returning(s3)),
                mock.patch.object(clients, "sqs", new=returning(sqs)),
            ):
                campaign_queue = stack.queues["CampaignQueue"]
                warmup = Path(directory, "warmup.csv")
                uri = s3.add("warmup.csv", warmup, *write_audience(warmup, WARMUP_ROWS))
                spy.expect(WARMUP_ROWS)
                fan_out("warmup", uri, campaign_queue, [])
                path = Path(directory, "audience.csv")
                size, etag = write_audience(path, rows)
                uri = s3.add("audience.csv", path, size, etag)
                timings, cpu, checks = [], [], []
                marks: list[float] = []
                for run in range(repeats):
                    spy.expect(rows)
                    started, cpu_started = time.perf_counter(), time.process_time()
                    marks = [started]
                    handled = fan_out(f"bench-{run}", uri, campaign_queue, marks)
                    timings.append(time.perf_counter() - started)
                    cpu.append(time.process_time() - cpu_started)
                    campaign = campaigns.get(f"bench-{run}")
                    if campaign is None:
                        raise RuntimeError(f"campaign bench-{run} was not recorded")
                    checks.append(
                        spy.entries == rows
                        and spy.missing() == spy.duplicates == spy.out_of_range == 0
                        and campaign.status == "queued"
                        and campaign.audience == rows
                        and campaign.cursor == size
                    )
                result.update(
                    seconds=statistics.median(timings),
                    timings=timings,
                    cpu_seconds=statistics.median(cpu),
                    slice_seconds=[end - start for start, end in itertools.pairwise(marks)],
                    file_bytes=size,
                    messages_handled=handled,
                    batch_calls=spy.calls,
                    complete=all(checks),
                )
    result.update(peak_kb=peak_rss_kb(), ru_maxrss_kb=resource.getrusage(0).ru_maxrss)
    return result


# --- the parent -----------------------------------------------------------------------------------


def run_child(rows: int, repeats: int = 1, through_botocore: bool = False) -> dict[str, Any]:
    """Fan out ``rows`` in a fresh interpreter; what it measured."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        env = dict(os.environ, PYTHONPATH=f"{ROOT / 'layers' / 'stopsms'}{os.pathsep}{ROOT}")
        command = [sys.executable, "-m", "benchmarks.fanout", "--child", str(rows), str(repeats)]
        command += [out.name] + (["--botocore"] if through_botocore else [])
        subprocess.run(
            command,
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=CHILD_TIMEOUT_S,
        )
        return json.loads(Path(out.name).read_text())  # type: ignore[no-any-return]


def label(rows: int) -> str:
    return f"{rows // 1_000_000}M" if rows % 1_000_000 == 0 else f"{rows // 1000}k"


def drift(run: dict[str, Any], slice_rows: int = SLICE_ROWS) -> float:
    """Time per row of the last slices over the first ones', in one run (its own linearity:
    the same process, so little noise between processes). Full slices only, a fifth each."""
    full = run["slice_seconds"][: run["rows"] // slice_rows]
    count = max(1, len(full) // 5)
    return float(statistics.median(full[-count:]) / statistics.median(full[:count]))


def measure(quick: bool = False) -> list[Figure]:
    sizes = QUICK_SIZES if quick else SIZES
    baseline = run_child(0)
    base_mb = baseline["peak_kb"] / 1024
    figures = [Figure(SECTION, "baseline child: peak RSS (imports, moto, template)", base_mb, "MB")]
    runs = {}
    for rows in sizes:
        run = runs[rows] = run_child(rows, 1 if quick else REPEATS.get(rows, 1))
        over = run["peak_kb"] / 1024 - base_mb
        name = label(rows)
        ok = run["complete"]
        figures += [
            Figure(SECTION, f"{name}: every seq queued exactly once", float(ok), "", "1", ok),
            Figure(SECTION, f"{name}: audience file", run["file_bytes"] / 2**20, "MB"),
            Figure(SECTION, f"{name}: SendMessageBatch calls", run["batch_calls"], "calls"),
            Figure(SECTION, f"{name}: continuations (slices - 1)", run["messages_handled"] - 1, ""),
            Figure(SECTION, f"{name}: time", run["seconds"], "s"),
            Figure(SECTION, f"{name}: CPU time", run["cpu_seconds"], "s"),
            Figure(SECTION, f"{name}: rows/s", rows / run["seconds"], "rows/s"),
            Figure(SECTION, f"{name}: time per row", run["seconds"] / rows * 1e6, "µs"),
            Figure(
                SECTION,
                f"{name}: peak RSS over baseline",
                over,
                "MB",
                f"≤ {MEMORY_TARGET_MB:.0f} MB",
                over <= MEMORY_TARGET_MB,
                key="fanout_peak_mb_1m" if rows == 1_000_000 else "",
            ),
        ]
    if len(sizes) > 1:
        small, large = runs[sizes[0]], runs[sizes[-1]]
        growth = (large["peak_kb"] - small["peak_kb"]) / 1024
        ratio = (large["seconds"] / sizes[-1]) / (small["seconds"] / sizes[0])
        versus = f"{label(sizes[-1])} vs {label(sizes[0])}"
        figures += [
            Figure(
                SECTION,
                f"peak RSS increase, {versus}",
                growth,
                "MB",
                f"≤ {FLAT_TARGET_MB:.0f} MB",
                growth <= FLAT_TARGET_MB,
            ),
            Figure(
                SECTION,
                f"time per row, {versus}",
                ratio,
                "×",
                f"≤ {LINEAR_TARGET}×",
                ratio <= LINEAR_TARGET,
            ),
            Figure(
                SECTION,
                f"{label(sizes[-1])}: time per row, last fifth of slices / first fifth",
                drift(large),
                "×",
            ),
        ]
        rows = sizes[0]
        inside = run_child(rows, REPEATS.get(rows, 1), through_botocore=True)
        cost = inside["seconds"] / small["seconds"]
        figures += [
            Figure(
                SECTION,
                f"{label(rows)}, spy inside botocore: every seq once",
                float(inside["complete"]),
                "",
                "1",
                inside["complete"],
            ),
            Figure(
                SECTION,
                f"{label(rows)}, spy inside botocore: time per row",
                inside["seconds"] / rows * 1e6,
                "µs",
            ),
            Figure(
                SECTION, f"{label(rows)}, spy inside botocore vs in place of the call", cost, "×"
            ),
        ]
    return figures


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        rows, repeats, out = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
        Path(out).write_text(json.dumps(child(rows, repeats, "--botocore" in sys.argv)))
    else:
        print_table(measure(quick="--quick" in sys.argv))
