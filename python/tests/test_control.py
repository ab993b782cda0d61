"""The control client: faults (through the API and from the start), the link, the state."""

import pytest

import ubxftp
from helpers import echo_off, ftp_op, ftp_profile

REPLY_421 = {"target": "ftp-control", "action": "reply", "code": 421, "text": "Service not available"}


def _login_refused_by_the_fault(module, server):
    echo_off(module.terminal)
    ftp_profile(module.terminal, server)
    ftp_op(module.terminal, "AT+UFTPC=1", 1, 0)
    assert module.command("AT+UFTPER") == b"\r\n+UFTPER: 0,421\r\n\r\nOK\r\n"
    # It fired once: the next login gets the server's real greeting.
    ftp_op(module.terminal, "AT+UFTPC=1", 1, 1)
    (fault,) = module.control.faults.list()
    assert fault["fired"] == 1


def test_a_fault_added_through_the_api_fires(ubx_module, ubx_ftp_server):
    module = ubx_module(transports=("tcp",))
    assert module.control.faults.list() == []
    fault_id = module.control.faults.add(**REPLY_421)
    assert isinstance(fault_id, int)
    _login_refused_by_the_fault(module, ubx_ftp_server)
    module.control.faults.clear()
    assert module.control.faults.list() == []


def test_faults_from_the_start(ubx_module, ubx_ftp_server):
    module = ubx_module(transports=("tcp",), faults=[REPLY_421])
    _login_refused_by_the_fault(module, ubx_ftp_server)


def test_a_bad_fault_is_refused_with_its_field(ubx_module):
    module = ubx_module(transports=("tcp",))
    with pytest.raises(ubxftp.ControlError) as refused:
        module.control.faults.add(target="pdp", action="deactivate", cid=99)
    assert refused.value.status == 400
    assert "cid" in str(refused.value)


def test_the_link_and_the_state(ubx_module):
    module = ubx_module(link="lte-m", transports=("tcp",))
    assert module.control.link.get()["link"] == ubxftp.Control(
        module.control.host, module.control.port, module.control.token
    ).link.get()["link"]
    before = module.control.link.get()["link"]
    module.control.link.set("nb-iot")
    after = module.control.link.get()["link"]
    assert after != before
    state = module.control.state()
    assert isinstance(state, dict) and state
    with pytest.raises(ubxftp.ControlError) as refused:
        module.control.link.set("warp-speed")
    assert refused.value.status == 400


def test_a_module_reboot_fault_silences_the_terminal_then_it_is_back(ubx_module):
    module = ubx_module(transports=("tcp",))
    echo_off(module.terminal)
    module.control.faults.add(target="module", action="reboot", duration_ms=500)
    module.terminal.quiet(0.3)
    # Back at power-on: echo on again.
    module.terminal.read_available(wait=1.0)
    module.send("AT")
    module.expect(b"AT\r\r\nOK\r\n", timeout=5)
