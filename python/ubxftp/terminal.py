"""An AT terminal of a module (a TCP connection or its PTY), with the transcript semantics of
docs/TRANSCRIPTS.md:

| transcript      | here                                   |
|-----------------|----------------------------------------|
| `> TEXT`        | `send("TEXT")` (CR added)              |
| `>> TEXT`       | `send_raw(b"TEXT")` (nothing added)    |
| `< TEXT`        | `expect(b"TEXT")` (exact bytes)        |
| `<N TEXT`       | `expect(b"TEXT", timeout=N / 1000)`    |
| `<? REGEX`      | `expect_re(rb"REGEX")` (anchored)      |
| `quiet N`       | `quiet(N / 1000)`                      |

Text is bytes; a `str` is encoded as UTF-8. Mismatches raise :class:`ExpectError` (an
`AssertionError`) showing both sides in the transcript escape syntax, so either can be pasted
back into a transcript.
"""

from __future__ import annotations

import errno
import os
import re
import select
import socket
import time
from typing import Optional, Union

Data = Union[bytes, bytearray, str]

#: The transcripts' default timeout for an expectation (2000 ms).
DEFAULT_TIMEOUT = 2.0


def _bytes(data: Data) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def escape(data: bytes) -> str:
    """`data` in the transcript escape syntax (`\\r`, `\\n`, `\\t`, `\\\\`, `\\xHH`)."""
    out = []
    for b in data:
        if b == 0x0D:
            out.append("\\r")
        elif b == 0x0A:
            out.append("\\n")
        elif b == 0x09:
            out.append("\\t")
        elif b == 0x5C:
            out.append("\\\\")
        elif 0x20 <= b <= 0x7E:
            out.append(chr(b))
        else:
            out.append(f"\\x{b:02x}")
    return "".join(out)


class ExpectError(AssertionError):
    """An expectation that was not met: what was expected, what arrived, where they differ."""

    def __init__(self, what: str, expected: str, received: bytes, offset: Optional[int]):
        self.expected = expected
        self.received = received
        self.offset = offset
        lines = [
            what,
            f"  expected: {expected}",
            f"  received: {escape(received) if received else '(nothing)'}",
        ]
        if offset is not None:
            lines.append(f"  first difference at byte {offset}")
        super().__init__("\n".join(lines))


