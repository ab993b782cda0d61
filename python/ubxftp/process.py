"""Running the `ubxftp` binary: a module (`serve`), a fleet (`fleet`), an FTP server
(`ftp-server`). Each reads the lines the binary prints when it is ready, and stops it with
SIGTERM (SIGKILL after a grace period).

Outside pytest they are context managers:

    with Module.start(transports=("pty",)) as module:
        print(module.pty)                  # hand it to your firmware's host build
        module.control.link.set("lte-m")
"""

from __future__ import annotations

import os
import random
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from ubxftp._binary import find_ubxftp_bin
from ubxftp.control import Control
from ubxftp.terminal import PtyTerminal, TcpTerminal, Terminal

PathLike = Union[str, "os.PathLike[str]"]

#: How long a start may take before it is called a failure.
START_TIMEOUT = 30.0
#: How long SIGTERM is given before SIGKILL.
STOP_GRACE = 5.0


class StartError(RuntimeError):
    """The binary did not print its ready lines: its exit status and what it wrote on stderr."""


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"a fault field cannot be {type(value).__name__}: {value!r}")


def faults_toml(faults: Iterable[Mapping[str, Any]]) -> str:
    """`[[fault]]` tables (docs/FIELD.md) for `--faults`, from dicts of their fields."""
    tables = []
    for fault in faults:
        lines = ["[[fault]]"] + [f"{k} = {_toml_value(v)}" for k, v in fault.items()]
        tables.append("\n".join(lines))
    return "\n\n".join(tables) + "\n"


class _Process:
    """A `ubxftp COMMAND ...` child, its ready lines, its stderr in a log file."""

    def __init__(self, args: Sequence[str], workdir: Path, own_workdir: bool):
        self.workdir = workdir
        self._own_workdir = own_workdir
        self.log_path = workdir / "ubxftp.log"
        self.args = [find_ubxftp_bin(), *args]
        self.lines: List[str] = []
        self.returncode: Optional[int] = None
        self.exited_early = False
        self._log = open(self.log_path, "wb")
        env = dict(os.environ)
        # The control API's token file goes beside the module's other files.
        env["XDG_RUNTIME_DIR"] = str(workdir)
        env.pop("UBXFTP_CONTROL_TOKEN", None)
        self.popen = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log,
            env=env, cwd=str(workdir),
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def read_ready(self, count: int, timeout: float = START_TIMEOUT) -> List[str]:
        """Reads `count` lines from stdout, then keeps draining it in the background."""
        stdout = self.popen.stdout
        assert stdout is not None
        deadline = time.monotonic() + timeout
        buffer = b""
        with selectors.DefaultSelector() as sel:
            sel.register(stdout, selectors.EVENT_READ)
            while buffer.count(b"\n") < count:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    self._fail(f"no ready line within {timeout:g} s", buffer)
                chunk = os.read(stdout.fileno(), 4096)
                if not chunk:
                    self._fail("it exited", buffer)
                buffer += chunk
        text = buffer.decode("utf-8", "replace").splitlines()
        self.lines = [line.strip() for line in text[:count]]
        threading.Thread(target=self._drain, daemon=True).start()
        return self.lines

    def _drain(self) -> None:
        stdout = self.popen.stdout
        if stdout is not None:
            for _ in iter(lambda: stdout.read(4096), b""):
                pass

    def _fail(self, why: str, printed: bytes) -> None:
        self._terminate()
        log = self.log()
        self.cleanup()
        raise StartError(
            f"{' '.join(self.args)}: {why} (exit status {self.returncode})\n"
            f"stdout: {printed.decode('utf-8', 'replace')}\nstderr:\n{log}"
        )

    def line_with(self, prefix: str) -> Optional[str]:
        return next((l[len(prefix):] for l in self.lines if l.startswith(prefix)), None)

    def log(self) -> str:
        """What the binary wrote on stderr so far."""
        try:
            return self.log_path.read_text("utf-8", "replace")
        except OSError:
            return ""

    def stop(self) -> Optional[int]:
        """SIGTERM, then SIGKILL after STOP_GRACE seconds, and the work folder removed if it
        was made here; idempotent. Its exit status."""
        self._terminate()
        self.cleanup()
        return self.returncode

    def _terminate(self) -> None:
        if self.returncode is not None:
            return
        if self.popen.poll() is not None:
            self.exited_early = True
        else:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.returncode = self.popen.returncode
        self._log.close()
        if self.popen.stdout is not None:
            self.popen.stdout.close()

    def cleanup(self) -> None:
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _workdir(workdir: Optional[PathLike], prefix: str) -> Tuple[Path, bool]:
    if workdir is not None:
        path = Path(workdir)
        path.mkdir(parents=True, exist_ok=True)
        return path, False
    return Path(tempfile.mkdtemp(prefix=prefix)), True


