"""tensormap inside Apache Spark: the engine as the per-partition worker of a partitioned
export (``COPY map TO 'dir' WITH (partition_by = 'octree', depth = d)``).

Each function prunes the export's cells by its manifest (``_tensormap.json``: the cells'
and files' boxes), runs tensormap on every Spark partition through ``mapInArrow`` — an
in-memory database opened in the task from the partition's Arrow batches — and merges the
partitions' answers exactly, so that the result is the one a single database holding all
the objects gives (docs/scale-out.md)::

    from pyspark.sql import SparkSession
    import tensormap.spark as tms

    spark = SparkSession.builder.master("local[*]").getOrCreate()
    scene = tms.read(spark, "out/")                     # a DataFrame with the manifest
    tms.within(scene, [0, 0, 0], 25.0)                   # pyarrow.Table (id, distance)
    tms.nearest(scene, [10, 0, 5], 8)                    # pyarrow.Table (id, distance)
    tms.attention(scene, q, 5, region=([0, 0, 0], 100))  # pyarrow.Table (id, weight)
    pairs = tms.distance_join(scene, probes, 2.0)        # DataFrame (left_id, right_id, distance)
    tms.sql(scene, "SELECT type, COUNT(*) FROM part GROUP BY type")   # pyarrow.Table
    tms.embed(docs, "model.vllm", "text")                # DataFrame + text_embedding

pyspark is an optional dependency (``pip install 'tensormap[spark]'``), imported when a
function runs. The small answers (``within``, ``nearest``, ``attention``, ``sql``) come back
to the driver as pyarrow Tables; ``distance_join`` and ``embed`` stay DataFrames.
"""

import math
import os

import numpy as np

from . import _spark_sql
from ._spark_layout import MANIFEST, Layout, LayoutError

__all__ = [
    "LayoutError",
    "SparkQueryError",
    "attention",
    "distance_join",
    "embed",
    "layout",
    "nearest",
    "read",
    "sql",
    "within",
]

# The column metadata key of the `cell` column that carries the manifest.
META_KEY = "tensormap_manifest"

SparkQueryError = _spark_sql.SparkQueryError


def _pyspark():
    try:
        import pyspark.sql.functions as F
    except ImportError as e:  # pragma: no cover - exercised only without pyspark
        raise ImportError(
            "tensormap.spark needs pyspark (pip install 'tensormap[spark]'): " + str(e)
        ) from None
    return F


# -- reading ----------------------------------------------------------------------------


def read(spark, path):
    """The partitioned export at ``path`` (any path Spark reads: a folder, ``s3a://...``)
    as a DataFrame with columns ``id, type, x, y, z, embedding, confidence, geometry,
    bbox, cell`` and the manifest attached to its ``cell`` column's metadata (it survives
    ``where`` and ``select``). Raises LayoutError when the folder has no manifest (not a
    partitioned export, or an unfinished one) or one of another version."""
    _pyspark()
    root = str(path).rstrip("/")
    text = _read_manifest(spark, root)
    if not text.strip():
        raise LayoutError(f"'{root}/{MANIFEST}' is empty")
    lay = Layout.parse(text)
    df = spark.read.option("basePath", root).parquet(root)
    return df.withMetadata(lay.column, {META_KEY: lay.to_json()})


# The manifest is at most this many bytes (a depth-8 export lists 8^8 cells at most by
# ranges; a larger file is not one of ours).
_MANIFEST_MAX_BYTES = 64 << 20


