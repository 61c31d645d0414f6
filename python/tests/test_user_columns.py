"""A map's user columns in the Python API: SELECT results typed by the columns they read
(fetchall, fetchnumpy, to_arrow: the Arrow types COPY writes), `insert(..., columns=...)`
all or nothing, and `properties` beside the typed reads. NumPy and pyarrow are the oracles."""

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import tensormap

UTC = dt.timezone.utc
SCHEMA = ("(label TEXT NOT NULL DEFAULT 'unnamed', speed REAL, laps INTEGER DEFAULT 0, "
          "ok BOOLEAN, seen_at TIMESTAMP, raw BLOB)")
USER = ["label", "speed", "laps", "ok", "seen_at", "raw"]

# Three objects: every type given, every nullable one NULL, defaults only.
IDS = ["a", "b", "c"]
LABEL = ["red", "blue", "unnamed"]
SPEED = [31.5, None, None]
LAPS = [3, -(2**53), 0]
OK = [True, None, None]
SEEN = [dt.datetime(2026, 5, 1, 12, 30, 0, 250000, tzinfo=UTC), None, None]
RAW = [b"\x00\xff<&", None, None]


@pytest.fixture
def cars(db):
    db.execute(f"CREATE MAP cars {SCHEMA} WITH (channels = 2, bounds = 100)")
    db.insert(
        "cars", IDS[:2], "car", np.array([[1, 2, 3], [4, 5, 6]], np.float32),
        np.array([[1, 0], [0, 1]], np.float32),
        columns={
            "label": LABEL[:2],
            "speed": np.array([31.5, np.nan]),
            "laps": np.array([3, -(2**53)]),
            "ok": [True, None],
            "seen_at": ["2026-05-01T14:30:00.25+02:00", None],
            "raw": [b"\x00\xff<&", None],
        },
    )
    db.insert("cars", ["c"], "car", np.array([[7, 8, 9]], np.float32),
              np.array([[1, 1]], np.float32))
    return db


def test_fetchall_gives_each_type(cars):
    r = cars.execute("SELECT id, label, speed, laps, ok, seen_at, raw FROM cars ORDER BY id")
    assert r.types == [None, "TEXT", "REAL", "INTEGER", "BOOLEAN", "TIMESTAMP", "BLOB"]
    rows = r.fetchall()
    assert rows == [tuple(v) for v in zip(IDS, LABEL, SPEED, LAPS, OK, SEEN, RAW)]
    assert type(rows[0][3]) is int and type(rows[0][2]) is float


def test_select_star_and_aliases_are_typed(cars):
    r = cars.execute("SELECT * FROM cars ORDER BY id")
    assert r.columns[5:] == USER
    assert r.types == [None] * 5 + ["TEXT", "REAL", "INTEGER", "BOOLEAN", "TIMESTAMP", "BLOB"]
    assert r.fetchone()[5:] == ("red", 31.5, 3, True, SEEN[0], RAW[0])
    r = cars.execute("SELECT cars.laps AS n, laps + 1 AS m FROM cars WHERE id = 'a'")
    assert r.types == ["INTEGER", None]
    assert r.fetchall() == [(3, 4.0)]
    # Without user columns read, nothing is typed (and results are as they were).
    assert cars.execute("SELECT id, confidence FROM cars").types == []
    assert cars.execute("SELECT COUNT(*) FROM cars").fetchall() == [(3.0,)]


def test_fetchnumpy_types(cars):
    got = cars.execute(
        "SELECT label, speed, laps, ok, seen_at, raw FROM cars ORDER BY id").fetchnumpy()
    assert got["label"].dtype == object and list(got["label"]) == LABEL
    np.testing.assert_array_equal(got["speed"], np.array([31.5, np.nan, np.nan]))
    laps = got["laps"]
    assert laps.dtype == np.int64 and not isinstance(laps, np.ma.MaskedArray)
    np.testing.assert_array_equal(laps, np.array(LAPS, np.int64))
    ok = got["ok"]
    assert isinstance(ok, np.ma.MaskedArray) and ok.dtype == np.bool_
    assert list(ok.mask) == [False, True, True] and bool(ok[0]) is True
    seen = got["seen_at"]
    assert seen.dtype == np.dtype("datetime64[us]")
    assert seen[0] == np.datetime64("2026-05-01T12:30:00.250000")
    assert np.isnat(seen[1]) and np.isnat(seen[2])
    assert got["raw"].dtype == object and list(got["raw"]) == RAW
    # A typed column keeps its type without rows.
    empty = cars.execute("SELECT laps, seen_at FROM cars WHERE id = 'zz'").fetchnumpy()
    assert empty["laps"].dtype == np.int64 and empty["seen_at"].dtype == "datetime64[us]"


