"""ubxftp: a u-blox cellular module in software, from Python.

The wheel installs the `ubxftp` binary; this package starts it and talks to it:

- :class:`Module` (`ubxftp serve`): its PTY and TCP terminal, its control API, its trace;
- :class:`Fleet` (`ubxftp fleet`): many modules, a port each;
- :class:`FtpServer` (`ubxftp ftp-server`): a real FTP server on loopback;
- :class:`Terminal`: `send` / `expect` with the transcript semantics.

With pytest, the plugin (`ubxftp.pytest_plugin`, active once the wheel is installed) gives the
fixtures `ubx_module`, `ubx_fleet` and `ubx_ftp_server`.
"""

from importlib.metadata import PackageNotFoundError, version

from ubxftp._binary import find_ubxftp_bin
from ubxftp.control import Control, ControlError
from ubxftp.process import Fleet, FtpServer, Module, StartError, faults_toml
from ubxftp.terminal import ExpectError, PtyTerminal, TcpTerminal, Terminal, escape

try:
    __version__ = version("ubxftp")
except PackageNotFoundError:  # pragma: no cover - running from the source tree
    __version__ = "0.0.0"

__all__ = [
    "Control",
    "ControlError",
    "ExpectError",
    "Fleet",
    "FtpServer",
    "Module",
    "PtyTerminal",
    "StartError",
    "TcpTerminal",
    "Terminal",
    "escape",
    "faults_toml",
    "find_ubxftp_bin",
]