class Terminal:
    """One AT terminal. Reads are buffered: what an expectation does not consume stays for the
    next one."""

    def __init__(self, name: str):
        self.name = name
        self._buffer = bytearray()
        self._closed = False

    # --- the transport, per kind -------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        raise NotImplementedError

    def _read(self, timeout: float) -> Optional[bytes]:
        """Bytes that arrived within `timeout` (`b""` if none), `None` at end of stream."""
        raise NotImplementedError

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> "Terminal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- sending -------------------------------------------------------------------------------
    def send(self, line: Data) -> None:
        """`> TEXT`: the line and CR (the module's S3 terminator)."""
        self._write(_bytes(line) + b"\r")

    def send_raw(self, data: Data) -> None:
        """`>> TEXT`: exactly these bytes."""
        self._write(_bytes(data))

    # --- receiving -----------------------------------------------------------------------------
    def _fill(self, deadline: float) -> bool:
        """Reads once, waiting until `deadline` at most; False at end of stream or deadline."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            chunk = self._read(left)
            if chunk is None:
                return False
            if chunk:
                self._buffer += chunk
                return True

    def expect(self, data: Data, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """`< TEXT`: the next bytes must be exactly `data`, within `timeout` seconds. Consumes
        and returns them."""
        want = _bytes(data)
        deadline = time.monotonic() + timeout
        while True:
            have = bytes(self._buffer[: len(want)])
            if not want.startswith(have):
                offset = next(i for i, (a, b) in enumerate(zip(want, have)) if a != b)
                raise ExpectError(
                    f"{self.name}: unexpected bytes", escape(want), self._take_all(), offset
                )
            if len(have) == len(want):
                del self._buffer[: len(want)]
                return have
            if not self._fill(deadline):
                got = self._take_all()
                raise ExpectError(
                    f"{self.name}: {'end of stream' if self._closed else 'timed out'} "
                    f"after {timeout:g} s",
                    escape(want),
                    got,
                    len(got),
                )

    def expect_re(
        self, pattern: Union[bytes, str, "re.Pattern[bytes]"], timeout: float = DEFAULT_TIMEOUT
    ) -> "re.Match[bytes]":
        """`<? REGEX`: the next bytes must match `pattern` (bytes, `re.DOTALL`), anchored at the
        first unread byte, within `timeout` seconds. Consumes the match and returns it."""
        if isinstance(pattern, str):
            pattern = pattern.encode("utf-8")
        regex = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern, re.DOTALL)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.match(bytes(self._buffer))
            if match:
                del self._buffer[: match.end()]
                return match
            if not self._fill(deadline):
                raise ExpectError(
                    f"{self.name}: no match within {timeout:g} s",
                    f"/{regex.pattern.decode('utf-8', 'replace')}/",
                    self._take_all(),
                    None,
                )

    def quiet(self, duration: float) -> None:
        """`quiet N`: nothing at all may arrive for `duration` seconds (nor be unread now)."""
        deadline = time.monotonic() + duration
        while not self._buffer and self._fill(deadline):
            pass
        if self._buffer:
            raise ExpectError(
                f"{self.name}: expected silence for {duration:g} s", "(nothing)",
                self._take_all(), 0,
            )

    def read_until(self, data: Data, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """Everything up to and including the first `data`, within `timeout` seconds."""
        want = _bytes(data)
        deadline = time.monotonic() + timeout
        while True:
            at = self._buffer.find(want)
            if at >= 0:
                got = bytes(self._buffer[: at + len(want)])
                del self._buffer[: at + len(want)]
                return got
            if not self._fill(deadline):
                raise ExpectError(
                    f"{self.name}: {escape(want)} did not arrive within {timeout:g} s",
                    f"... {escape(want)}", self._take_all(), None,
                )

    def command(self, line: Data, timeout: float = 10.0) -> bytes:
        """Sends `line` (CR added) and returns everything up to its final result code (`OK`,
        `ERROR`, `+CME ERROR: ...`, `+CMS ERROR: ...`, `NO CARRIER`), inclusive. Echo and URCs in
        between are part of what is returned."""
        self.send(line)
        final = re.compile(rb"(?s).*?\r\n(OK|ERROR|\+CM[ES] ERROR: [^\r\n]*|NO CARRIER)\r\n")
        return self.expect_re(final, timeout).group(0)

    def read_available(self, wait: float = 0.0) -> bytes:
        """What has arrived (waiting up to `wait` seconds for the first byte), consumed."""
        if not self._buffer:
            self._fill(time.monotonic() + wait)
        while self._fill(time.monotonic() + 0.01):
            pass
        return self._take_all()

    def _take_all(self) -> bytes:
        got = bytes(self._buffer)
        self._buffer.clear()
        return got


class TcpTerminal(Terminal):
    """A TCP connection to a module (each one is one more terminal of it)."""

    def __init__(self, host: str, port: int, connect_timeout: float = 10.0):
        super().__init__(f"tcp://{host}:{port}")
        self.sock = socket.create_connection((host, port), timeout=connect_timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(None)

    def _write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _read(self, timeout: float) -> Optional[bytes]:
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return b""
        chunk = self.sock.recv(65536)
        if not chunk:
            self._closed = True
            return None
        return chunk

    def close(self) -> None:
        if not self._closed:
            try:
                self.sock.close()
            finally:
                super().close()


class PtyTerminal(Terminal):
    """The module's pseudo-terminal (`/dev/pts/N`), opened raw."""

    def __init__(self, path: str):
        super().__init__(path)
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            import tty

            tty.setraw(self.fd)
        except Exception:  # pragma: no cover - the module already made it raw
            pass

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                select.select([], [self.fd], [], 1.0)
                continue
            view = view[n:]

    def _read(self, timeout: float) -> Optional[bytes]:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return b""
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return b""
        except OSError as e:
            if e.errno == errno.EIO:  # the module closed its end
                self._closed = True
                return None
            raise
        if not chunk:
            self._closed = True
            return None
        return chunk

    def close(self) -> None:
        if not self._closed:
            try:
                os.close(self.fd)
            finally:
                super().close()
