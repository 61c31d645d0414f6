"""tensormap.client against a running ``tmap serve``.

The server is the project's binary: ``TENSORMAP_TMAP`` names it, by default
``target/debug/tmap`` of the repository (CI's ``cargo test`` builds it). A missing binary
fails these tests: it never skips them.
"""

import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from tensormap.client import Client, ServerError

REPO = Path(__file__).resolve().parents[2]
TOKEN = "client-test-token"


def tmap_binary() -> Path:
    path = Path(os.environ.get("TENSORMAP_TMAP", REPO / "target" / "debug" / "tmap"))
    if not path.is_file():
        pytest.fail(
            f"tmap binary not found at {path}: build it (cargo build --bin tmap) "
            "or set TENSORMAP_TMAP"
        )
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A `tmap serve` child on a free loopback port with a token; SIGTERM at the end."""
    tmp = tmp_path_factory.mktemp("serve")
    token_file = tmp / "token"
    token_file.write_text(TOKEN + "\n")
    proc = subprocess.Popen(
        [
            str(tmap_binary()),
            "serve",
            str(tmp / "db"),
            "--listen",
            "127.0.0.1:0",
            "--token-file",
            str(token_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    if not line.startswith("listening on "):
        proc.kill()
        pytest.fail(f"tmap serve did not start: {line!r} {proc.stderr.read()}")
    base = line.split("listening on ", 1)[1].strip()
    yield base
    proc.terminate()  # SIGTERM: graceful shutdown
    assert proc.wait(timeout=30) == 0
    assert "the database is closed" in proc.stderr.read()


@pytest.fixture(scope="module")
def client(server):
    c = Client(server, token=TOKEN)
    c.execute("CREATE MAP scene WITH (channels = 4, bounds = 500)")
    return c


def test_embed_and_query_spatial(client):
    rng = np.random.default_rng(3)
    r = client.embed_object([100, 50, -30], rng.random(4, dtype=np.float32), "cube",
                            map="scene", id="cube_1", confidence=0.9)
    assert r["object_id"] == "cube_1"
    assert r["embedding_id"] == "scene/cube_1"
    fresh = client.embed_object(np.array([110.0, 50, -30]), [0.1, 0.2, 0.3, 0.4], "sphere")
    assert fresh["object_id"].startswith("obj-")

    hits = client.query_spatial((100, 50, -30), 20, map="scene")
    assert [o["id"] for o in hits["objects"]] == ["cube_1", fresh["object_id"]]
    assert hits["objects"][1]["distance"] == pytest.approx(10.0)
    cubes = client.query_spatial([100, 50, -30], 20, {"object_type": "cube"},
                                 include_embeddings=True, include_patches=True)
    assert cubes["count"] == 1
    assert len(cubes["objects"][0]["embedding"]) == 4
    assert len(cubes["tensor_patches"]) == len(cubes["patch_cells"]) > 0


def test_query_with_parameters(client):
    client.execute(
        "INSERT INTO scene (id, type, position, embedding) VALUES (?, 'ball', ?, ?)",
        ["ball_1", np.array([-100.0, 0, 0]), np.array([1, 0, 0, 0], np.float32)],
    )
    rows = client.query(
        "SELECT id, type, x FROM scene WHERE WITHIN(position, ?, ?) ORDER BY id",
        [[-100, 0, 0], 1.0],
    )
    assert rows == [{"id": "ball_1", "type": "ball", "x": -100}]
    results = client.execute("SELECT 1 AS one; SELECT COUNT(*) AS n FROM scene WHERE type = ?",
                             ["ball"])
    assert [r["rows"] for r in results] == [[{"one": 1}], [{"n": 1}]]


def test_errors_carry_the_servers_message_and_status(client, server):
    with pytest.raises(ServerError) as e:
        client.query("SELECT id\nFROM scene WHERE")
    assert e.value.status == 400
    assert e.value.line == 2 and e.value.column is not None
    assert "error at 2:" in e.value.message

    with pytest.raises(ServerError) as e:
        client.query_spatial([0, 0, 0], 1, map="nowhere")
    assert e.value.status == 404
    assert "nowhere" in e.value.message

    with pytest.raises(ServerError) as e:
        client.embed_object([0, 0, 0], [1, 2, 3], map="scene")
    assert e.value.status == 400
    assert "embedding" in e.value.message

    with pytest.raises(ServerError) as e:
        Client(server).query("SELECT 1")
    assert e.value.status == 401
    with pytest.raises(ServerError) as e:
        Client(server, token="wrong").query("SELECT 1")
    assert e.value.status == 401
    # /health needs no token.
    assert Client(server).health()


def test_render_svg(client):
    svg = client.render_svg("scene", camera={"position": [0, 0, -500], "rotation": [30, 45, 0],
                                             "fov": 60}, effects={"liquid": True, "wireframe": True},
                            width=300, height=200)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert root.get("width") == "300"


def test_generate(client):
    with pytest.raises(ServerError) as e:
        client.generate("a cube")
    assert e.value.status == 404
    client.execute("CREATE MODEL tiny WITH (layers = 1, dim = 16, heads = 2, channels = 4, seed = 7)")
    a = client.generate("a red cube", max_length=6, temperature=0.0)
    b = client.generate("a red cube", max_length=6, temperature=0.0, model="tiny")
    assert a["model"] == "tiny"
    assert a["text"] == b["text"]
    assert isinstance(a["text"], str)
    # The documented shape: one position (x, y, z) per token, a confidence in [0, 1].
    assert a["tokens"] == b["tokens"] and 1 <= len(a["tokens"]) <= 6
    assert len(a["spatial_positions"]) == len(a["tokens"])
    assert all(len(p) == 3 for p in a["spatial_positions"])
    assert 0.0 <= a["confidence"] <= 1.0


def test_metrics(client):
    text = client.metrics()
    assert 'route="/tensor/embed"' in text
    assert "tensormap_commits_total" in text


def test_embed_and_query_user_columns(client):
    import datetime as dt

    client.execute("CREATE MAP cars (label TEXT NOT NULL DEFAULT 'x', laps INTEGER, "
                   "seen_at TIMESTAMP, raw BLOB) WITH (channels = 2, bounds = 100)")
    r = client.embed_object([1, 0, 0], [1, 0], "car", map="cars", id="c1", properties={
        "laps": np.int64(3), "seen_at": dt.datetime(2026, 5, 1, 12, 30), "raw": b"\x00\xff",
    })
    want = {"label": "x", "laps": 3, "seen_at": "2026-05-01 12:30:00", "raw": "00ff"}
    assert r["properties"] == want
    hits = client.query_spatial([0, 0, 0], 5, map="cars")
    assert hits["objects"][0]["properties"] == want
    with pytest.raises(ServerError) as e:
        client.embed_object([2, 0, 0], [1, 0], map="cars", properties={"laps": "many"})
    assert e.value.status == 400 and "properties.laps" in e.value.message
    # A map without user columns: no properties.
    assert "properties" not in client.query_spatial([100, 50, -30], 20, map="scene")["objects"][0]
