"""The layout of a partitioned export, from its ``_tensormap.json`` manifest: which cells and
files exist, their boxes, and the routing of points to cells and pieces — the arithmetic of
the Rust writer (interop/src/partition.rs, kdb.rs), redone in NumPy so that a point lands
where the writer put it, bit for bit.

NumPy only (no pyspark): ``tensormap.spark`` uses it on the driver and in Spark's tasks.
"""

import json

import numpy as np

MANIFEST = "_tensormap.json"
FORMAT = "tensormap-octree-parquet"
VERSION = 1

# Bits per axis of a row's Morton key (interop/src/rows.rs, KEY_BITS).
KEY_BITS = 21

# The deepest cut tree read (the writer stops at 24 levels).
MAX_TREE_DEPTH = 64


class LayoutError(ValueError):
    """A manifest that is missing, of another version, or malformed."""


def _need(obj, key, kind, where):
    if not isinstance(obj, dict) or key not in obj:
        raise LayoutError(f"{MANIFEST}: {where} has no '{key}'")
    value = obj[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise LayoutError(f"{MANIFEST}: {where}.{key} must be {kind.__name__}, found {value!r}")
    return value


def _box(value, where):
    if not (isinstance(value, list) and len(value) == 6):
        raise LayoutError(f"{MANIFEST}: {where} must be 6 numbers, found {value!r}")
    try:
        b = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise LayoutError(f"{MANIFEST}: {where} must be 6 numbers: {e}") from None
    return b


def morton(ix, iy, iz, depth):
    """The Morton codes of cells with indices ``ix, iy, iz`` (uint64 arrays) at ``depth``."""
    m = np.zeros(np.shape(ix), dtype=np.uint64)
    for bit in range(depth):
        b = np.uint64(bit)
        for axis, v in enumerate((ix, iy, iz)):
            m |= ((v >> b) & np.uint64(1)) << np.uint64(3 * bit + axis)
    return m


def box_distance(points, boxes):
    """Distances (float64) from ``points`` (n, 3) to ``boxes`` (n, 6) or (6,): 0 inside."""
    p = np.asarray(points, dtype=np.float64)
    lo = boxes[..., :3]
    hi = boxes[..., 3:]
    d = np.maximum(np.maximum(lo - p, p - hi), 0.0)
    return np.sqrt((d * d).sum(axis=-1))


class Layout:
    """A parsed manifest (``Layout.parse(text)``)."""

    def __init__(self, manifest):
        m = manifest
        fmt = m.get("format") if isinstance(m, dict) else None
        if fmt != FORMAT:
            raise LayoutError(
                f"{MANIFEST}: format is {fmt!r}, not {FORMAT!r}: not a partitioned export of tensormap"
            )
        version = m.get("version")
        if version != VERSION:
            raise LayoutError(
                f"{MANIFEST}: layout version {version!r}; this tensormap reads version {VERSION} "
                f"(export the map again with this version's COPY ... TO)"
            )
        self.manifest = m
        cfg = _need(m, "map", dict, "the manifest")
        self.map_name = _need(cfg, "name", str, "map")
        self.channels = _need(cfg, "channels", int, "map")
        self.bounds = _need(cfg, "bounds", float, "map")
        self.resolution = _need(cfg, "resolution", int, "map")
        if not (self.channels >= 1 and np.isfinite(self.bounds) and self.bounds > 0):
            raise LayoutError(f"{MANIFEST}: map channels/bounds out of range: {cfg!r}")
        scheme = _need(m, "scheme", dict, "the manifest")
        if scheme.get("kind") != "octree" or scheme.get("key") != "morton":
            raise LayoutError(f"{MANIFEST}: unknown cell scheme {scheme!r}")
        self.column = _need(scheme, "column", str, "scheme")
        self.depth = _need(scheme, "depth", int, "scheme")
        if not 0 <= self.depth <= 8:
            raise LayoutError(f"{MANIFEST}: scheme.depth {self.depth} is not in 0..=8")
        files = _need(m, "files", list, "the manifest")
        cells = _need(m, "cells", list, "the manifest")
        self.files = []
        for i, f in enumerate(files):
            where = f"files[{i}]"
            self.files.append(
                {
                    "path": _need(f, "path", str, where),
                    "cell": _need(f, "cell", int, where),
                    "rows": _need(f, "rows", int, where),
                    "bbox": _box(_need(f, "bbox", list, where), where + ".bbox"),
                }
            )
        self.cells = []
        self.split = {}
        for i, c in enumerate(cells):
            where = f"cells[{i}]"
            cell = _need(c, "cell", int, where)
            entry = {
                "cell": cell,
                "rows": _need(c, "rows", int, where),
                "bbox": _box(_need(c, "bbox", list, where), where + ".bbox"),
                "files": _need(c, "files", list, where),
            }
            for f in entry["files"]:
                if not (isinstance(f, int) and 0 <= f < len(self.files)):
                    raise LayoutError(f"{MANIFEST}: {where}.files names no file: {f!r}")
            tree = _need(c, "split", dict, where)
            self._check_tree(tree, where + ".split", 0)
            self.split[cell] = tree
            self.cells.append(entry)
        self.rows = sum(c["rows"] for c in self.cells)
        self.cell_ids = np.array([c["cell"] for c in self.cells], dtype=np.int64)
        self.cell_rows = np.array([c["rows"] for c in self.cells], dtype=np.int64)
        self.cell_boxes = np.array([c["bbox"] for c in self.cells]).reshape(-1, 6)
        self.file_boxes = np.array([f["bbox"] for f in self.files]).reshape(-1, 6)
        order = np.argsort(self.cell_ids)
        self._sorted_cells = self.cell_ids[order]
        self._sorted_pos = order

    def _check_tree(self, node, where, level):
        if level > MAX_TREE_DEPTH:
            raise LayoutError(f"{MANIFEST}: {where} is deeper than {MAX_TREE_DEPTH} cuts")
        if "file" in node:
            f = node["file"]
            if not (isinstance(f, int) and 0 <= f < len(self.files)):
                raise LayoutError(f"{MANIFEST}: {where}.file names no file: {f!r}")
            return
        axis = _need(node, "axis", int, where)
        _need(node, "at", float, where)
        if axis not in (0, 1, 2):
            raise LayoutError(f"{MANIFEST}: {where}.axis must be 0, 1 or 2, found {axis}")
        self._check_tree(_need(node, "below", dict, where), where + ".below", level + 1)
        self._check_tree(_need(node, "above", dict, where), where + ".above", level + 1)

    @classmethod
    def parse(cls, text):
        try:
            m = json.loads(text)
        except json.JSONDecodeError as e:
            raise LayoutError(f"{MANIFEST} is not JSON: {e}") from None
        return cls(m)

    def to_json(self):
        return json.dumps(self.manifest)

    def slack(self, radius=0.0):
        """How far a box test reaches past ``radius``: the engine measures distances in
        float32, so a pair it keeps may lie a few ulps past the float64 box distance."""
        return 1e-5 * (self.bounds + abs(radius))

    # -- routing --------------------------------------------------------------------

    def cell_index(self, positions):
        """Each point's cell index per axis at the manifest's depth (uint64, (n, 3))."""
        p = np.asarray(positions, dtype=np.float32).astype(np.float64)
        b = self.bounds
        cells = float(1 << KEY_BITS)
        t = np.floor((p + b) / (2.0 * b) * cells)
        t = np.clip(t, 0.0, cells - 1.0).astype(np.uint64)
        return t >> np.uint64(KEY_BITS - self.depth)

    def cell_of(self, positions):
        """Each point's cell (Morton code, int64)."""
        i = self.cell_index(positions)
        return morton(i[:, 0], i[:, 1], i[:, 2], self.depth).astype(np.int64)

    def cell_position(self, cell_ids):
        """The index in ``self.cells`` of each cell id, -1 for an unoccupied cell."""
        ids = np.asarray(cell_ids, dtype=np.int64)
        at = np.searchsorted(self._sorted_cells, ids)
        at = np.clip(at, 0, max(len(self._sorted_cells) - 1, 0))
        if len(self._sorted_cells) == 0:
            return np.full(ids.shape, -1, dtype=np.int64)
        found = self._sorted_cells[at] == ids
        return np.where(found, self._sorted_pos[at], -1)

    def piece_of(self, positions):
        """The file (index in ``self.files``) whose piece holds each point; -1 where the
        point's cell is not in the export."""
        p = np.asarray(positions, dtype=np.float32)
        cells = self.cell_of(p)
        pos = self.cell_position(cells)
        out = np.full(len(p), -1, dtype=np.int64)
        for c in np.unique(cells[pos >= 0]):
            mask = cells == c
            self._descend(self.split[int(c)], p, np.nonzero(mask)[0], out)
        return out

    def _descend(self, node, p, rows, out):
        if "file" in node:
            out[rows] = node["file"]
            return
        axis, at = node["axis"], np.float64(node["at"])
        below = p[rows, axis].astype(np.float64) < at
        self._descend(node["below"], p, rows[below], out)
        self._descend(node["above"], p, rows[~below], out)

    def cells_near(self, center, radius):
        """The ids of the cells whose points' box lies within ``radius`` of ``center``."""
        if len(self.cells) == 0:
            return []
        d = box_distance(np.asarray(center, dtype=np.float64)[None, :], self.cell_boxes)
        keep = d <= radius + self.slack(radius)
        return [int(c) for c in self.cell_ids[keep]]

    def cell_order(self, point):
        """Cell ids by the distance of their box from ``point``, with those distances."""
        d = box_distance(np.asarray(point, dtype=np.float64)[None, :], self.cell_boxes)
        order = np.lexsort((self.cell_ids, d))
        return self.cell_ids[order], d[order], self.cell_rows[order]

    def pieces_near(self, centers, radius):
        """For balls of ``radius`` around ``centers`` (n, 3): pairs ``(row, file)`` of every
        piece whose points' box the ball reaches (a superset of the pieces holding a point
        within ``radius``)."""
        c = np.asarray(centers, dtype=np.float32).astype(np.float64)
        n = len(c)
        reach = radius + self.slack(radius)
        if n == 0 or len(self.files) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        side = 2.0 * self.bounds / (1 << self.depth)
        span = int(np.ceil(2 * reach / side)) + 2
        rows_out, files_out = [], []
        if span**3 >= len(self.files):
            # Large balls: test every file's box, a block of points at a time.
            block = max(1, 4_000_000 // len(self.files))
            for s in range(0, n, block):
                d = box_distance(c[s : s + block, None, :], self.file_boxes[None, :, :])
                r, f = np.nonzero(d <= reach)
                rows_out.append(r + s)
                files_out.append(f)
        else:
            last = (1 << self.depth) - 1
            lo = self.cell_index(np.clip(c - reach, -self.bounds, self.bounds)).astype(np.int64)
            hi = self.cell_index(np.clip(c + reach, -self.bounds, self.bounds)).astype(np.int64)
            width = int((hi - lo).max()) + 1
            rng = np.arange(width)
            for dx in rng:
                for dy in rng:
                    for dz in rng:
                        idx = lo + np.array([dx, dy, dz])
                        ok = np.all(idx <= np.minimum(hi, last), axis=1)
                        if not ok.any():
                            continue
                        rows = np.nonzero(ok)[0]
                        u = idx[rows].astype(np.uint64)
                        cid = morton(u[:, 0], u[:, 1], u[:, 2], self.depth).astype(np.int64)
                        pos = self.cell_position(cid)
                        rows, pos = rows[pos >= 0], pos[pos >= 0]
                        for p in np.unique(pos):
                            sel = rows[pos == p]
                            for f in self.cells[int(p)]["files"]:
                                d = box_distance(c[sel], self.file_boxes[f])
                                hit = sel[d <= reach]
                                rows_out.append(hit)
                                files_out.append(np.full(len(hit), f, dtype=np.int64))
        if not rows_out:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(rows_out).astype(np.int64), np.concatenate(files_out).astype(np.int64)
