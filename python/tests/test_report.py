"""A failing test's report carries its modules' traces; a passing one's does not."""

import os
import re

import pytest

TESTS = '''
import os

def test_fails(ubx_module, tmp_path_factory):
    module = ubx_module(transports=("tcp",))
    with open(os.environ["PIDS"], "a") as f:
        f.write(f"{module.pid}\\n")
    module.send("AT+CGMI")
    module.expect(b"AT+CGMI\\r\\r\\nu-blox\\r\\n\\r\\nOK\\r\\n")
    assert False, "the firmware did something wrong"

def test_passes(ubx_module):
    module = ubx_module(transports=("pty",))
    with open(os.environ["PIDS"], "a") as f:
        f.write(f"{module.pid}\\n")
    module.send("AT")
    module.expect(b"AT\\r\\r\\nOK\\r\\n")
'''


def test_the_trace_of_a_failed_test_is_in_its_report(pytester, monkeypatch):
    pids = pytester.path / "pids"
    monkeypatch.setenv("PIDS", str(pids))
    pytester.makepyfile(test_inner=TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--junitxml=junit.xml")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    # The section, once, in the failure of test_fails: the bytes both ways, escaped.
    assert out.count("ubxftp trace: module 1") == 1
    result.stdout.fnmatch_lines(
        ["*_ test_fails _*", "*ubxftp trace: module 1 (pid *): */trace.jsonl*"]
    )
    section = out[out.index("ubxftp trace: module 1") :]
    section = section[: section.index("short test summary")]
    # The bytes both ways, escaped as a transcript writes them (in as many records as reads
    # and writes there were).
    sent = "".join(re.findall(r"term 1 in +(\S*)", section))
    received = "".join(re.findall(r"term 1 out +(\S*)", section))
    assert sent == "AT+CGMI\\r"
    assert received == "AT+CGMI\\r\\r\\nu-blox\\r\\n\\r\\nOK\\r\\n"
    junit = (pytester.path / "junit.xml").read_text()
    assert 'name="ubxftp trace 1"' in junit and "trace.jsonl" in junit
    # Both modules were stopped when their tests ended.
    for pid in pids.read_text().split():
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid), 0)


def test_a_module_that_does_not_start_fails_the_test_with_its_error(pytester):
    pytester.makepyfile(
        test_inner='''
def test_bad(ubx_module):
    ubx_module(link="warp-speed")
'''
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*StartError*", "*warp-speed*"])
