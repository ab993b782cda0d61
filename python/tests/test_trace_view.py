"""The trace's page (`ubxftp trace view`, and `/view` on the control API) in a real browser:
Debian's headless Chromium driven by Playwright (docs/TRACE.md, "The page").

The session is real: a module logs in to `ubxftp ftp-server` (libunftp), lists, retrieves a
file whose data connection a `reset` fault cuts, and resumes it. The page must show each in its
lane: the fault in the field lane, the resume's command in the host lane after it, its `REST`
in the network lane, and the final `+UUFTPCR: 4,1` in the module lane.

A screenshot of each page goes to `$UBXFTP_ARTIFACTS` (default `target/artifacts`), the
folder CI keeps.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from helpers import echo_off, ftp_op, ftp_profile
from ubxftp._binary import find_ubxftp_bin

from playwright import sync_api as playwright  # noqa: E402  (scripts/test-python installs it)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium tries to reach Google's hosts at start.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("UBXFTP_ARTIFACTS", "target/artifacts"))

BIG = bytes((i * 2654435761 >> 13) & 0xFF for i in range(400_000))


@pytest.fixture(scope="module")
def browser():
    if not os.path.isfile(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM}: run scripts/install-test-deps")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def record_session(module, server) -> None:
    """Login, list, a retrieve cut by a data `reset` fault, its resume, logout."""
    server.put("big.bin", BIG)
    terminal = module.connect()
    echo_off(terminal)
    ftp_profile(terminal, server)
    ftp_op(terminal, "AT+UFTPC=1", 1, 1)
    terminal.send("AT+UFTPC=13")
    terminal.expect(b"\r\nOK\r\n")
    terminal.expect_re(rb'\r\n\+UUFTPCD: 13,\d+,"[^"]*big\.bin\r\n"\r\n', timeout=20)
    terminal.expect(b"\r\n+UUFTPCR: 13,1\r\n", timeout=20)
    module.control.faults.add(target="ftp-data", action="reset", on_op=4, after_bytes=100_000)
    time.sleep(0.3)  # a pause the page labels
    ftp_op(terminal, 'AT+UFTPC=4,"big.bin","big.bin"', 4, 0)
    ftp_op(terminal, 'AT+UFTPC=4,"big.bin","big.bin",1', 4, 1)
    ftp_op(terminal, "AT+UFTPC=0", 0, 1)


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url)
    page.wait_for_function("window.ubxTrace && window.ubxTrace.ready", timeout=20_000)
    return page, errors


def rows_where(page, kind: str, needle: str):
    """Indices of the rows of `kind` whose text holds `needle`."""
    return page.evaluate(
        """([kind, needle]) => {
            const out = [];
            for (let i = 0; i < ubxTrace.count(); i++) {
                const r = ubxTrace.rowAt(i);
                if (r[3] === kind && r[7].includes(needle)) out.push(i);
            }
            return out;
        }""",
        [kind, needle],
    )


def colour_at(page, t: int, lane: str) -> str:
    """The canvas's colour where the mark of time `t` in `lane` is drawn, as `#rrggbb`."""
    return page.evaluate(
        """([t, lane]) => {
            ubxTrace.redraw();
            const canvas = document.getElementById('timeline');
            const ratio = canvas.width / canvas.clientWidth;
            const box = ubxTrace.laneBox(lane);
            const x = Math.round((ubxTrace.xOf(t) + 1) * ratio);
            const y = Math.round(((box.y0 + box.y1) / 2) * ratio);
            const [r, g, b] = canvas.getContext('2d').getImageData(x, y, 1, 1).data;
            return '#' + [r, g, b].map(v => v.toString(16).padStart(2, '0')).join('');
        }""",
        [t, lane],
    )