def _read_manifest(spark, root):
    """The text of ``root/_tensormap.json``, read through Hadoop's FileSystem (any scheme
    Spark reads). Spark's DataFrame readers skip names starting with ``_`` even when given
    one explicitly, so ``spark.read.text`` would see an empty file."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    fpath = jvm.org.apache.hadoop.fs.Path(f"{root}/{MANIFEST}")
    fs = fpath.getFileSystem(conf)
    if not fs.exists(fpath):
        raise LayoutError(
            f"'{root}' has no {MANIFEST}: not a partitioned export of tensormap "
            "(write one with COPY map TO 'dir' WITH (partition_by = 'octree', depth = d)), "
            "or an export that did not finish"
        )
    size = fs.getFileStatus(fpath).getLen()
    if size > _MANIFEST_MAX_BYTES:
        raise LayoutError(f"'{root}/{MANIFEST}' is {size} bytes: not a tensormap manifest")
    stream = fs.open(fpath)
    try:
        out = jvm.java.io.ByteArrayOutputStream()
        jvm.org.apache.hadoop.io.IOUtils.copyBytes(stream, out, 65536, False)
        return bytes(out.toByteArray()).decode("utf-8")
    except UnicodeDecodeError as e:
        raise LayoutError(f"'{root}/{MANIFEST}' is not UTF-8 text: {e}") from None
    finally:
        stream.close()


def layout(df):
    """The manifest of a DataFrame from :func:`read` (a ``Layout``)."""
    if "cell" not in df.columns:
        raise LayoutError(
            "the DataFrame has no 'cell' column: pass one from tensormap.spark.read "
            "(or a where/select of it that keeps 'cell')"
        )
    meta = df.schema["cell"].metadata or {}
    if META_KEY not in meta:
        raise LayoutError(
            "the DataFrame's 'cell' column carries no tensormap manifest: pass one from "
            "tensormap.spark.read"
        )
    return Layout.parse(meta[META_KEY])


def _collect(df):
    """A DataFrame's rows on the driver as a pyarrow Table."""
    import pyarrow as pa

    if hasattr(df, "toArrow"):
        return df.toArrow()
    return pa.Table.from_pandas(df.toPandas(), preserve_index=False)  # pragma: no cover


def _point(p, what):
    a = np.asarray(p, dtype=np.float64).reshape(-1)
    if a.shape != (3,) or not np.all(np.isfinite(a)):
        raise ValueError(f"{what} must be 3 finite numbers, found {p!r}")
    return a


def _radius(r):
    if not isinstance(r, (int, float, np.floating, np.integer)) or isinstance(r, bool):
        raise TypeError(f"radius must be a number, found {type(r).__name__}")
    r = float(r)
    if not (math.isfinite(r) and r > 0):
        raise ValueError(f"radius must be a finite number > 0, found {r}")
    return r


def _k(k):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, found {k!r}")
    return int(k)


def _cells(df, lay, cells):
    """``df`` restricted to ``cells`` (partition pruning: Spark lists those folders only)."""
    F = _pyspark()
    return df.where(F.col(lay.column).isin([int(c) for c in cells]))


# -- the engine in a task -----------------------------------------------------------------


def _open(batches, lay, embeddings=False):
    """An in-memory database whose map ``part`` holds the rows of ``batches`` (Arrow record
    batches with ``id, x, y, z`` and, when ``embeddings``, ``embedding``). The field is
    kept minimal (resolution 8, no splat reach): the per-partition calls read objects only.
    Returns ``(db, ids, positions, embeddings or None)``; ``db`` is None without rows."""
    import pyarrow as pa

    import tensormap

    table = pa.Table.from_batches(batches) if batches else None
    if table is None or table.num_rows == 0:
        return None, [], None, None
    ids = table.column("id").to_pylist()
    pos = np.stack(
        [table.column(a).to_numpy().astype(np.float32) for a in ("x", "y", "z")], axis=1
    )
    channels = lay.channels if embeddings else 1
    if embeddings:
        col = table.column("embedding").combine_chunks()
        emb = col.flatten().to_numpy().astype(np.float32).reshape(len(ids), channels)
    else:
        emb = np.zeros((len(ids), 1), dtype=np.float32)
    db = tensormap.connect()
    db.create_map("part", resolution=8, channels=channels, bounds=lay.bounds, splat_radius=0)
    db.insert("part", ids, "", pos, emb)
    return db, ids, pos, (emb if embeddings else None)


