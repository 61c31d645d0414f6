#!/usr/bin/env python3
"""The interactive view made by the real `tmap` binary, in headless Chromium (WebGL on
SwiftShader), with the checks of scripts/check-browser.py:

- a map seeded by `tmap -f` (objects with embeddings, so it has a voxel field);
- `RENDER SELECT ... TO 'x.html'` run by `tmap`: the file reaches `ready`, `count` is the
  SELECT's rows, objects light the pixels where they project, `pick` and hovering name
  them, the details show the SELECT's columns, the slice slider changes pixels; a refused
  RENDER writes no file;
- `tmap serve` on a loopback port with a token file: `/view/demo` asks for the token once
  (kept in sessionStorage only), reaches `ready` with the map's count, draws and picks its
  objects, shows a hovered id, moves its slice, rings the results of the query box; `/view`
  lists the maps; the first cell's latency (from `meta` asked to the first `cells` answer)
  is printed;
- no console message is SEVERE (but the one 401 that makes the page ask for the token) and
  no request leaves file:, data:, blob: or loopback.

    scripts/check-browser-tmap.py --tmap target/debug/tmap [--objects 20000] [--bench]

`--bench` prints the served viewer's first-cell latency over several fresh page loads
(figures for BENCHMARKS.md) instead of the checks.
"""

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

# The helpers of the file checks (driver, load, pixels, pick, hover, slice, console).
_spec = importlib.util.spec_from_file_location(
    "check_browser", os.path.join(os.path.dirname(os.path.abspath(__file__)), "check-browser.py")
)
cb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cb)
check = cb.check

TOKEN = "tmap-view-token"


def tmap(exe, db, *args, stdin=None):
    r = subprocess.run([exe, db, *args], input=stdin, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"tmap {' '.join(args)[:200]}: {r.stderr.strip()}")
    return r.stdout


def seed(exe, db, n):
    """Map `demo`: n objects in a 500-unit cube, 4 channels (a field to slice)."""
    lines = ["CREATE MAP demo WITH (resolution = 64, channels = 4, bounds = 500);"]
    kinds = ["cube", "sphere", "pyramid", "torus"]
    rows = []
    for i in range(n):
        t = i * 0.61803398875
        x = ((i * 7919) % 1000) - 499.5
        y = ((i * 104729) % 997) - 498.5
        z = ((i * 1299709) % 991) - 495.5
        rows.append(
            f"('o{i}', '{kinds[i % 4]}', [{x * 0.9:.2f}, {y * 0.9:.2f}, {z * 0.9:.2f}], "
            f"[{(t % 1):.3f}, 0.5, {((t * 3) % 1) - 0.5:.3f}, 0.1], {(i % 10) / 10})"
        )
        if len(rows) == 2000 or i == n - 1:
            lines.append("INSERT INTO demo (id, type, position, embedding, confidence) VALUES " + ", ".join(rows) + ";")
            rows = []
    tmap(exe, db, stdin="\n".join(lines) + "\n")


def objects_of(exe, db, sql):
    out = tmap(exe, db, "--format", "json", "-c", sql)
    return [{"id": r["id"], "position": r["position"]} for r in json.loads(out.splitlines()[0])]


def check_rendered(a, d, work, db):
    select = ("SELECT *, confidence * 10 AS score, type || '!' AS label FROM demo "
              "WHERE WITHIN(position, [0, 0, 0], 400)")
    out = os.path.join(work, "scene.html")
    status = tmap(a.tmap, db, "-c", f"RENDER {select} TO '{out}' WITH (color_by = 'score', title = 'demo')")
    objects = objects_of(a.tmap, db, select)
    print(f"     tmap: {status.strip()}")
    check(os.path.exists(out) and len(objects) > 1000, f"tmap RENDER ... TO .html writes the file ({len(objects)} objects)")
    cb.check_file(d, "file://" + out, objects, len(objects), "tmap file")
    cb.check_slice(d, "tmap file")
    cb.console_and_network(d, "tmap file")
    # A refused RENDER is an error and writes nothing.
    bad = os.path.join(work, "bad.html")
    r = subprocess.run([a.tmap, db, "-c", f"RENDER SELECT * FROM demo TO '{bad}' WITH (effects = 'glitter')"],
                       capture_output=True, text=True)
    check(r.returncode == 1 and "unknown effect 'glitter'" in r.stderr and not os.path.exists(bad),
          f"tmap: a refused RENDER is an error and writes no file ({r.stderr.strip()[:80]!r})")