def test_integer_with_nulls_is_masked(db):
    db.execute("CREATE MAP m (n INTEGER) WITH (channels = 1)")
    db.execute("INSERT INTO m (id, position, embedding, n) VALUES "
               "('a', [0,0,0], [1], 7), ('b', [1,1,1], [1], NULL)")
    n = db.execute("SELECT n FROM m ORDER BY id").fetchnumpy()["n"]
    assert isinstance(n, np.ma.MaskedArray) and n.dtype == np.int64
    assert n[0] == 7 and n.mask.tolist() == [False, True]


def test_to_arrow_types_as_copy(cars):
    t = cars.execute("SELECT * FROM cars ORDER BY id").to_arrow()
    expected = pa.schema([
        ("label", pa.string()), ("speed", pa.float64()), ("laps", pa.int64()),
        ("ok", pa.bool_()), ("seen_at", pa.timestamp("us", tz="UTC")), ("raw", pa.binary()),
    ])
    assert t.select(USER).schema == expected
    assert t.select(USER).to_pydict() == {
        "label": LABEL, "speed": SPEED, "laps": LAPS, "ok": OK, "seen_at": SEEN, "raw": RAW,
    }
    assert t.column("raw").null_count == 2
    # A column of NULLs only, or no rows, keeps its type.
    t = cars.execute("SELECT speed, seen_at FROM cars WHERE id <> 'a'").to_arrow()
    assert t.schema == pa.schema([("speed", pa.float64()),
                                  ("seen_at", pa.timestamp("us", tz="UTC"))])
    assert t.column("seen_at").null_count == 2
    t = pa.table(cars.execute("SELECT raw, laps FROM cars WHERE id = 'zz'"))
    assert t.schema == pa.schema([("raw", pa.binary()), ("laps", pa.int64())])
    assert pc.sum(cars.execute("SELECT laps FROM cars").to_arrow()["laps"]).as_py() == 3 - 2**53


def test_round_trip_through_arrow_and_numpy(cars):
    """What the reads give is what insert takes: the values come back the same."""
    a = cars.execute("SELECT * FROM cars ORDER BY id").to_arrow()
    npy = cars.execute("SELECT * FROM cars ORDER BY id").fetchnumpy()
    cars.execute(f"CREATE MAP arrow {SCHEMA} WITH (channels = 2, bounds = 100)")
    cars.execute(f"CREATE MAP numpy {SCHEMA} WITH (channels = 2, bounds = 100)")
    pos = np.stack(npy["position"]).astype(np.float32)
    emb = np.stack(npy["embedding"]).astype(np.float32)
    cars.insert("arrow", IDS, "car", pos, emb, columns={c: a.column(c) for c in USER})
    cars.insert("numpy", IDS, "car", pos, emb, columns={c: npy[c] for c in USER})
    want = cars.execute("SELECT * FROM cars ORDER BY id").fetchall()
    assert cars.execute("SELECT * FROM arrow ORDER BY id").fetchall() == want
    assert cars.execute("SELECT * FROM numpy ORDER BY id").fetchall() == want


