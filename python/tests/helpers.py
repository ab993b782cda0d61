"""AT sequences the tests share."""

from __future__ import annotations

from ubxftp import FtpServer, Terminal


def echo_off(terminal: Terminal) -> None:
    terminal.send("ATE0")
    terminal.expect(b"ATE0\r\r\nOK\r\n")


def ftp_profile(terminal: Terminal, server: FtpServer) -> None:
    """The module's FTP profile pointed at `server`, passive mode (echo off)."""
    for line in (
        f'AT+UFTP=0,"{server.host}"',
        f"AT+UFTP=7,{server.port}",
        f'AT+UFTP=2,"{server.user}"',
        f'AT+UFTP=3,"{server.password}"',
        "AT+UFTP=6,1",
    ):
        terminal.send(line)
        terminal.expect(b"\r\nOK\r\n")


def ftp_op(terminal: Terminal, line: str, op: int, result: int, timeout: float = 20.0) -> None:
    """`AT+UFTPC=...`: OK at once, then `+UUFTPCR: op,result`."""
    terminal.send(line)
    terminal.expect(b"\r\nOK\r\n")
    terminal.expect(f"\r\n+UUFTPCR: {op},{result}\r\n", timeout=timeout)