def _control(proc: _Process) -> Optional[Control]:
    addr = proc.line_with("control: http://")
    token_file = proc.line_with("control token: ")
    if addr is None:
        return None
    host, _, port = addr.rpartition(":")
    token = Path(token_file).read_text().strip() if token_file else None
    return Control(host, int(port), token)


def _module_args(
    model: Optional[str], link: Optional[str], faults: Any, fs_dir: Optional[PathLike],
    seed: Optional[int], workdir: Path,
) -> List[str]:
    args: List[str] = []
    if model:
        args += ["--model", model]
    if link:
        args += ["--link", link]
    if seed is not None:
        args += ["--seed", str(seed)]
    if fs_dir is not None:
        args += ["--fs-dir", str(fs_dir)]
    if faults:
        if isinstance(faults, (str, os.PathLike)):
            args += ["--faults", str(faults)]
        else:
            path = workdir / "faults.toml"
            path.write_text(faults_toml(faults))
            args += ["--faults", str(path)]
    return args


class Module:
    """A running `ubxftp serve`: its terminals' addresses, its control API, its trace."""

    def __init__(self, proc: _Process, trace_path: Optional[Path]):
        self._proc = proc
        self.trace_path = trace_path
        self.tcp: Optional[Tuple[str, int]] = None
        tcp = next((l[len("tcp://"):] for l in proc.lines if l.startswith("tcp://")), None)
        if tcp is not None:
            host, _, port = tcp.rpartition(":")
            self.tcp = (host.strip("[]"), int(port))
        self.pty: Optional[str] = proc.line_with("pty: ")
        self.control = _control(proc)
        self._terminal: Optional[Terminal] = None
        self._opened: List[Terminal] = []

    @classmethod
    def start(
        cls,
        model: Optional[str] = None,
        link: Optional[str] = None,
        faults: Union[None, PathLike, Iterable[Mapping[str, Any]]] = None,
        baud: Optional[int] = None,
        transports: Sequence[str] = ("tcp", "pty"),
        fs_dir: Optional[PathLike] = None,
        seed: Optional[int] = None,
        trace: bool = True,
        args: Sequence[str] = (),
        workdir: Optional[PathLike] = None,
    ) -> "Module":
        """Starts `ubxftp serve` with these options and `--control 127.0.0.1:0`.

        `faults` is a `--faults` TOML file or a list of dicts with the fields of a `[[fault]]`
        table; `transports` holds `"tcp"` (a terminal per connection, on a free loopback port)
        and/or `"pty"`; `args` are more `serve` flags (`--dns`, `--route`, ...)."""
        unknown = set(transports) - {"tcp", "pty"}
        if unknown or not transports:
            raise ValueError(f"transports: 'tcp' and/or 'pty', not {sorted(unknown)}")
        work, own = _workdir(workdir, "ubxftp-module-")
        argv = ["serve", *_module_args(model, link, faults, fs_dir, seed, work)]
        trace_path = work / "trace.jsonl" if trace else None
        if trace_path is not None:
            argv += ["--trace", str(trace_path)]
        if baud is not None:
            argv += ["--baud", str(baud)]
        if "tcp" in transports:
            argv += ["--tcp", "127.0.0.1:0"]
        if "pty" in transports:
            argv += ["--pty"]
        argv += ["--control", "127.0.0.1:0", *args]
        proc = _Process(argv, work, own)
        proc.read_ready(("tcp" in transports) + ("pty" in transports) + 2)
        return cls(proc, trace_path)

    # --- terminals -----------------------------------------------------------------------------
    @property
    def tcp_address(self) -> Optional[str]:
        """`HOST:PORT` of the TCP terminal."""
        return f"{self.tcp[0]}:{self.tcp[1]}" if self.tcp else None

    def connect(self) -> TcpTerminal:
        """A new TCP connection: one more terminal of the module."""
        if self.tcp is None:
            raise RuntimeError("this module has no TCP terminal (transports=...)")
        terminal = TcpTerminal(*self.tcp)
        self._opened.append(terminal)
        return terminal

    def open_pty(self) -> PtyTerminal:
        """The module's PTY, opened raw."""
        if self.pty is None:
            raise RuntimeError("this module has no PTY (transports=...)")
        terminal = PtyTerminal(self.pty)
        self._opened.append(terminal)
        return terminal

    @property
    def terminal(self) -> Terminal:
        """The default terminal: a TCP connection if the module has TCP, else its PTY; opened
        at first use and kept."""
        if self._terminal is None:
            self._terminal = self.connect() if self.tcp else self.open_pty()
        return self._terminal

    def send(self, line: Any) -> None:
        self.terminal.send(line)

    def send_raw(self, data: Any) -> None:
        self.terminal.send_raw(data)

    def expect(self, data: Any, timeout: float = 2.0) -> bytes:
        return self.terminal.expect(data, timeout)

    def expect_re(self, pattern: Any, timeout: float = 2.0):
        return self.terminal.expect_re(pattern, timeout)

    def quiet(self, duration: float) -> None:
        self.terminal.quiet(duration)

    def command(self, line: Any, timeout: float = 10.0) -> bytes:
        return self.terminal.command(line, timeout)

    # --- the process ---------------------------------------------------------------------------
    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def workdir(self) -> Path:
        return self._proc.workdir

    @property
    def log_path(self) -> Path:
        return self._proc.log_path

    def log(self) -> str:
        """What `ubxftp serve` wrote on stderr (warnings; `RUST_LOG=info` for more)."""
        return self._proc.log()

    @property
    def exited_early(self) -> bool:
        """Whether the process had ended before it was stopped."""
        return self._proc.exited_early

    def stop(self) -> Optional[int]:
        """Closes the terminals and stops the module (idempotent); its exit status."""
        for terminal in self._opened:
            terminal.close()
        return self._proc.stop()

    def __enter__(self) -> "Module":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


