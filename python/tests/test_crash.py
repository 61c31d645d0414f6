"""A bulk insert driven from Python, killed with SIGKILL at random moments.

A child Python process opens a database on disk and repeats `db.insert` of a batch of
400 objects (ids `b{k}-{i}`), appending k to a side file (flushed and fsynced) once the
call has returned. The parent kills it with SIGKILL, reopens the database (within a
bound) and checks that every batch is whole or absent: every acknowledged batch is
there whole, at most one batch that was not acknowledged (the one in flight) is there,
and the objects inserted before the child started are untouched.

`pytest tests/test_crash.py` runs 8 rounds; `TENSORMAP_CRASH_ROUNDS=200` runs more.
"""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np

import tensormap

BATCH = 400
BASE = 300
CHANNELS = 8
# The longest a reopen after a kill may take (the usual is milliseconds).
OPEN_BOUND_S = 5.0

CHILD = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    import tensormap

    path, acked = sys.argv[1], sys.argv[2]
    db = tensormap.connect(path)
    with open(acked, "a") as out:
        for k in range(1_000_000):
            rng = np.random.default_rng(k)
            ids = [f"b{k}-{i}" for i in range(%(batch)d)]
            types = ["cube"] * %(batch)d
            pos = rng.uniform(-400, 400, size=(%(batch)d, 3)).astype(np.float32)
            emb = rng.normal(size=(%(batch)d, %(channels)d)).astype(np.float32)
            db.insert("m", ids, types, pos, emb)
            # Acknowledged: the call returned, so the batch must survive from here on.
            out.write(f"{k}\\n")
            out.flush()
            os.fsync(out.fileno())
    """
    % {"batch": BATCH, "channels": CHANNELS}
)


def base(path):
    rng = np.random.default_rng(0)
    with tensormap.connect(path) as db:
        db.create_map("m", channels=CHANNELS)
        ids = [f"base-{i}" for i in range(BASE)]
        pos = rng.uniform(-400, 400, size=(BASE, 3)).astype(np.float32)
        emb = rng.normal(size=(BASE, CHANNELS)).astype(np.float32)
        db.insert("m", ids, ["sphere"] * BASE, pos, emb)
        return {i: tuple(p) for i, p in zip(ids, pos.tolist())}


def wait_for_first_ack(child, acked, limit_s):
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if os.path.exists(acked) and os.path.getsize(acked) > 0:
            return
        assert child.poll() is None, f"the child exited with {child.returncode}"
        time.sleep(0.005)


def check_round(tmp, round_no, rnd):
    path = str(tmp / f"db{round_no}")
    acked_file = str(tmp / f"acked{round_no}")
    before = base(path)
    # Run from the test's folder: `-c` puts the working folder first on sys.path, and
    # python/ holds the package's sources without the built module.
    child = subprocess.Popen([sys.executable, "-c", CHILD, path, acked_file], cwd=tmp)
    try:
        # Three rounds in four start the clock at the first acknowledged batch, so that a
        # loaded machine still kills children that have committed something.
        if rnd.random() < 0.75:
            wait_for_first_ack(child, acked_file, 30.0)
        time.sleep(rnd.uniform(0.0, 0.4))
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    acked = set()
    if os.path.exists(acked_file):
        with open(acked_file) as f:
            acked = {int(line) for line in f if line.strip()}

    t0 = time.monotonic()
    db = tensormap.connect(path)
    opened_s = time.monotonic() - t0
    assert opened_s < OPEN_BOUND_S, f"round {round_no}: reopening took {opened_s:.2f} s"
    rows = db.execute("SELECT id, position FROM m").fetchall()
    db.close()

    batches = {}
    seen_base = {}
    for oid, p in rows:
        if oid.startswith("base-"):
            seen_base[oid] = tuple(p)
        else:
            k, _ = oid[1:].split("-")
            batches.setdefault(int(k), 0)
            batches[int(k)] += 1
    assert seen_base.keys() == before.keys(), f"round {round_no}: the objects from before changed"
    for oid, p in seen_base.items():
        assert np.allclose(p, before[oid]), f"round {round_no}: {oid} moved"
    partial = {k: n for k, n in batches.items() if n != BATCH}
    assert not partial, f"round {round_no}: partial batches {partial}"
    lost = acked - batches.keys()
    assert not lost, f"round {round_no}: acknowledged batches lost: {sorted(lost)}"
    extra = batches.keys() - acked
    assert len(extra) <= 1, f"round {round_no}: {len(extra)} batches present but not acknowledged"
    return len(acked)


def test_python_bulk_insert_is_whole_or_absent_after_sigkill(tmp_path):
    rounds = int(os.environ.get("TENSORMAP_CRASH_ROUNDS", "8"))
    rnd = random.Random(int(os.environ.get("TENSORMAP_CRASH_SEED", "1")))
    acked = sum(check_round(tmp_path, r, rnd) for r in range(rounds))
    print(f"{rounds} rounds, {acked} acknowledged batches of {BATCH}, none lost or partial")
    # Most rounds kill a child that had acknowledged something.
    assert acked >= rounds, f"only {acked} acknowledged batches in {rounds} rounds"