def _schema_ids(value_name, value_type="float"):
    return f"id string, {value_name} {value_type}"


def _merge(table, value, k=None, descending=False):
    """Rows sorted by ``value`` (ties by id), the first ``k``."""
    import pyarrow as pa

    ids = np.array(table.column("id").to_pylist(), dtype=object)
    vals = table.column(value).to_numpy()
    key = -vals.astype(np.float64) if descending else vals.astype(np.float64)
    order = np.lexsort((ids.astype(str) if len(ids) else ids, key))
    if k is not None:
        order = order[:k]
    return pa.table(
        {"id": pa.array(ids[order].tolist(), pa.string()), value: pa.array(vals[order])}
    )


# -- radius, nearest, attention ------------------------------------------------------------


def within(df, center, radius):
    """The objects within ``radius`` of ``center``: a pyarrow Table ``(id, distance)``,
    nearest first (ties by id) — the rows of ``db.within`` on one database. Reads only the
    cells whose points' box the ball reaches."""
    lay = layout(df)
    c = _point(center, "center")
    r = _radius(radius)
    cells = lay.cells_near(c, r)
    return _within_cells(df, lay, cells, c, r)


def _within_cells(df, lay, cells, c, r):
    import pyarrow as pa

    if not cells:
        return pa.table({"id": pa.array([], pa.string()), "distance": pa.array([], pa.float32())})

    def run(batches):
        db, _, _, _ = _open(list(batches), lay)
        if db is None:
            return
        ids, dist = db.within("part", c, r)
        yield pa.record_batch({"id": pa.array(ids, pa.string()), "distance": dist})

    part = _cells(df, lay, cells).select("id", "x", "y", "z")
    out = _collect(part.mapInArrow(run, _schema_ids("distance")))
    return _merge(out, "distance")


def _nearest_cells(df, lay, cells, p, k):
    import pyarrow as pa

    def run(batches):
        db, _, _, _ = _open(list(batches), lay)
        if db is None:
            return
        ids, dist = db.nearest("part", p, k)
        yield pa.record_batch({"id": pa.array(ids, pa.string()), "distance": dist})

    part = _cells(df, lay, cells).select("id", "x", "y", "z")
    return _collect(part.mapInArrow(run, _schema_ids("distance")))


def nearest(df, point, k):
    """The ``k`` objects nearest ``point``: a pyarrow Table ``(id, distance)``, nearest
    first (ties by id). At most two passes: the cells nearest the point until they hold
    ``k`` rows (and those within a density guess of the k-th distance), then every other
    cell whose box the k-th distance still reaches."""
    import pyarrow as pa

    lay = layout(df)
    p = _point(point, "point")
    k = _k(k)
    order, dist, rows = lay.cell_order(p)
    if len(order) == 0:
        return pa.table({"id": pa.array([], pa.string()), "distance": pa.array([], pa.float32())})
    first = int(np.searchsorted(np.cumsum(rows), k)) + 1
    # Each pass is a Spark job (~0.2 s of fixed cost at least), so the first pass also
    # takes the cells within twice the radius that holds k objects at those cells' mean
    # density: the second pass then runs only when the data is much sparser there than
    # guessed. Exactness does not rest on the guess (the second pass checks the reach).
    side = 2.0 * lay.bounds / (1 << lay.depth)
    density = float(rows[:first].sum()) / (min(first, len(order)) * side**3)
    guess = 2.0 * (3.0 * k / (4.0 * math.pi * density)) ** (1.0 / 3.0) if density > 0 else 0.0
    done = set(int(c) for c in order[:first]) | set(int(c) for c in order[dist <= guess])
    best = _merge(_nearest_cells(df, lay, sorted(done), p, k), "distance", k)
    reach = math.inf
    if best.num_rows == k:
        reach = float(best.column("distance")[k - 1].as_py())
    more = [
        int(c)
        for c, d in zip(order, dist)
        if int(c) not in done and d <= reach + lay.slack(0 if math.isinf(reach) else reach)
    ]
    if more:
        second = _nearest_cells(df, lay, more, p, k)
        best = _merge(pa.concat_tables([best, second.cast(best.schema)]), "distance", k)
    return best


