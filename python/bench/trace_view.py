"""Benchmark: the trace page (`ubxftp trace view`) with 100 000 records in Debian's Chromium.

Run from the repository's root after `scripts/test` (it uses the test virtualenv's playwright
and the debug or release binary):

    target/python-test-venv/bin/python python/bench/trace_view.py [--records 100000] [--runs 5]
        [--bin target/release/ubxftp]

Side by side in one run, each figure the median of `--runs` fresh pages:
- **first paint**: the page's first drawn timeline (`ubxTrace.firstPaintMs`, from navigation
  start), against Chromium showing the same trace's raw JSON lines as a text page (its
  `first-paint` entry): what an engineer had before, `jq` aside;
- **search**: `ubxTrace.search(q)` (matches counted, marks and list updated), against
  Chromium's own find (`window.find`, what Ctrl-F runs) on the raw text page, for a string with
  one match and for one with thousands;
- **writing the page**: `ubxftp trace view` against `ubxftp trace FILE` (the text view) on the
  same file.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def synth_trace(path: Path, count: int, seed: int = 7) -> None:
    """`count` records of a long FTP session in trace format v1: commands and their answers,
    the FTP dialogue, connections, URCs, prompts and payloads, and now and then a fault, a link
    change or a bearer, with pauses between exchanges."""
    rnd = random.Random(seed)
    out = [json.dumps({"k": "trace", "v": 1, "unix_us": 1_765_000_000_000_000,
                       "tool": "ubxftp bench"})]
    t = 1000
    conn = 0
    n = 0

    def rec(**fields):
        nonlocal n
        out.append(json.dumps({"t": t, "m": 1, **fields}, separators=(",", ":")))
        n += 1

    while n < count:
        t += rnd.randint(20_000, 2_000_000)
        op = rnd.choice([4, 5, 13, 1])
        name = f"file{rnd.randint(0, 999)}.bin"
        line = f'AT+UFTPC={op},"{name}","{name}"' if op in (4, 5) else f"AT+UFTPC={op}"
        rec(k="io", term=1, dir="in", data=line + "\\r")
        t += 60
        rec(k="io", term=1, dir="out", data=line + "\\r\\r\\nOK\\r\\n")
        conn += 1
        t += 800
        rec(k="net", ev="open", conn=conn, role="ftp-data", opener="module",
            local="127.0.0.1:40000", remote="127.0.0.1:2121")
        for cmd, reply in (("PASV", "227 Entering Passive Mode (127,0,0,1,7,233)"),
                           (f"RETR {name}", "150 Sending"), ("", "226 Done")):
            if cmd:
                t += 300
                rec(k="ftp", dir="sent", text=cmd)
            t += 900
            rec(k="ftp", dir="received", text=reply)
        if rnd.random() < 0.02:
            t += 500
            rec(k="field", ev="fault", fault=rnd.randint(1, 9), target="ftp-data",
                action="reset", conn=conn)
        if rnd.random() < 0.01:
            rec(k="field", ev="link", spec=rnd.choice(["lte-m", "nb-iot", "gprs"]))
        t += 5000
        rec(k="net", ev="close", conn=conn, **{"in": rnd.randint(0, 10**6), "out": 200})
        t += 200
        rec(k="io", term=1, dir="out", data=f"\\r\\n+UUFTPCR: {op},1\\r\\n")
        if rnd.random() < 0.1:
            t += rnd.randint(1000, 500_000)
            rec(k="io", term=1, dir="in", data='AT+UDWNFILE="p.txt",5\\r')
            t += 50
            rec(k="io", term=1, dir="out", data=">")
            t += rnd.randint(1000, 300_000)
            rec(k="io", term=1, dir="in", data="hello")
            t += 100
            rec(k="io", term=1, dir="out", data="\\r\\nOK\\r\\n")
    path.write_text("\n".join(out[: count + 1]) + "\n")


def median_ms(values):
    return statistics.median(values)


def time_command(argv, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - start) * 1000)
    return median_ms(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bin", default=os.environ.get("UBXFTP_BIN", "target/debug/ubxftp"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-trace-view-"))
    trace = work / "trace.jsonl"
    synth_trace(trace, args.records)
    html = work / "trace.html"
    write_ms = time_command([args.bin, "trace", "view", str(trace), "-o", str(html)], args.runs)
    text_ms = time_command([args.bin, "trace", str(trace)], args.runs)
    print(f"{args.records} records: trace {trace.stat().st_size / 1e6:.1f} MB, "
          f"page {html.stat().st_size / 1e6:.1f} MB")
    print(f"write: trace view {write_ms:.0f} ms, trace (text) {text_ms:.0f} ms, "
          f"ratio {write_ms / text_ms:.2f}")

    # The page's first search also builds its lower-case index of the rows; the ones after
    # reuse it. Each query once per page, in this order.
    rare, common = "nb-iot", "RETR file1"
    queries = [("first search", rare), ("a later one", common), ("the first again", rare)]
    paint, raw_paint = [], []
    search = {name: [] for name, _ in queries}
    raw_find = {name: [] for name, _ in queries}
    counts = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        for _ in range(args.runs):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(html.as_uri())
            page.wait_for_function("window.ubxTrace && window.ubxTrace.ready", timeout=120_000)
            paint.append(page.evaluate("ubxTrace.firstPaintMs"))
            for name, q in queries:
                counts[name] = page.evaluate(f"ubxTrace.search({json.dumps(q)})")
                search[name].append(page.evaluate("ubxTrace.lastSearchMs"))
            page.close()
            # The reference: the raw trace as a text page, and the browser's own find.
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(trace.as_uri())
            page.wait_for_function(
                "performance.getEntriesByName('first-paint').length > 0", timeout=120_000)
            raw_paint.append(page.evaluate(
                "performance.getEntriesByName('first-paint')[0].startTime"))
            for name, q in queries:
                # The raw text escapes quotes; the strings searched have none.
                raw_find[name].append(page.evaluate(
                    """q => { const s = performance.now(); window.getSelection().removeAllRanges();
                             window.find(q, false, false, true); return performance.now() - s; }""",
                    q))
            page.close()
        browser.close()
    version = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout
    print(f"browser: {version.strip()}, {args.runs} runs each, medians")
    p_ms, r_ms = median_ms(paint), median_ms(raw_paint)
    print(f"first paint: page {p_ms:.0f} ms, raw JSON lines as text {r_ms:.0f} ms, "
          f"ratio {p_ms / r_ms:.2f}")
    for name, q in queries:
        s, f = median_ms(search[name]), median_ms(raw_find[name])
        print(f"{name}, {q!r} ({counts[name]} matches): page {s:.1f} ms (every match counted, "
              f"marked and listed), browser find on the raw text {f:.1f} ms (the first match "
              f"only), ratio {s / f:.2f}")
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
