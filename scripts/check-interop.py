#!/usr/bin/env python3
"""COPY against real readers: DuckDB, pyarrow and pandas read what `tmap` writes, and
`tmap` imports what DuckDB writes (docs/interop.md shows the same statements).

    python3 -m venv /tmp/venv-interop
    /tmp/venv-interop/bin/pip install duckdb pyarrow pandas
    /tmp/venv-interop/bin/python scripts/check-interop.py [path/to/tmap]

The tmap binary defaults to target/release/tmap, else target/debug/tmap. Exits non-zero,
naming the check, on the first difference.
"""

import json
import os
import random
import struct
import subprocess
import sys
import tempfile

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq

N = 3000
CHANNELS = 8
BOUNDS = 100.0
DEPTH = 2


def f32(v):
    """The float32 nearest v, as a Python float (what tensormap stores)."""
    return struct.unpack("<f", struct.pack("<f", v))[0]


def tmap_binary():
    if len(sys.argv) > 1:
        return os.path.abspath(sys.argv[1])
    for p in ("target/release/tmap", "target/debug/tmap"):
        if os.path.exists(p):
            return os.path.abspath(p)
    sys.exit("no tmap binary: cargo build --release first, or give its path")


TMAP = tmap_binary()


def tmap(db, sql):
    r = subprocess.run([TMAP, db, "-c", sql], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"tmap failed on {sql[:200]!r}:\n{r.stderr}")
    return r.stdout


def check(cond, what):
    if not cond:
        sys.exit(f"FAILED: {what}")
    print(f"ok: {what}")


def morton(c):
    m = 0
    for bit in range(21):
        for axis in range(3):
            m |= ((c[axis] >> bit) & 1) << (3 * bit + axis)
    return m


def cell_of(p, depth):
    n = 1 << 21
    q = [min(max(int((v + BOUNDS) / (2 * BOUNDS) * n), 0), n - 1) for v in p]
    return morton(q) >> (3 * (21 - depth))


def objects():
    rng = random.Random(15)
    out = []
    for i in range(N):
        p = [round(rng.uniform(-BOUNDS, BOUNDS), 3) for _ in range(3)]
        e = [round(rng.uniform(-1, 1), 5) for _ in range(CHANNELS)]
        out.append((f"obj{i:05}", ["cube", "sphere", "cone"][i % 3], p, e, round(rng.random(), 3)))
    return out