#: Fleet ports are drawn from here: below test-servers' FTP port blocks (20000-32767) and the
#: kernel's ephemeral range (32768-60999), so nothing else hands them out meanwhile.
FLEET_PORTS = (10000, 19999)


class Fleet:
    """A running `ubxftp fleet --tcp 127.0.0.1:BASE`: module `i` on port `BASE + i`."""

    def __init__(self, proc: _Process, host: str, base: int, count: int):
        self._proc = proc
        self.host = host
        self.base = base
        self.count = count
        self.ports = [base + i for i in range(count)]
        self.control = _control(proc)
        self._opened: List[Terminal] = []

    @classmethod
    def start(
        cls,
        count: int = 3,
        base_port: Optional[int] = None,
        model: Optional[str] = None,
        link: Optional[str] = None,
        link_mix: Optional[str] = None,
        faults: Union[None, PathLike, Iterable[Mapping[str, Any]]] = None,
        fs_dir: Optional[PathLike] = None,
        seed: Optional[int] = None,
        args: Sequence[str] = (),
        workdir: Optional[PathLike] = None,
    ) -> "Fleet":
        """Starts `ubxftp fleet --count COUNT --tcp 127.0.0.1:BASE --control 127.0.0.1:0`.
        Without `base_port`, a free run of ports is drawn (and drawn again if one was taken)."""
        work, own = _workdir(workdir, "ubxftp-fleet-")
        common = ["fleet", "--count", str(count)]
        common += _module_args(model, link, faults, fs_dir, seed, work)
        if link_mix:
            common += ["--link-mix", link_mix]
        tries = 1 if base_port is not None else 8
        for attempt in range(tries):
            base = base_port or random.randint(FLEET_PORTS[0], FLEET_PORTS[1] - count)
            argv = [*common, "--tcp", f"127.0.0.1:{base}", "--control", "127.0.0.1:0", *args]
            last = attempt == tries - 1
            proc = _Process(argv, work, own and last)
            try:
                proc.read_ready(3)
            except StartError as e:
                if not last and "--tcp: port" in str(e):
                    continue  # a port of the run was taken: draw another run
                if own:
                    shutil.rmtree(work, ignore_errors=True)
                raise
            proc._own_workdir = own
            return cls(proc, "127.0.0.1", base, count)
        raise AssertionError("unreachable")

    def address(self, index: int) -> Tuple[str, int]:
        return (self.host, self.ports[index])

    def connect(self, index: int) -> TcpTerminal:
        """A terminal of module `index`."""
        terminal = TcpTerminal(self.host, self.ports[index])
        self._opened.append(terminal)
        return terminal

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def log_path(self) -> Path:
        return self._proc.log_path

    def log(self) -> str:
        return self._proc.log()

    @property
    def exited_early(self) -> bool:
        return self._proc.exited_early

    def stop(self) -> Optional[int]:
        for terminal in self._opened:
            terminal.close()
        return self._proc.stop()

    def __enter__(self) -> "Fleet":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class FtpServer:
    """A running `ubxftp ftp-server`: libunftp on loopback serving `folder`."""

    def __init__(self, proc: _Process):
        self._proc = proc
        first = proc.lines[0]
        if not first.startswith("ftp://"):
            raise StartError(f"ftp-server printed {proc.lines!r}")
        host, _, port = first[len("ftp://"):].rpartition(":")
        self.host = host.strip("[]")
        self.port = int(port)
        self.user = proc.line_with("user: ") or ""
        self.password = proc.line_with("password: ") or ""
        self.folder = Path(proc.line_with("folder: ") or "")

    @classmethod
    def start(cls, workdir: Optional[PathLike] = None) -> "FtpServer":
        work, own = _workdir(workdir, "ubxftp-ftp-")
        proc = _Process(["ftp-server"], work, own)
        proc.read_ready(4)
        return cls(proc)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def put(self, name: str, data: Union[bytes, str]) -> Path:
        """Writes `folder/name` (parent folders made): a file the server serves."""
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        return path

    def log(self) -> str:
        return self._proc.log()

    def stop(self) -> Optional[int]:
        return self._proc.stop()

    def __enter__(self) -> "FtpServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
