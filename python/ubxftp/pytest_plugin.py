"""The pytest plugin of the `ubxftp` wheel (entry point `pytest11`: active once installed).

Fixtures:

- `ubx_module(model=, link=, faults=, baud=, transports=("tcp", "pty"), fs_dir=, ...)`: starts
  `ubxftp serve` and returns a :class:`ubxftp.Module`; every module a test started is stopped
  after it. When the test fails, its report carries each module's trace (the bytes of every
  terminal, last records first cut) and what the binary wrote on stderr.
- `ubx_fleet(count=3, ...)`: `ubxftp fleet --tcp 127.0.0.1:BASE`, a :class:`ubxftp.Fleet`.
- `ubx_ftp_server`: `ubxftp ftp-server`, a :class:`ubxftp.FtpServer` (libunftp on loopback:
  `host`, `port`, `user`, `password`, `folder`).

    def test_login(ubx_module, ubx_ftp_server):
        ubx_ftp_server.put("hello.txt", b"hi")
        module = ubx_module(model="sara-r5", link="lte-m")
        module.send("ATE0")
        ...
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple

import pytest

from ubxftp.process import Fleet, FtpServer, Module
from ubxftp.terminal import escape  # noqa: F401  (re-exported for users of the plugin)

#: The modules and fleets a test started, for its report.
_STARTED = pytest.StashKey[List[Any]]()

#: At most this much of a trace goes into a report (its last records); the file has it all.
TRACE_REPORT_BYTES = 64 * 1024


def _register(request: pytest.FixtureRequest, thing: Any) -> None:
    request.node.stash.setdefault(_STARTED, []).append(thing)


@pytest.fixture
def ubx_module(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., Module]:
    """A factory of modules: `ubx_module(model=None, link=None, faults=None, baud=None,
    transports=("tcp", "pty"), fs_dir=None, seed=None, trace=True, args=())`."""
    started: List[Module] = []

    def start(**options: Any) -> Module:
        workdir = tmp_path_factory.mktemp("ubx_module")
        module = Module.start(workdir=workdir, **options)
        started.append(module)
        _register(request, module)
        return module

    yield start
    for module in reversed(started):
        module.stop()


@pytest.fixture
def ubx_fleet(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., Fleet]:
    """A factory of fleets: `ubx_fleet(count=3, base_port=None, model=None, link=None,
    link_mix=None, faults=None, fs_dir=None, seed=None, args=())`."""
    started: List[Fleet] = []

    def start(count: int = 3, **options: Any) -> Fleet:
        workdir = tmp_path_factory.mktemp("ubx_fleet")
        fleet = Fleet.start(count=count, workdir=workdir, **options)
        started.append(fleet)
        _register(request, fleet)
        return fleet

    yield start
    for fleet in reversed(started):
        fleet.stop()


@pytest.fixture
def ubx_ftp_server(tmp_path_factory: pytest.TempPathFactory) -> FtpServer:
    """A real FTP server on loopback (`ubxftp ftp-server`: libunftp), stopped after the test."""
    server = FtpServer.start(workdir=tmp_path_factory.mktemp("ubx_ftp_server"))
    yield server
    server.stop()


def _trace_line(record: dict, start: Optional[int]) -> Tuple[str, Optional[int]]:
    """One record as `+SECONDS WHAT`; `start` is the first record's `unix_us` (older traces,
    whose records have no `t`)."""
    if "t" in record:
        seconds = record["t"] / 1e6
    else:
        at = record.get("unix_us", 0)
        start = at if start is None else start
        seconds = (at - start) / 1e6
    if "dir" in record and "data" in record:
        what = f"term {record.get('term')} {record.get('dir', ''):<8} {record.get('data', '')}"
    else:
        rest = {k: v for k, v in record.items() if k not in ("t", "m", "k")}
        what = f"{record.get('k', '?'):<13} {json.dumps(rest, separators=(',', ':'))}"
    return f"+{seconds:9.3f}s {what}", start


def render_trace(path: Path, limit: int = TRACE_REPORT_BYTES) -> str:
    """A `--trace` file as lines `+SECONDS term N DIR DATA` (DATA in the transcript escape
    syntax; other records as their kind and JSON fields), its last `limit` bytes at most.
    A line the module has not finished yet (held so that a password can be masked) is not in
    the file yet."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        return f"(no trace: {e})"
    cut = len(raw) > limit
    if cut:
        raw = raw[-limit:]
        raw = raw[raw.find(b"\n") + 1 :]
    lines = []
    start: Optional[int] = None
    for text in raw.decode("utf-8", "replace").splitlines():
        try:
            record = json.loads(text)
        except ValueError:
            continue
        if isinstance(record, dict):
            line, start = _trace_line(record, start)
            lines.append(line)
    head = f"(the last {limit} bytes of the trace; all of it: {path})\n" if cut else ""
    return head + ("\n".join(lines) if lines else "(empty)") + "\n"


def _attach(item: pytest.Item, report: pytest.TestReport, number: int, thing: Any) -> None:
    kind = "fleet" if isinstance(thing, Fleet) else "module"
    name = f"{kind} {number} (pid {thing.pid})"
    sections = []
    trace = getattr(thing, "trace_path", None)
    if trace is not None:
        sections.append((f"ubxftp trace: {name}: {trace}", render_trace(trace)))
        # A JUnit XML report (--junitxml) names the file: its properties are the item's.
        item.user_properties.append((f"ubxftp trace {number}", str(trace)))
    log = thing.log()
    if thing.exited_early:
        log += f"\n(the process had ended before the test's end: exit status {thing.stop()})\n"
    if log.strip():
        sections.append((f"ubxftp stderr: {name}", log))
    for title, content in sections:
        report.sections.append((title, content))
        # pytest-html shows these as links in its report.
        extras = list(getattr(report, "extras", []) or [])
        extras.append(
            {"name": title, "format_type": "text", "content": content,
             "mime_type": "text/plain", "extension": "txt"}
        )
        report.extras = extras


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when in ("setup", "call") and report.failed:
        for number, thing in enumerate(item.stash.get(_STARTED, []), start=1):
            _attach(item, report, number, thing)