def attention(df, query, k, region=None):
    """The top ``k`` objects by attention weight ``softmax(q · e / √channels)`` over all
    objects, or over those within ``region = (center, radius)``: a pyarrow Table ``(id,
    weight)``, highest first (ties by id). Each partition gives its top k and the
    log-sum-exp of its logits; the weights are renormalised over all partitions, so they
    are the single database's."""
    import pyarrow as pa
    from pyspark import TaskContext

    lay = layout(df)
    q = np.asarray(query, dtype=np.float32).reshape(-1)
    if q.shape != (lay.channels,) or not np.all(np.isfinite(q)):
        raise ValueError(
            f"query must be {lay.channels} finite numbers (the map's channels), found shape {q.shape}"
        )
    k = _k(k)
    if region is None:
        cells = [int(c) for c in lay.cell_ids]
        c = r = None
    else:
        try:
            center, radius = region
        except (TypeError, ValueError):
            raise ValueError("region must be (center, radius)") from None
        c, r = _point(center, "region center"), _radius(radius)
        cells = lay.cells_near(c, r)
    empty = pa.table({"id": pa.array([], pa.string()), "weight": pa.array([], pa.float64())})
    if not cells:
        return empty
    scale = 1.0 / math.sqrt(lay.channels)

    def run(batches):
        db, ids, _, emb = _open(list(batches), lay, embeddings=True)
        if db is None:
            return
        if c is None:
            top, w = db.attention("part", q, k)
            cand = emb
        else:
            top, w = db.attention("part", q, k, center=c, radius=r)
            inside, _ = db.within("part", c, r)
            at = {i: n for n, i in enumerate(ids)}
            cand = emb[[at[i] for i in inside]] if inside else emb[:0]
        if not top:
            return
        logits = cand.astype(np.float64) @ q.astype(np.float64) * scale
        hi = logits.max()
        lse = hi + math.log(np.exp(logits - hi).sum())
        part = TaskContext.get().partitionId()
        yield pa.record_batch(
            {
                "id": pa.array(top, pa.string()),
                "weight": pa.array(np.asarray(w, dtype=np.float64)),
                "lse": pa.array(np.full(len(top), lse)),
                "part": pa.array(np.full(len(top), part, dtype=np.int64)),
            }
        )

    cols = ["id", "x", "y", "z", "embedding"]
    out = _collect(
        _cells(df, lay, cells)
        .select(*cols)
        .mapInArrow(run, "id string, weight double, lse double, part long")
    )
    if out.num_rows == 0:
        return empty
    lse = out.column("lse").to_numpy()
    parts = out.column("part").to_numpy()
    _, first = np.unique(parts, return_index=True)
    each = lse[first]
    top = each.max()
    total = top + math.log(np.exp(each - top).sum())
    weight = out.column("weight").to_numpy() * np.exp(lse - total)
    merged = pa.table({"id": out.column("id"), "weight": pa.array(weight)})
    return _merge(merged, "weight", k, descending=True)


# -- distance join ----------------------------------------------------------------------------


