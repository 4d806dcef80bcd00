"""`bench.run --profile`: py-spy records gunicorn's process tree while wrk drives a workload,
once as a flame graph and once as collapsed stacks, which `summarise` turns into text: the
functions with the most samples, inclusive and self, and each library's share."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
PY_SPY = Path(sys.executable).parent / "py-spy"
SAMPLES_PER_SECOND = 250
SITE_PACKAGES = "/site-packages/"
STANDARD_LIBRARY = sysconfig.get_paths()["stdlib"] + "/"
# The libraries a sample is charged to, by top-level package; any other package is "other".
LIBRARIES = {
    "django": "django",
    "oauthlib": "oauthlib",
    "oauth2_provider": "oauth2_provider",
    "psycopg": "psycopg",
    "psycopg_binary": "psycopg",
    "redis": "redis",
    "jwt": "jwt/cryptography",
    "jwcrypto": "jwt/cryptography",
    "cryptography": "jwt/cryptography",
    "gunicorn": "gunicorn",
}
OUR_CODE = "our code"
OTHER = "other"
# py-spy's raw frames: "function (path:line)"; with --function the line is the function's first.
FRAME = re.compile(r"^(?P<function>.*) \((?P<path>.+):(?P<line>\d+)\)$")
# Django calls the view, decorators and all, from here. The frames above it (gunicorn's loop,
# Django's handler and middleware chain) are on nearly every sample: ranked, they would fill
# the inclusive list and say nothing.
VIEW_CALLER = "BaseHandler._get_response (django/core/handlers/base.py:"


@dataclass(frozen=True)
class Frame:
    name: str
    # None for the standard library and anything else outside a package: a sample spent there
    # is charged to the library that called it.
    library: str | None


def shorten(path: str) -> str:
    if SITE_PACKAGES in path:
        return path.split(SITE_PACKAGES, 1)[1]
    for prefix in (f"{PROJECT}/", STANDARD_LIBRARY):
        if path.startswith(prefix):
            return path.removeprefix(prefix)
    return path


def library(path: str) -> str | None:
    if SITE_PACKAGES in path:
        package = path.split(SITE_PACKAGES, 1)[1].split("/", 1)[0].removesuffix(".py")
        return LIBRARIES.get(package, OTHER)
    if path.startswith(f"{PROJECT}/"):
        return OUR_CODE
    return None


def parse_frame(text: str) -> Frame | None:
    """A function's frame, or None for the process frame --subprocesses puts at each stack's root."""
    match = FRAME.match(text)
    if match is None or text.startswith("process "):
        return None
    path = match["path"]
    return Frame(name=f"{match['function']} ({shorten(path)}:{match['line']})", library=library(path))


def summarise(
    collapsed: str,
    title: str,
    cpu_seconds: float,
    unreadable: int | None,
    inclusive_rows: int = 25,
    self_rows: int = 15,
) -> str:
    """The text summary of py-spy's raw output (`frame;frame;... count` lines, outermost frame
    first), recorded with --full-filenames and --function while gunicorn used `cpu_seconds`;
    `unreadable`: the samples py-spy dropped, as it reported them."""
    samples = in_view = 0
    inclusive: Counter[str] = Counter()
    innermost: Counter[str] = Counter()
    libraries: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = [frame for frame in map(parse_frame, stack.split(";")) if frame]
        samples += count
        view = next((index for index, frame in enumerate(frames) if frame.name.startswith(VIEW_CALLER)), None)
        if view is not None:
            in_view += count
            # Once per stack: a function on it twice (recursion) is still one sample spent in it.
            for name in {frame.name for frame in frames[view + 1 :]}:
                inclusive[name] += count
        if frames:
            innermost[frames[-1].name] += count
        charged = next((frame.library for frame in reversed(frames) if frame.library), OTHER)
        libraries[charged] += count
    if not samples:
        return f"{title}: no samples\n"

    def share(count: int) -> str:
        return f"{count / samples:6.1%}"

    dropped = "" if unreadable is None else f"; {unreadable:,} more py-spy could not read"
    lines = [
        f"{title}: {samples:,} samples of gunicorn's processes at {SAMPLES_PER_SECOND}/s, on CPU only{dropped}; "
        f"by /proc they used {cpu_seconds:.2f} CPU s ({cpu_seconds * SAMPLES_PER_SECOND:,.0f} samples' worth)",
        "By the innermost library on the stack (standard-library frames count for their caller):",
        "  " + " · ".join(f"{name} {count / samples:.1%}" for name, count in libraries.most_common()),
        f"Inclusive, from URL resolution into the view ({in_view / samples:.1%} of the samples; "
        "each function once per stack):",
        *(f"  {share(count)}  {name}" for name, count in inclusive.most_common(inclusive_rows)),
        "Self (samples with the function innermost):",
        *(f"  {share(count)}  {name}" for name, count in innermost.most_common(self_rows)),
    ]
    return "\n".join(lines) + "\n"


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@dataclass
class Recording:
    """What py-spy said it did, once the recording has ended."""

    unreadable: int | None = None


@contextmanager
def recording(pid: int, output: Path, output_format: str) -> Iterator[Recording]:
    """py-spy samples the process and its children from the moment it has attached until the
    block ends, then writes `output`. On-CPU stacks only (py-spy's default), read without
    stopping the processes (--nonblocking): stopping them with ptrace 250 times a second
    interrupts their waits (the arbiter's select, a worker's on PostgreSQL or a new
    connection) and py-spy then counts the waiting thread as running, some 6 % of an idle
    process's time and a sixth of a busy server's samples. A stack that changes while it is
    read is dropped instead, which py-spy reports as an error."""
    command = [
        str(PY_SPY),
        "record",
        "--pid",
        str(pid),
        "--subprocesses",
        "--nonblocking",
        "--rate",
        str(SAMPLES_PER_SECOND),
        "--function",
        "--format",
        output_format,
        "--output",
        str(output),
    ]
    if output_format == "raw":
        # Whole paths tell a package from the standard library and from the project.
        command.append("--full-filenames")
    report = Recording()
    with tempfile.NamedTemporaryFile("w", prefix="py-spy-", suffix=".log") as log:
        spy = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        said = Path(log.name)
        try:
            deadline = time.monotonic() + 30
            while "Sampling process" not in said.read_text():
                if spy.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"py-spy did not start: {said.read_text()}")
                time.sleep(0.1)
            yield report
        finally:
            # Ctrl-C: py-spy stops sampling and writes its output.
            spy.send_signal(signal.SIGINT)
            try:
                spy.wait(timeout=60)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
        if spy.returncode != 0 or not output.exists():
            raise RuntimeError(f"py-spy failed ({spy.returncode}): {said.read_text()}")
        counts = re.search(r"Samples: \d+ Errors: (\d+)", said.read_text())
        report.unreadable = int(counts[1]) if counts else None