def main():
    work = tempfile.mkdtemp(prefix="tmap-interop-")
    db = os.path.join(work, "db")
    objs = objects()
    script = os.path.join(work, "load.tql")
    with open(script, "w") as f:
        f.write(f"CREATE MAP scene WITH (channels = {CHANNELS}, bounds = {BOUNDS});\n")
        for start in range(0, N, 500):
            rows = ",\n".join(
                f"('{i}', '{t}', {p}, {e}, {c})" for i, t, p, e, c in objs[start:start + 500]
            )
            f.write(f"INSERT INTO scene (id, type, position, embedding, confidence) VALUES\n{rows};\n")
    r = subprocess.run([TMAP, db, "-f", script], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(r.stderr)
    truth = {i: (t, [f32(v) for v in p], [f32(v) for v in e], f32(c)) for i, t, p, e, c in objs}

    os.chdir(work)
    tmap(db, "COPY scene TO 'scene.parquet'; COPY scene TO 'scene.csv'; COPY scene TO 'scene.json'; "
             f"COPY scene TO 'out/' WITH (format = 'parquet', partition_by = 'octree', depth = {DEPTH})")

    # --- DuckDB reads the file: counts and every value, float32 for float32.
    con = duckdb.connect()
    check(con.execute("SELECT count(*) FROM read_parquet('scene.parquet')").fetchall()[0][0] == N,
          "DuckDB counts the rows of scene.parquet")
    rows = con.execute("SELECT id, type, x, y, z, embedding, confidence FROM read_parquet('scene.parquet')").fetchall()
    got = {r[0]: (r[1], [r[2], r[3], r[4]], list(r[5]), r[6]) for r in rows}
    check(got == truth, "DuckDB reads every value of scene.parquet exactly")
    for name, sql in [
        ("scene.csv", "SELECT id, type, x, y, z, CAST(embedding AS FLOAT[]), confidence FROM read_csv('scene.csv', header = true, columns = {'id': 'VARCHAR', 'type': 'VARCHAR', 'x': 'FLOAT', 'y': 'FLOAT', 'z': 'FLOAT', 'embedding': 'VARCHAR', 'confidence': 'FLOAT'})"),
        ("scene.json", "SELECT id, type, x, y, z, embedding, confidence FROM read_json('scene.json', columns = {'id': 'VARCHAR', 'type': 'VARCHAR', 'x': 'FLOAT', 'y': 'FLOAT', 'z': 'FLOAT', 'embedding': 'FLOAT[]', 'confidence': 'FLOAT'})"),
    ]:
        rows = con.execute(sql).fetchall()
        g = {r[0]: (r[1], [r[2], r[3], r[4]], list(r[5]), r[6]) for r in rows}
        check(g == truth, f"DuckDB reads every value of {name} exactly")

    # --- pyarrow: the GeoParquet metadata, the WKB points, the fixed-size embedding.
    table = pq.read_table("scene.parquet")
    check(table.num_rows == N, "pyarrow counts the rows")
    geo = json.loads(table.schema.metadata[b"geo"])
    check(geo == json.loads(pq.ParquetFile("scene.parquet").metadata.metadata[b"geo"]), "geo metadata in the Parquet footer and the Arrow schema")
    col = geo["columns"]["geometry"]
    check(geo["version"] == "1.1.0" and geo["primary_column"] == "geometry", "geo: version 1.1.0, primary column")
    check(col["encoding"] == "WKB" and col["geometry_types"] == ["Point Z"], "geo: WKB Point Z")
    check("crs" in col and col["crs"] is None, "geo: crs null (local metric coordinates)")
    xs = [p[0] for _, p, _, _ in truth.values()]
    ys = [p[1] for _, p, _, _ in truth.values()]
    zs = [p[2] for _, p, _, _ in truth.values()]
    check(col["bbox"] == [min(xs), min(ys), min(zs), max(xs), max(ys), max(zs)], "geo: the file's bbox")
    check(str(table.schema.field("embedding").type) == f"fixed_size_list<item: float not null>[{CHANNELS}]",
          "pyarrow: embedding is a fixed-size list of float32")
    d = table.to_pydict()
    ok = True
    for i, wkb, x, y, z in zip(d["id"], d["geometry"], d["x"], d["y"], d["z"]):
        order, kind, px, py, pz = struct.unpack("<BIddd", wkb)
        ok &= (order, kind, px, py, pz) == (1, 1001, x, y, z) and [x, y, z] == truth[i][1]
    check(ok, "every geometry is the WKB Point Z of x, y, z")
    md = pq.ParquetFile("scene.parquet").metadata
    check(md.row_group(0).column(0).compression == "ZSTD", "zstd-compressed")

    # --- pandas (through pyarrow).
    try:
        import pandas as pd
        df = pd.read_parquet("scene.parquet")
        check(len(df) == N and list(df.columns[:7]) == ["id", "type", "x", "y", "z", "embedding", "confidence"],
              "pandas.read_parquet reads the columns")
        df = pd.read_json("scene.json", lines=True)
        check(len(df) == N, "pandas.read_json(lines=True) reads the JSON Lines")
    except ImportError:
        print("skip: pandas is not installed")

    # --- The partitioned folder: DuckDB with hive partitioning, pyarrow datasets.
    # Hive readers skip names that start with "_" or "." (the export's `_tensormap.json`
    # manifest among them); the cell folders are the rest.
    cells = sorted(int(n.split("=")[1]) for n in os.listdir("out") if not n.startswith(("_", ".")))
    check(cells == sorted({cell_of(p, DEPTH) for _, p, _, _ in truth.values()}), "one folder per occupied cell")
    q = f"read_parquet('out/**/*.parquet', hive_partitioning = true)"
    check(con.execute(f"SELECT count(*) FROM {q}").fetchall()[0][0] == N, "DuckDB counts the partitioned rows")
    rows = con.execute(f"SELECT id, x, y, z, cell FROM {q}").fetchall()
    check(all(cell_of([x, y, z], DEPTH) == cell for _, x, y, z, cell in rows), "every row sits in its cell's folder")
    one = cells[len(cells) // 2]
    n_one = sum(1 for _, x, y, z, c in rows if c == one)
    check(con.execute(f"SELECT count(*) FROM {q} WHERE cell = {one}").fetchall()[0][0] == n_one, "DuckDB filters on cell")
    plan = "\n".join(r[1] for r in con.execute(f"EXPLAIN ANALYZE SELECT count(*) FROM {q} WHERE cell = {one}").fetchall())
    files_read = [l for l in plan.splitlines() if "Files Read" in l]
    if files_read:
        print("  DuckDB:", files_read[0].strip(" │|"))
        check(any(f"Files Read: 1" in l.replace("  ", " ") for l in files_read) or
              any(l.strip(" │|").endswith(": 1") for l in files_read), "DuckDB reads one file for one cell")
    dataset = ds.dataset("out", format="parquet", partitioning="hive")
    all_files = list(dataset.get_fragments())
    picked = list(dataset.get_fragments(filter=ds.field("cell") == one))
    check(len(picked) == 1 and len(all_files) == len(cells),
          f"pyarrow prunes by cell: 1 file of {len(all_files)}")
    check(dataset.to_table(filter=ds.field("cell") == one).num_rows == n_one, "pyarrow reads that cell's rows")
    # Row-group statistics: x, y, z carry min/max (DuckDB reads them; pyarrow 26 ignores
    # float statistics written with the IEEE 754 total order column order of arrow-rs 60).
    f = f"out/cell={one}/part-0.parquet"
    st = con.execute(f"SELECT path_in_schema, stats_min_value, stats_max_value FROM parquet_metadata('{f}') "
                     "WHERE path_in_schema IN ('x', 'y', 'z') ORDER BY path_in_schema").fetchall()
    xs = [p for i, (_, p, _, _) in truth.items() if cell_of(p, DEPTH) == one]
    check(len(st) == 3 and all(f32(float(lo)) == min(p[a] for p in xs) and f32(float(hi)) == max(p[a] for p in xs)
                               for a, (_, lo, hi) in enumerate(st)),
          "DuckDB reads x, y, z row-group statistics (the cell's extent)")

    # --- DuckDB writes, tmap imports exactly (Parquet with DuckDB's default snappy, and CSV).
    con.execute(f"""CREATE TABLE duck AS SELECT 'd' || i AS id, 'duck' AS type,
        ((i * 37) % 199 - 99)::FLOAT AS x, ((i * 11) % 199 - 99)::FLOAT AS y, (i % 50)::FLOAT / 4 AS z,
        [((i + k) % 17)::FLOAT / 8 - 1 FOR k IN range({CHANNELS})] AS embedding,
        ((i % 10)::FLOAT / 10) AS confidence FROM range(2000) t(i)""")
    con.execute("COPY duck TO 'duck.parquet' (FORMAT parquet)")
    con.execute("COPY duck TO 'duck.csv' (HEADER)")
    tmap(db, f"CREATE MAP fromparquet WITH (channels = {CHANNELS}, bounds = {BOUNDS}); "
             f"CREATE MAP fromcsv WITH (channels = {CHANNELS}, bounds = {BOUNDS}); "
             "COPY fromparquet FROM 'duck.parquet'; COPY fromcsv FROM 'duck.csv'; "
             "COPY fromparquet TO 'back1.parquet'; COPY fromcsv TO 'back2.parquet'")
    for back in ("back1.parquet", "back2.parquet"):
        cols = "id, type, x, y, z, CAST(embedding AS FLOAT[]) AS embedding, confidence"
        diff = con.execute(f"""SELECT count(*) FROM (
            (SELECT {cols} FROM duck EXCEPT SELECT {cols} FROM read_parquet('{back}'))
            UNION ALL
            (SELECT {cols} FROM read_parquet('{back}') EXCEPT SELECT {cols} FROM duck))""").fetchall()[0][0]
        n = con.execute(f"SELECT count(*) FROM read_parquet('{back}')").fetchall()[0][0]
        check(diff == 0 and n == 2000, f"tmap imports DuckDB's {'Parquet' if back == 'back1.parquet' else 'CSV'} exactly")

    # --- User columns: DuckDB and pyarrow read them with their types; DuckDB's Parquet
    # of the same columns (ints as INTEGER, floats, a timestamp) comes back in.
    tmap(db, "CREATE MAP cars (label TEXT NOT NULL DEFAULT 'x', speed REAL, n INTEGER, ok BOOLEAN, "
             "seen_at TIMESTAMP, raw BLOB) WITH (channels = 2); "
             "INSERT INTO cars (id, position, embedding, label, speed, n, ok, seen_at, raw) VALUES "
             "('a', [1, 2, 3], [1, 0], 'red', 31.5, 7, TRUE, '2026-05-01T12:30:00Z', '00ff'), "
             "('b', [4, 5, 6], [0, 1], 'blue', NULL, NULL, NULL, NULL, NULL); "
             "COPY cars TO 'cars.parquet'")
    rows = con.execute("SELECT id, label, speed, n, ok, epoch_us(seen_at), raw "
                       "FROM read_parquet('cars.parquet') ORDER BY id").fetchall()
    check(rows == [("a", "red", 31.5, 7, True, 1777638600000000, b"\x00\xff"),
                   ("b", "blue", None, None, None, None, None)],
          "DuckDB reads the user columns of cars.parquet")
    t = pq.read_table("cars.parquet")
    types = [str(t.schema.field(c).type) for c in ("label", "speed", "n", "ok", "seen_at", "raw")]
    check(types == ["string", "double", "int64", "bool", "timestamp[us, tz=UTC]", "binary"],
          f"pyarrow: the user columns' types ({types})")
    con.execute("""COPY (SELECT 'd' || i AS id, i::FLOAT AS x, 0::FLOAT AS y, 0::FLOAT AS z,
        [1.0, 0.0]::FLOAT[] AS embedding, i::INTEGER AS n, i::FLOAT AS speed,
        TIMESTAMPTZ '2026-05-01 12:30:00+00' AS seen_at FROM range(3) t(i))
        TO 'duck_cars.parquet' (FORMAT parquet)""")
    tmap(db, "CREATE MAP cars2 (label TEXT NOT NULL DEFAULT 'x', speed REAL, n INTEGER, ok BOOLEAN, "
             "seen_at TIMESTAMP, raw BLOB) WITH (channels = 2); COPY cars2 FROM 'duck_cars.parquet'")
    out = subprocess.run([TMAP, db, "--format", "csv", "-c",
                          "SELECT id, label, speed, n, seen_at FROM cars2 ORDER BY id"],
                         capture_output=True, text=True).stdout
    check(out.strip().splitlines()[-1] == "d2,x,2,2,2026-05-01 12:30:00",
          f"tmap imports DuckDB's user columns ({out.strip().splitlines()[-1]!r})")
    print("all interop checks passed")


if __name__ == "__main__":
    main()
