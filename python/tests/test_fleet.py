"""`ubx_fleet`: a port per module, each its own module, the control API per module and fleet."""

from helpers import echo_off


def test_a_fleet_of_three_answers_at(ubx_fleet):
    fleet = ubx_fleet(count=3)
    assert fleet.ports == [fleet.base, fleet.base + 1, fleet.base + 2]
    imeis = set()
    for index in range(3):
        terminal = fleet.connect(index)
        terminal.send("AT")
        terminal.expect(b"AT\r\r\nOK\r\n")
        echo_off(terminal)
        imeis.add(terminal.command("AT+CGSN"))
    assert len(imeis) == 3


def test_the_fleet_control_api(ubx_fleet):
    fleet = ubx_fleet(count=3, link="lte-m")
    fleet.control.module(1).faults.add(target="dns", action="fail")
    assert len(fleet.control.module(1).faults.list()) == 1
    assert fleet.control.module(0).faults.list() == []
    fleet.control.fleet_faults.add(modems=[0, 2], target="dns", action="fail")
    assert [len(fleet.control.module(i).faults.list()) for i in range(3)] == [1, 1, 1]
    summary = fleet.control.fleet()
    assert isinstance(summary, dict)
    fleet.control.module(2).link.set("nb-iot")
    assert fleet.control.module(2).link.get()["link"] != fleet.control.module(0).link.get()["link"]
    fleet.control.fleet_faults.clear()
    assert fleet.control.module(1).faults.list() == []
