"""`ubx_module`: terminals over TCP and the PTY, send/expect, the factory's options."""

import json
import os
import re

import pytest

import ubxftp
from helpers import echo_off


def test_at_over_tcp_and_the_pty(ubx_module):
    module = ubx_module()
    assert module.tcp[0] == "127.0.0.1" and module.tcp[1] > 0
    assert module.pty.startswith("/dev/pts/")
    tcp = module.connect()
    tcp.send("AT")
    tcp.expect(b"AT\r\r\nOK\r\n")
    pty = module.open_pty()
    pty.send("AT+CGMI")
    pty.expect("AT+CGMI\r\r\nu-blox\r\n\r\nOK\r\n")
    # Two terminals, one module: what one sets the other sees.
    tcp.send("AT+CMEE=2")
    tcp.expect(b"AT+CMEE=2\r\r\nOK\r\n")
    tcp.quiet(0.2)
    pty.quiet(0.2)


def test_a_mismatch_shows_both_sides_escaped_and_where_they_differ(ubx_module):
    module = ubx_module(transports=("tcp",))
    module.send("AT+NOSUCH")
    with pytest.raises(ubxftp.ExpectError) as failed:
        module.expect(b"AT+NOSUCH\r\r\nOK\r\n")
    text = str(failed.value)
    assert "expected: AT+NOSUCH\\r\\r\\nOK\\r\\n" in text
    assert "received: AT+NOSUCH\\r\\r\\nERROR\\r\\n" in text
    assert "first difference at byte 12" in text
    assert failed.value.offset == 12


def test_a_timeout_says_what_arrived(ubx_module):
    module = ubx_module(transports=("tcp",))
    module.send("AT")
    with pytest.raises(ubxftp.ExpectError, match=r"timed out after 0.3 s") as failed:
        module.expect(b"AT\r\r\nOK\r\n\r\n+MORE", timeout=0.3)
    assert failed.value.received == b"AT\r\r\nOK\r\n"


def test_expect_re_and_command(ubx_module):
    module = ubx_module(transports=("pty",))
    echo_off(module.terminal)
    module.send("AT+CGSN")
    imei = module.expect_re(rb"\r\n(\d{15})\r\n\r\nOK\r\n").group(1)
    assert len(imei) == 15
    assert module.command("AT+CGMM") == b"\r\nLEXI-R10401D\r\n\r\nOK\r\n"
    assert module.command("AT+NOSUCH").endswith(b"\r\nERROR\r\n")


def test_model_and_baud(ubx_module):
    module = ubx_module(model="sara-r5", baud=115200, transports=("tcp",))
    echo_off(module.terminal)
    assert module.command("AT+CGMM") == b"\r\nSARA-R510S\r\n\r\nOK\r\n"
    assert module.command("AT+IPR?") == b"\r\n+IPR: 115200\r\n\r\nOK\r\n"


def test_the_file_system_folder_outlives_the_module(ubx_module, tmp_path):
    fs = tmp_path / "fs"
    first = ubx_module(fs_dir=fs, transports=("tcp",))
    echo_off(first.terminal)
    first.send_raw(b'AT+UDWNFILE="kept.txt",5\r\n')
    first.expect(b">")
    first.send_raw(b"hello")
    first.expect(b"\r\nOK\r\n")
    assert first.stop() == 0
    second = ubx_module(fs_dir=fs, transports=("tcp",))
    echo_off(second.terminal)
    assert second.command('AT+URDFILE="kept.txt"') == (
        b'\r\n+URDFILE: "kept.txt",5,"hello"\r\nOK\r\n'
    )


def test_the_trace_holds_every_byte_with_the_password_masked(ubx_module):
    module = ubx_module(transports=("tcp",))
    module.send('AT+UFTP=3,"hunter2"')
    module.expect(b'AT+UFTP=3,"hunter2"\r\r\nOK\r\n')
    module.stop()
    records = [json.loads(line) for line in module.trace_path.read_text().splitlines()]
    sent = "".join(r["data"] for r in records if r.get("dir") == "in")
    received = "".join(r["data"] for r in records if r.get("dir") == "out")
    assert sent == 'AT+UFTP=3,"***"\\r'
    assert received == 'AT+UFTP=3,"***"\\r\\r\\nOK\\r\\n'
    assert "hunter2" not in module.trace_path.read_text()


def test_teardown_stops_the_module_cleanly(ubx_module):
    module = ubx_module()
    assert module.stop() == 0
    with pytest.raises(ProcessLookupError):
        os.kill(module.pid, 0)
    # The token file was the module's own, and went with it.
    assert not list(module.workdir.glob("ubxftp-control-*.token"))


def test_the_control_api_needs_the_token(ubx_module):
    module = ubx_module(transports=("tcp",))
    without = ubxftp.Control(module.control.host, module.control.port, token=None)
    with pytest.raises(ubxftp.ControlError) as refused:
        without.state()
    assert refused.value.status == 401
    assert re.fullmatch(r"[0-9a-f]{64}", module.control.token)