def start_serve(a, db, work):
    tok = os.path.join(work, "token")
    with open(tok, "w") as f:
        f.write(TOKEN + "\n")
    srv = subprocess.Popen([a.tmap, "serve", db, "--listen", "127.0.0.1:0", "--token-file", tok],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = srv.stdout.readline().strip()
    if not line.startswith("listening on "):
        srv.kill()
        raise RuntimeError(f"tmap serve did not start: {line} {srv.stderr.read()}")
    return srv, line.split()[-1]


def first_cell_ms(d):
    """From the meta request's start to the end of the first cells answer, page clock."""
    return d.execute_script(
        """const r = performance.getEntriesByType('resource');
           const meta = r.find(e => e.name.endsWith('/meta'));
           const cells = r.find(e => e.name.endsWith('/cells'));
           return meta && cells ? [cells.responseEnd - meta.startTime, meta.duration, cells.duration, cells.encodedBodySize] : null;"""
    )


def check_served(a, d, base, objects, n):
    t0 = time.monotonic()
    d.get(base + "/view/demo")
    cb.wait(d, "return document.getElementById('tm-token') !== null", 30, "token prompt")
    first = [e["message"] for e in d.get_log("browser") if e["level"] == "SEVERE"]
    check(all("/view/demo/meta" in m and "401" in m for m in first) and len(first) <= 1,
          f"tmap serve: without a token the page asks for one ({first})")
    d.find_element(By.ID, "tm-token").send_keys(TOKEN + Keys.ENTER)
    cb.wait(d, "return window.tensormap && (window.tensormap.ready || window.tensormap.error)", 120, "served ready")
    err = d.execute_script("return tensormap.error")
    check(not err, f"tmap serve: no load error ({err})")
    print(f"     tmap serve: ready {time.monotonic() - t0:.2f} s after opening (token typed in between)")
    check(d.execute_script("return tensormap.count") == n, f"tmap serve: count is the map's {n}")
    stored = d.execute_script("return sessionStorage.getItem('tensormap.token')")
    check(stored == TOKEN and d.execute_script("return localStorage.length") == 0,
          "tmap serve: the token is kept in sessionStorage only")
    cb.wait(d, f"return tensormap.drawn >= {min(n, 500000)}", 90, "every cell loaded")
    cb.frames_after(d)
    img = cb.screenshot(d)
    vis = cb.visible_objects(d, objects, 200)
    lit = sum(not cb.is_background(img, x, y) for _, _, x, y in vis)
    check(len(vis) > 40 and lit >= 0.95 * len(vis), f"tmap serve: non-background pixels where objects are ({lit}/{len(vis)})")
    canvas = d.find_element(By.TAG_NAME, "canvas")
    ids = {o["id"] for o in objects}
    hovered = 0
    for _, _, x, y in vis[:24:6]:
        want = d.execute_script("return tensormap.pick(arguments[0], arguments[1])", x, y)
        if want in ids and cb.hover_shows(d, canvas, x, y, want):
            hovered += 1
    check(hovered >= 3, f"tmap serve: hovering a picked object shows its id ({hovered}/4)")
    cb.check_slice(d, "tmap serve")
    sql = d.find_element(By.ID, "tm-sql")
    sql.clear()
    sql.send_keys("SELECT id, position FROM demo WHERE type = 'cube' LIMIT 25")
    d.find_element(By.CSS_SELECTOR, "#tm-query button").click()
    cb.wait(d, "return /ringed/.test(document.getElementById('tm-query-status').textContent)", 30, "query")
    status = d.find_element(By.ID, "tm-query-status").text
    check("25 ringed" in status, f"tmap serve: the query box's results are ringed ({status!r})")
    cb.console_and_network(d, "tmap serve")

    d.get(base + "/view")
    cb.wait(d, "return window.tensormap && window.tensormap.ready", 30, "map list")
    links = [e.text for e in d.find_elements(By.CSS_SELECTOR, "#tm-maps a")]
    check(links == ["demo"], f"tmap serve: /view lists the maps ({links})")
    cb.console_and_network(d, "tmap serve list")


def bench_served(a, d, base, runs=5):
    """First-cell latency of fresh page loads (the token is in the tab already)."""
    d.get(base + "/view/demo")
    cb.wait(d, "return document.getElementById('tm-token') !== null", 30, "token prompt")
    d.find_element(By.ID, "tm-token").send_keys(TOKEN + Keys.ENTER)
    cb.wait(d, "return window.tensormap && window.tensormap.ready", 120, "ready")
    figures = []
    for k in range(runs):
        d.get(base + f"/view/demo?run={k}")
        cb.wait(d, "return window.tensormap && window.tensormap.ready", 120, "ready")
        figures.append(first_cell_ms(d))
    # The first load after start builds the map's index; the others reuse it.
    print("     first cells answer (meta asked → first cells answer), ms, with meta and cells durations "
          "and the cells answer's size: "
          + "; ".join(f"{f[0]:.0f} ({f[1]:.0f} + {f[2]:.0f}, {f[3] / 1e6:.2f} MB)" for f in figures))


def direct_first_cell(base, runs=5):
    """The same over plain HTTP: meta, then the first cell's first 5000 objects."""
    h = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        meta = json.loads(urllib.request.urlopen(urllib.request.Request(base + "/view/demo/meta", headers=h)).read())
        t1 = time.perf_counter()
        code = meta["cells"]["list"][0][0]
        body = json.dumps({"cells": [[code, 0, 5000]]}).encode()
        urllib.request.urlopen(urllib.request.Request(base + "/view/demo/cells", data=body, headers=h)).read()
        t2 = time.perf_counter()
        out.append(((t1 - t0) * 1e3, (t2 - t1) * 1e3))
    print("     HTTP: meta + first cell, ms: " + "; ".join(f"{m:.1f} + {c:.1f}" for m, c in out))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tmap", required=True, help="the built tmap binary")
    p.add_argument("--objects", type=int, default=20_000)
    p.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    p.add_argument("--chromedriver", default=shutil.which("chromedriver") or "chromedriver")
    p.add_argument("--bench", action="store_true")
    a = p.parse_args()
    a.tmap = os.path.abspath(a.tmap)
    work = tempfile.mkdtemp(prefix="tm-tmap-")
    user = tempfile.mkdtemp(prefix="tm-chromium-")
    t0 = time.monotonic()
    db = os.path.join(work, "db")
    seed(a.tmap, db, a.objects)
    print(f"     seeded {a.objects} objects with tmap in {time.monotonic() - t0:.1f} s")
    all_objects = objects_of(a.tmap, db, "SELECT id, position FROM demo")
    d = cb.driver_for(user, a.chromium, a.chromedriver)
    d.set_script_timeout(60)
    srv = None
    try:
        if not a.bench:
            check_rendered(a, d, work, db)
        srv, base = start_serve(a, db, work)
        if a.bench:
            direct_first_cell(base)
            bench_served(a, d, base)
        else:
            check_served(a, d, base, all_objects, a.objects)
    finally:
        d.quit()
        if srv is not None:
            srv.terminate()
            srv.wait(20)
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(user, ignore_errors=True)
    print(f"tmap browser checks: {time.monotonic() - t0:.0f} s, {len(cb.FAILURES)} failed")
    sys.exit(1 if cb.FAILURES else 0)


if __name__ == "__main__":
    main()