def distance_join(left, right, radius, buckets=None):
    """Every pair ``(left_id, right_id, distance)`` of a left and a right object at most
    ``radius`` apart, as a DataFrame (lazy: nothing runs until it is read). The left side's
    cells, in Morton order, are cut into ``buckets`` runs of about equal rows (default: the
    session's default parallelism, at least one bucket per 2M left rows, at most one per
    cell). One Spark task per bucket reads the bucket's left cells and every right cell
    whose points' box comes within ``radius`` of one of them, and joins them with one
    tensormap database (its R-tree) of the smaller of the two: no shuffle, one Python task
    per bucket. No duplicates, none missed (the proof is in the code). Both sides must be
    exports of maps with the same channels and bounds."""
    F = _pyspark()
    import pyarrow as pa

    lay = layout(left)
    other = layout(right)
    r = _radius(radius)
    if lay.channels != other.channels:
        raise ValueError(
            f"the join's sides have different channels: left '{lay.map_name}' has "
            f"{lay.channels}, right '{other.map_name}' has {other.channels}"
        )
    if lay.bounds != other.bounds:
        raise ValueError(
            f"the join's sides have different bounds: left '{lay.map_name}' has "
            f"{lay.bounds}, right '{other.map_name}' has {other.bounds}"
        )
    nb = _buckets(left, lay, buckets)
    # Why every pair is found exactly once. Let L (left) and R (right) be at most r apart.
    # L lies in one left cell, so in one bucket b (_bucket_cells cuts the cells into
    # disjoint runs). R lies in one right cell, whose points' box holds R; L's cell's box
    # holds L; so the two boxes are at most r apart, and _right_cells lists R's cell for b
    # (box distance within r plus the float32 slack). Task b therefore holds both L and R,
    # once each (R's cell is read once per bucket), and searches around every row of one
    # side in a database of the other: the pair is found, once. No other task holds L: no
    # duplicates. A bucket whose left or right cells
    # are empty holds no pair and is left out.
    cols = ["id", "x", "y", "z"]
    LEFT, RIGHT = 0, 1
    parts = []
    for cells in _bucket_cells(lay, nb):
        near = _right_cells(lay, other, cells, r)
        if not near:
            continue
        one = (
            _cells(left, lay, cells)
            .select(*cols, F.lit(LEFT).cast("byte").alias("side"))
            .unionByName(
                _cells(right, other, near).select(*cols, F.lit(RIGHT).cast("byte").alias("side"))
            )
        )
        # coalesce(1), not repartition: the bucket's files are read by one task, with no
        # shuffle.
        parts.append(one.coalesce(1))

    def join(batches):
        import pyarrow.compute as pc

        from tensormap import _tensormap

        batches = [b for b in batches if b.num_rows]
        if not batches:
            return
        t = pa.Table.from_batches(batches)
        is_left = pc.equal(t.column("side"), LEFT)
        lt, rt = t.filter(is_left), t.filter(pc.invert(is_left))
        if lt.num_rows == 0 or rt.num_rows == 0:
            return
        # Index the smaller side and search around each row of the other: loading a row
        # (its id, the R-tree) costs more than one radius search, and the pairs are the
        # same either way (the f32 distance is symmetric).
        small, large = (lt, rt) if lt.num_rows <= rt.num_rows else (rt, lt)
        db, _, _, _ = _open(small.to_batches(), lay)
        centers = np.stack([large.column(a).to_numpy() for a in ("x", "y", "z")], axis=1)
        query, ids, dist = _tensormap.within_many(db, "part", centers.astype(np.float32), r)
        db.close()
        if len(query) == 0:
            return
        found = pa.array(ids, pa.string())
        searched = large.column("id").take(pa.array(query)).combine_chunks()
        left_ids, right_ids = (found, searched) if small is lt else (searched, found)
        yield pa.record_batch(
            {"left_id": left_ids, "right_id": right_ids, "distance": pa.array(dist, pa.float32())}
        )

    schema = "left_id string, right_id string, distance float"
    if not parts:
        return left.sparkSession.createDataFrame([], schema)
    both = parts[0]
    for p in parts[1:]:
        both = both.unionByName(p)
    # A union keeps its children's partitions: partition b is bucket b, one mapInArrow task
    # each. A Python task costs Spark ~0.2 s whatever it holds (a worker, the closure, Arrow
    # both ways), so the join is B of them and nothing more.
    return both.mapInArrow(join, schema)