def test_insert_errors_name_the_column_and_row_and_change_nothing(cars):
    before = cars.execute("SELECT * FROM cars ORDER BY id").fetchall()
    pos, emb = np.zeros((2, 3), np.float32), np.ones((2, 2), np.float32)

    def insert(**columns):
        cars.insert("cars", ["d", "e"], "car", pos, emb, columns=columns)

    with pytest.raises(TypeError, match=r"columns\['speed'\]\[1\]: expected REAL, found str"):
        insert(speed=[1.0, "fast"])
    with pytest.raises(TypeError, match=r"columns\['laps'\]\[0\]: expected INTEGER, found 2.5"):
        insert(laps=[2.5, 1])
    with pytest.raises(TypeError, match=r"columns\['ok'\]\[1\]: expected BOOLEAN, found int"):
        insert(ok=[True, 1])
    with pytest.raises(TypeError, match=r"columns\['seen_at'\]\[0\]: 'soon' is not a timestamp"):
        insert(seen_at=["soon", None])
    with pytest.raises(TypeError, match=r"columns\['raw'\]\[1\]: 'xyz' is not hex"):
        insert(raw=[b"", "xyz"])
    with pytest.raises(TypeError, match=r"columns\['laps'\]\[1\]: expected INTEGER within"):
        insert(laps=[1, 2**60])
    with pytest.raises(ValueError, match=r"columns\['label'\] has 1 values for 2 ids"):
        insert(label=["x"])
    with pytest.raises(ValueError, match="map 'cars' has no user column 'colour'"):
        insert(colour=["x", "y"])
    with pytest.raises(tensormap.Error, match="column 'label' is NOT NULL"):
        insert(label=["x", None])
    # A duplicate id after good values: nothing of the batch stays.
    with pytest.raises(tensormap.Error):
        cars.insert("cars", ["d", "a"], "car", pos, emb, columns={"label": ["x", "y"]})
    assert cars.execute("SELECT * FROM cars ORDER BY id").fetchall() == before


def test_not_null_without_default_needs_columns(db):
    db.execute("CREATE MAP p (plate TEXT NOT NULL, n INTEGER) WITH (channels = 1)")
    pos, emb = np.zeros((1, 3), np.float32), np.ones((1, 1), np.float32)
    with pytest.raises(tensormap.Error, match="plate"):
        db.insert("p", ["a"], "t", pos, emb)
    with pytest.raises(tensormap.Error, match="plate"):
        db.insert("p", ["a"], "t", pos, emb, columns={"n": [1]})
    db.insert("p", ["a"], "t", pos, emb, columns={"plate": np.array(["AB-1"])})
    assert db.execute("SELECT plate, n FROM p").fetchall() == [("AB-1", None)]


def test_insert_accepts_numpy_and_datetime_forms(db):
    db.execute("CREATE MAP t (at TIMESTAMP, n INTEGER, ok BOOLEAN, r REAL) WITH (channels = 1)")
    pos, emb = np.zeros((3, 3), np.float32), np.ones((3, 1), np.float32)
    at = np.array(["2026-05-01T00:00:00.5", "NaT", "1969-12-31T23:59:59"], "datetime64[ms]")
    db.insert("t", ["a", "b", "c"], "t", pos, emb, columns={
        "at": at,
        "n": np.ma.masked_array([1, 2, 3], mask=[False, True, False]),
        "ok": np.array([True, False, True]),
        "r": np.array([1, 2, 3], np.int32),
    })
    db.insert("t", ["d", "e"], "t", pos[:2], emb[:2], columns={
        "at": [dt.datetime(2026, 5, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
               dt.date(2026, 5, 2)],
    })
    rows = db.execute("SELECT id, at, n, ok, r FROM t ORDER BY id").fetchall()
    assert rows == [
        ("a", dt.datetime(2026, 5, 1, 0, 0, 0, 500000, tzinfo=UTC), 1, True, 1.0),
        ("b", None, None, False, 2.0),
        ("c", dt.datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC), 3, True, 3.0),
        ("d", dt.datetime(2026, 5, 1, 12, 0, tzinfo=UTC), None, None, None),
        ("e", dt.datetime(2026, 5, 2, tzinfo=UTC), None, None, None),
    ]


def test_properties_beside_the_typed_reads(cars):
    ids, _ = cars.nearest("cars", [1, 2, 3], 3)
    assert ids == ["a", "b", "c"]
    p = cars.properties("cars", ids)
    assert list(p) == USER
    assert list(p["label"]) == LABEL and list(p["raw"]) == RAW
    np.testing.assert_array_equal(p["laps"], np.array(LAPS, np.int64))
    assert p["seen_at"].dtype == "datetime64[us]" and np.isnat(p["seen_at"][1])
    assert list(cars.properties("cars", ["c", "a"], columns=["laps"])) == ["laps"]
    assert list(cars.properties("cars", ["c", "a"], "label")["label"]) == ["unnamed", "red"]
    with pytest.raises(tensormap.Error, match="zz"):
        cars.properties("cars", ["a", "zz"])
    with pytest.raises(ValueError, match="no user column 'colour'"):
        cars.properties("cars", ["a"], columns=["colour"])
