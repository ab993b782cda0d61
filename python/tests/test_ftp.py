"""`ubx_ftp_server` with a module: a real FTP login and retrieves."""

import ftplib
import hashlib

from helpers import echo_off, ftp_op, ftp_profile


def test_the_server_takes_its_own_login(ubx_ftp_server):
    ubx_ftp_server.put("hello.txt", b"hello, module\n")
    with ftplib.FTP() as ftp:
        ftp.connect(ubx_ftp_server.host, ubx_ftp_server.port, timeout=10)
        ftp.login(ubx_ftp_server.user, ubx_ftp_server.password)
        assert ftp.nlst() == ["hello.txt"]
        ftp.storbinary("STOR up.bin", __import__("io").BytesIO(b"up"))
    assert (ubx_ftp_server.folder / "up.bin").read_bytes() == b"up"


def test_the_module_retrieves_into_its_file_system(ubx_module, ubx_ftp_server):
    ubx_ftp_server.put("readme.txt", b"hello\n")
    module = ubx_module(transports=("tcp",))
    echo_off(module.terminal)
    ftp_profile(module.terminal, ubx_ftp_server)
    ftp_op(module.terminal, "AT+UFTPC=1", 1, 1)
    ftp_op(module.terminal, 'AT+UFTPC=4,"readme.txt","r.txt"', 4, 1)
    assert module.command('AT+URDFILE="r.txt"') == b'\r\n+URDFILE: "r.txt",6,"hello\n"\r\nOK\r\n'
    ftp_op(module.terminal, 'AT+UFTPC=4,"missing","m.txt"', 4, 0)
    assert module.command("AT+UFTPER") == b"\r\n+UFTPER: 0,550\r\n\r\nOK\r\n"
    ftp_op(module.terminal, "AT+UFTPC=0", 0, 1)


def test_a_direct_link_retrieve_over_the_tcp_terminal(ubx_module, ubx_ftp_server):
    firmware = bytes((i * 2654435761 >> 24) & 0xFF for i in range(200_000))
    ubx_ftp_server.put("fw/firmware.bin", firmware)
    module = ubx_module(transports=("tcp",))
    terminal = module.connect()
    echo_off(terminal)
    ftp_profile(terminal, ubx_ftp_server)
    ftp_op(terminal, "AT+UFTPC=1", 1, 1)
    terminal.send('AT+UFTPC=6,"fw/firmware.bin"')
    terminal.expect(b"\r\nCONNECT\r\n", timeout=10)
    # The file's bytes, exactly, then the module leaves data mode by itself.
    received = terminal.expect(firmware, timeout=30)
    assert hashlib.md5(received).digest() == hashlib.md5(firmware).digest()
    terminal.expect(b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 6,1\r\n", timeout=10)