def _bucket_cells(lay, nb):
    """The left cells (ids) cut into at most ``nb`` runs in Morton order, each of about
    ``rows / nb`` rows (a cell is never split: a run may hold more when one cell does).
    Runs are contiguous so that a right cell near the cut between two runs is the only one
    read twice."""
    order = np.argsort(lay.cell_ids, kind="stable")
    ids, rows = lay.cell_ids[order], lay.cell_rows[order]
    if len(ids) == 0:
        return []
    # Cell i goes to run floor(nb * (rows before its middle) / total).
    total = max(int(rows.sum()), 1)
    mid = np.cumsum(rows) - rows / 2.0
    run = np.minimum((mid * nb / total).astype(np.int64), nb - 1)
    return [[int(c) for c in ids[run == b]] for b in np.unique(run)]


def _right_cells(lay, other, cells, r):
    """The right cells (ids) whose points' box lies within ``r`` of the box of one of the
    left ``cells``."""
    if len(other.cells) == 0 or not cells:
        return []
    left_boxes = lay.cell_boxes[lay.cell_position(np.array(cells, dtype=np.int64))]
    reach = r + lay.slack(r)
    lo, hi = other.cell_boxes[:, :3], other.cell_boxes[:, 3:]
    keep = np.zeros(len(other.cells), dtype=bool)
    for box in left_boxes:
        gap = np.maximum(np.maximum(lo - box[3:], box[:3] - hi), 0.0)
        keep |= np.sqrt((gap * gap).sum(axis=1)) <= reach
    return [int(c) for c in other.cell_ids[keep]]


# Left rows per bucket at most (by default): one bucket's objects sit in one task's memory.
_BUCKET_ROWS = 2_000_000