def check_session_page(page) -> None:
    """The lanes, the fault, the cut retrieve and its resume, each where it belongs."""
    api = "window.ubxTrace"
    assert page.evaluate(f"{api}.lanes()") == ["host", "module", "network", "field"]
    colours = page.evaluate(f"{api}.colours")
    [fault] = rows_where(page, "fault", "ftp-data reset")
    [cut] = rows_where(page, "urc", "+UUFTPCR: 4,0")
    [resume] = rows_where(page, "cmd", 'AT+UFTPC=4,"big.bin","big.bin",1')
    [done] = rows_where(page, "urc", "+UUFTPCR: 4,1")
    rest = rows_where(page, "dialogue", "REST ")
    assert fault < cut < resume < done, (fault, cut, resume, done)
    assert any(resume < i < done for i in rest), rest
    row = lambda i: page.evaluate(f"{api}.rowAt({i})")  # noqa: E731
    assert row(fault)[2] == "field" and row(resume)[2] == "host" and row(done)[2] == "module"
    assert row(rest[-1])[2] == "network"
    # Zoomed onto the cut and the resume: each mark is drawn in its lane, in its kind's colour.
    t0, t1 = row(fault)[0], row(done)[0]
    page.evaluate(f"{api}.zoomTo({t0} - 1000, {t1} + 1000)")
    assert colour_at(page, row(fault)[0], "field") == colours["fault"]
    assert colour_at(page, row(resume)[0], "host") == colours["cmd"]
    assert colour_at(page, row(done)[0], "module") == colours["urc"]
    # Search: the count, the list showing the match, selected.
    assert page.evaluate(f"{api}.search('UUFTPCR: 4,0')") == 1
    assert page.inner_text("#matches") == "1 of 1"
    selected = page.locator(f'#list .row[data-i="{cut}"]')
    assert "+UUFTPCR: 4,0" in selected.inner_text()
    # A lane's filter hides its marks and its rows.
    page.uncheck('input[data-lane="network"]')
    assert page.evaluate(f"{api}.lanes()") == ["host", "module", "field"]
    assert page.locator('#list .row[data-lane="network"]').count() == 0
    page.check('input[data-lane="network"]')
    # Gaps are labelled: the 300 ms pause before the retrieve is a separator in the list.
    page.evaluate(f"{api}.fit()")
    assert page.locator("#list .gap").count() >= 1


def shoot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    return path


def test_the_page_of_a_recorded_session_shows_the_fault_and_the_resume(
    ubx_module, ubx_ftp_server, browser, tmp_path
):
    module = ubx_module(transports=("tcp",))
    record_session(module, ubx_ftp_server)
    module.stop()
    html = tmp_path / "session.html"
    out = subprocess.run(
        [find_ubxftp_bin(), "trace", "view", str(module.trace_path), "-o", str(html)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    page, errors = open_page(browser, html.as_uri())
    check_session_page(page)
    page.evaluate("window.ubxTrace.search('UUFTPCR: 4,0')")
    shoot(page, "trace-view.png")
    assert errors == []
    page.close()


def test_the_control_api_serves_the_page_and_it_follows_the_module(
    ubx_module, ubx_ftp_server, browser
):
    module = ubx_module(transports=("tcp",))
    control = module.control
    # The token in the fragment: never sent to the server, dropped from the address bar.
    page, errors = open_page(browser, f"{control.url}/view#token={control.token}")
    assert "#" not in page.url
    record_session(module, ubx_ftp_server)
    page.wait_for_function(
        """() => { for (let i = ubxTrace.count() - 1; i >= 0; i--) {
                     const r = ubxTrace.rowAt(i);
                     if (r[3] === 'urc' && r[7].includes('+UUFTPCR: 0,1')) return true; }
                   return false; }""",
        timeout=20_000,
    )
    check_session_page(page)
    # A command typed now appears while the page is open.
    module.command("AT+CGMI")
    page.wait_for_function(
        """() => { for (let i = ubxTrace.count() - 1; i >= 0; i--)
                     if (ubxTrace.rowAt(i)[7].startsWith('AT+CGMI')) return true;
                   return false; }""",
        timeout=20_000,
    )
    shoot(page, "trace-view-live.png")
    assert errors == []
    page.close()
    # Without the token, the page says what it needs and shows nothing of the module.
    page, errors = open_page(browser, f"{control.url}/view")
    page.wait_for_selector("#token", timeout=10_000)
    assert page.evaluate("window.ubxTrace.count()") == 0
    page.close()
