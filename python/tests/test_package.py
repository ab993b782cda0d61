"""What `pip install` of the wheel gives: the binary, `python -m ubxftp`, the plugin."""

import os
import subprocess
import sys
import sysconfig

import pytest

import ubxftp


def test_the_binary_is_the_one_the_wheel_installed(monkeypatch):
    monkeypatch.delenv("UBXFTP_BIN", raising=False)
    binary = ubxftp.find_ubxftp_bin()
    assert os.path.dirname(binary) == sysconfig.get_path("scripts")
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"ubxftp {ubxftp.__version__}"
    # The package lives in the environment, not in the source tree.
    assert ubxftp.__file__.startswith(sysconfig.get_path("purelib"))


def test_python_dash_m_runs_the_binary():
    out = subprocess.run(
        [sys.executable, "-m", "ubxftp", "models"], capture_output=True, text=True, check=True
    )
    assert "lexi-r10" in out.stdout and "sara-r5" in out.stdout


def _elf_sections(path):
    """The section names of a 64-bit little-endian ELF file."""
    with open(path, "rb") as f:
        elf = f.read()
    assert elf[:4] == b"\x7fELF" and elf[4] == 2 and elf[5] == 1
    shoff = int.from_bytes(elf[0x28:0x30], "little")
    size, count, names_at = (int.from_bytes(elf[o : o + 2], "little") for o in (0x3A, 0x3C, 0x3E))
    headers = [elf[shoff + i * size : shoff + (i + 1) * size] for i in range(count)]
    strtab = headers[names_at]
    base = int.from_bytes(strtab[0x18:0x20], "little")
    names = []
    for header in headers:
        at = base + int.from_bytes(header[0:4], "little")
        names.append(elf[at : elf.index(b"\0", at)].decode())
    return names


def test_the_binary_is_stripped(monkeypatch):
    monkeypatch.delenv("UBXFTP_BIN", raising=False)
    sections = _elf_sections(ubxftp.find_ubxftp_bin())
    assert ".text" in sections
    assert ".symtab" not in sections and ".debug_info" not in sections, sections


def test_the_plugin_is_active_through_its_entry_point(pytestconfig):
    plugin = pytestconfig.pluginmanager.get_plugin("ubxftp")
    assert plugin is not None and plugin.__name__ == "ubxftp.pytest_plugin"
    dists = {dist.project_name for _, dist in pytestconfig.pluginmanager.list_plugin_distinfo()}
    assert "ubxftp" in dists


def test_an_unknown_transport_is_refused(ubx_module):
    with pytest.raises(ValueError, match="transports"):
        ubx_module(transports=("serial",))


def test_a_start_that_fails_says_why(ubx_module):
    with pytest.raises(ubxftp.StartError, match="unknown model"):
        ubx_module(model="no-such-model")