def _buckets(left, lay, buckets):
    """The number of buckets of a distance join: ``buckets`` when given (an integer >= 1),
    else the session's default parallelism, raised to one per ``_BUCKET_ROWS`` left
    rows, at most the number of cells (more would only leave buckets empty)."""
    if buckets is not None:
        if isinstance(buckets, bool) or not isinstance(buckets, (int, np.integer)) or buckets < 1:
            raise ValueError(f"buckets must be an integer >= 1, found {buckets!r}")
        return int(buckets)
    par = left.sparkSession.sparkContext.defaultParallelism
    want = max(par, -(-lay.rows // _BUCKET_ROWS))
    return max(1, min(want, len(lay.cells)))


# -- TensorQL per partition -------------------------------------------------------------------


def sql(df, statement, params=None):
    """Runs the TensorQL SELECT ``statement`` (its map named ``part``) on every partition
    and merges the answers into a pyarrow Table. Exact per row, hence globally: filters,
    projections, ``WITHIN``, ``DISTINCT``. Merged: ``ORDER BY`` (by selected columns) with
    ``LIMIT``, and the aggregates ``COUNT``, ``SUM``, ``MIN``, ``MAX`` with ``GROUP BY``.
    Refused with SparkQueryError: what no merge makes exact (``AVG``, ``ATTENTION``,
    ``HAVING``, ``OFFSET``, ``DISTINCT`` aggregates, joins, ``VOXELS``) — docs/scale-out.md
    lists the rewrites."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    import tensormap

    lay = layout(df)
    plan = _spark_sql.plan(statement)
    values = list(params) if params is not None else None
    # The statement on an empty map, on the driver: errors of TensorQL surface here, before
    # any task, and it gives the answer's columns when no partition has rows.
    probe = tensormap.connect()
    probe.create_map("part", resolution=8, channels=lay.channels, bounds=lay.bounds, splat_radius=0)
    empty = probe.execute(plan.statement, values).to_arrow()

    def run(batches):
        import tensormap

        batches = list(batches)
        if not batches or sum(b.num_rows for b in batches) == 0:
            return
        t = pa.Table.from_batches(batches)
        n = t.num_rows
        db = tensormap.connect()
        db.create_map("part", resolution=8, channels=lay.channels, bounds=lay.bounds, splat_radius=0)
        emb = t.column("embedding").combine_chunks().flatten().to_numpy()
        db.insert(
            "part",
            t.column("id").to_pylist(),
            t.column("type").to_pylist(),
            np.stack([t.column(a).to_numpy() for a in ("x", "y", "z")], axis=1).astype(np.float32),
            emb.astype(np.float32).reshape(n, lay.channels),
            t.column("confidence").to_numpy().astype(np.float32),
        )
        result = db.execute(plan.statement, values).to_arrow()
        sink = pa.BufferOutputStream()
        with ipc.new_stream(sink, result.schema) as w:
            w.write_table(result)
        yield pa.record_batch({"payload": pa.array([sink.getvalue().to_pybytes()], pa.binary())})

    cols = ["id", "type", "x", "y", "z", "embedding", "confidence"]
    out = _collect(df.select(*cols).mapInArrow(run, "payload binary"))
    tables = [ipc.open_stream(p.as_py()).read_all() for p in out.column("payload")]
    return _spark_sql.merge(plan, tables, empty)


# -- models -----------------------------------------------------------------------------------

_MODELS = {}


def _model_db(path):
    """A per-process database holding the stored model at ``path`` as ``m``."""
    import tensormap

    db = _MODELS.get(path)
    if db is None:
        db = tensormap.connect()
        quoted = path.replace("'", "''")
        db.execute(f"LOAD MODEL m FROM '{quoted}'")
        _MODELS[path] = db
    return db


def embed(df, model_path, text_column, output=None, batch_size=256):
    """``df`` with a column ``output`` (default ``<text_column>_embedding``, array of
    float): the stored model at ``model_path`` (a ``.vllm`` file or a sentence encoder's
    folder) embedding ``text_column`` — ``m_embed`` of the model. The model is shipped to
    the executors once (``SparkContext.addFile``), loaded once per Python worker, and run
    on ``batch_size`` texts at a time. A NULL text gives a NULL embedding."""
    _pyspark()
    import pyarrow as pa
    from pyspark import SparkFiles
    from pyspark.sql.types import ArrayType, FloatType, StructField, StructType

    if text_column not in df.columns:
        raise ValueError(f"no column '{text_column}' (the columns are {', '.join(df.columns)})")
    if not os.path.exists(model_path):
        raise FileNotFoundError(f"no model at '{model_path}'")
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise ValueError(f"batch_size must be an integer >= 1, found {batch_size!r}")
    output = output or f"{text_column}_embedding"
    if output in df.columns:
        raise ValueError(f"the DataFrame already has a column '{output}'")
    path = os.path.abspath(model_path).rstrip("/")
    spark = df.sparkSession
    spark.sparkContext.addFile(path, recursive=os.path.isdir(path))
    name = os.path.basename(path)
    schema = StructType(df.schema.fields + [StructField(output, ArrayType(FloatType()))])

    def run(batches):
        from tensormap import _tensormap

        db = _model_db(SparkFiles.get(name))
        for b in batches:
            texts = b.column(text_column).to_pylist()
            vectors = [None] * len(texts)
            present = [i for i, t in enumerate(texts) if t is not None]
            for s in range(0, len(present), batch_size):
                chunk = present[s : s + batch_size]
                got = _tensormap.embed_texts(db, "m", [texts[i] for i in chunk])
                for i, v in zip(chunk, got):
                    vectors[i] = v.tolist()
            col = pa.array(vectors, pa.list_(pa.float32()))
            yield pa.RecordBatch.from_arrays(
                list(b.columns) + [col], names=list(b.schema.names) + [output]
            )

    return df.mapInArrow(run, schema)
