"""``TensorMap3D`` on the engine: the API of the PyTorch prototype class tensormap grew from.

Code written against that class keeps its calls — ``embed_object``,
``query_region``, ``spatial_attention``, ``save``, ``load`` — and their return shapes,
while the data lives in a tensormap map: the voxel field is the engine's sparse octree
(the same Gaussian splat, ``exp(-|d|²/2σ²)`` over a 7³ neighbourhood for σ = 2), and the
objects are indexed by its R-tree, so they can also be queried with TensorQL
(``tm.db.execute(...)``) or the typed calls (``tm.db.within(tm.name, ...)``).

Differences from the prototype, each deliberate:

- Arrays are NumPy (float32), not torch tensors.
- ``query_region``'s radius is in world units, as its docstring says. The prototype divides the
  radius by the grid scale (``radius / (64 / 1000)``) where it means to multiply, so its
  sphere of radius 100 covers the whole grid; here it covers 100 world units (6.4 cells).
- ``save`` writes a NumPy ``.npz`` archive (the settings and every object), not a torch
  checkpoint; ``load`` re-embeds the objects, which gives the same field.
- ``query_region`` returns its indices as a ``CellList``: a read-only sequence of ``(x, y,
  z)`` tuples that behaves as the prototype's list does (``len``, indexing and slicing,
  iteration, ``in``, equality with a list of tuples, ``list(cells)`` for a real list) but
  holds the cells as one int64 array (``cells.array``, also what ``np.asarray(cells)``
  gives), so no tuple is built unless one is asked for. ``spatial_attention`` over a
  ``CellList`` that ``query_region`` returned reuses the values read with it when the map
  has not changed since through this instance (an embed, or ``tm.db`` handed out: a write
  through another connection you keep yourself is not seen by a region read before it);
  over any other list of cells it reads them from the field.
- ``embed_object`` checks its arguments at once (raising ``tensormap.Error`` as the engine
  would) but stores objects in batches: up to ``batch_size`` objects wait in the instance
  and are inserted in one transaction (the engine's bulk path) before anything reads the
  map — any method, or ``tm.db`` — or by ``flush()``. ``batch_size=1`` stores each object
  in its own transaction as it is embedded.
"""

from collections.abc import Sequence

import numpy as np

from ._tensormap import _field_values, _ObjectBuffer, _region, connect

__all__ = ["CellList", "TensorMap3D"]


def _quote(name):
    """A map name as a TensorQL identifier."""
    return '"' + name.replace('"', '""') + '"'


class TensorMap3D:
    """3D Tensor Map for Spatial Embeddings, stored in a tensormap map.

    ``dimensions`` must be a cube whose side is a power of two in 8..2048 (the engine's
    octree); the world is ``[-bounds, bounds]³`` (the prototype's ``[-500, 500]``). ``db``: a
    ``tensormap.Database`` to keep the map in (default: a new one in memory); ``name``:
    the map's name there; ``batch_size``: how many embedded objects may wait before they
    are stored (see the module's docstring).
    """

    def __init__(
        self,
        dimensions=(64, 64, 64),
        channels=32,
        *,
        db=None,
        name="tensor_map",
        bounds=500.0,
        sigma=2.0,
        splat_radius=3,
        batch_size=65536,
    ):
        dimensions = tuple(int(d) for d in dimensions)
        if len(dimensions) != 3 or len(set(dimensions)) != 1:
            raise ValueError(f"dimensions must be a cube (n, n, n), found {dimensions}")
        self.dimensions = dimensions
        self.channels = int(channels)
        self.bounds = float(bounds)
        self._db = connect() if db is None else db
        self.name = name
        self.batch_size = max(1, int(batch_size))
        self._db.create_map(
            name,
            resolution=dimensions[0],
            channels=self.channels,
            bounds=self.bounds,
            sigma=sigma,
            splat_radius=splat_radius,
        )
        # Objects embedded but not stored yet, checked (native: one call per object).
        self._pending = _ObjectBuffer(self._db, name)
        # Objects embedded: the prototype numbers ids by it (``f"{type}_{n}"``).
        self._count = 0
        # Bumped whenever the map may change (an embed, or ``db`` handed out): a CellList's
        # values are reused only at the version they were read at.
        self._version = 0

    # -- the prototype's API ----------------------------------------------------------

    @property
    def db(self):
        """The ``tensormap.Database`` holding the map (pending objects stored first)."""
        self.flush()
        # The caller may write through it: regions read before are not reused.
        self._version += 1
        return self._db

    def _read(self):
        """The database, with every embedded object stored (for the class's own reads)."""
        if len(self._pending):
            self._pending.insert(self._db)
        return self._db

    def flush(self):
        """Stores the objects embedded since the last flush, in one transaction."""
        if len(self._pending):
            self._pending.insert(self._db)

    def embed_object(self, position, features, object_type):
        """Embed a 3D object into the tensor field; returns its id ``"{type}_{n}"``."""
        obj_id = f"{object_type}_{self._count}"
        pending = self._pending
        pending.push(obj_id, str(object_type), position, features)
        self._count += 1
        self._version += 1
        if len(pending) >= self.batch_size:
            pending.insert(self._db)
        return obj_id

    def embed_objects(self, positions, features, object_types):
        """Embed many objects in one transaction (the bulk path): ``positions`` ``(n, 3)``,
        ``features`` ``(n, channels)``, ``object_types`` one str or ``n``. Returns the ids."""
        positions = np.asarray(positions, dtype=np.float32)
        n = len(positions)
        types = [object_types] * n if isinstance(object_types, str) else list(object_types)
        ids = [f"{t}_{self._count + i}" for i, t in enumerate(types)]
        self._read().insert(self.name, ids, types, positions, features)
        self._count += n
        self._version += 1
        return ids

    def query_region(self, center, radius):
        """Query the tensor field in a spherical region of ``radius`` world units.

        Returns ``(patches, indices)``: ``indices`` the grid cells ``(x, y, z)`` whose
        distance (in cells) from the centre's cell is at most the radius (in cells), in the
        prototype's order (x, then y, then z), as a ``CellList`` (a sequence of tuples, see
        the module's docstring); ``patches`` a float32 array ``(len(indices), channels)`` of
        their values (zeros where nothing is embedded).
        """
        grid = self._world_to_grid(center)
        r = float(radius) * self._grid_scale()
        # The region is the cells whose centres lie within r cells of the centre cell's
        # centre: one engine sphere query of that radius (a hair more, for rounding).
        size = self._cell_size()
        middle = [-self.bounds + (g + 0.5) * size for g in grid]
        reach = r * size * (1 + 1e-6) + 1e-6 * size
        cells, patches, kept = _region(self._read(), self.name, grid, r, middle, reach)
        # The CellList keeps its own copy of the values: the caller may change `patches`.
        return patches, CellList(cells, kept, self, self._version)

    def spatial_attention(self, query_embedding, region_indices):
        """Attention weights over a region: ``softmax(q · v / sqrt(channels))`` over the
        values ``v`` of the cells ``region_indices``."""
        if isinstance(region_indices, CellList):
            values = region_indices._values_for(self)
            if values is None:
                values = _field_values(self._read(), self.name, region_indices._cells)
        else:
            values = _field_values(self._read(), self.name, region_indices)
        q = np.asarray(query_embedding, dtype=np.float32).reshape(-1)
        if q.shape[0] != self.channels:
            raise ValueError(f"query_embedding has {q.shape[0]} values, the map has {self.channels} channels")
        scores = values @ q / np.sqrt(self.channels)
        scores = scores - scores.max() if len(scores) else scores
        weights = np.exp(scores)
        return (weights / weights.sum()).astype(np.float32)

    def save(self, path):
        """Save the tensor map (its settings and objects) to ``path`` (a NumPy archive)."""
        cols = self.db.execute(
            f"SELECT id, type, position, embedding, confidence FROM {_quote(self.name)}"
        ).fetchnumpy()
        n = len(cols["id"])
        with open(path, "wb") as f:
            np.savez(
                f,
                dimensions=np.asarray(self.dimensions),
                channels=np.asarray(self.channels),
                bounds=np.asarray(self.bounds),
                ids=np.asarray(cols["id"], dtype=str),
                types=np.asarray(cols["type"], dtype=str),
                positions=cols["position"].reshape(n, 3),
                embeddings=cols["embedding"].reshape(n, self.channels),
                confidence=cols["confidence"].astype(np.float32),
                count=np.asarray(self._count),
            )

    @classmethod
    def load(cls, path, *, db=None, name="tensor_map"):
        """Load a tensor map saved by ``save`` (into a new in-memory database unless
        ``db`` is given)."""
        with np.load(path) as a:
            instance = cls(
                tuple(a["dimensions"].tolist()),
                int(a["channels"]),
                db=db,
                name=name,
                bounds=float(a["bounds"]),
            )
            if len(a["ids"]):
                instance.db.insert(
                    name,
                    a["ids"].tolist(),
                    a["types"].tolist(),
                    a["positions"],
                    a["embeddings"],
                    a["confidence"],
                )
            instance._count = int(a["count"])
        return instance

    # -- the prototype's attributes, read from the engine -----------------------------

    @property
    def spatial_index(self):
        """``{id: {'position': (x, y, z) grid cell, 'embedding': array, 'type': str}}``
        as in the prototype (a fresh dict built from the map: changing it changes nothing)."""
        cols = self.db.execute(
            f"SELECT id, type, position, embedding FROM {_quote(self.name)} ORDER BY id"
        ).fetchnumpy()
        out = {}
        n = len(cols["id"])
        positions = cols["position"].reshape(n, 3)
        embeddings = cols["embedding"].reshape(n, self.channels)
        for i in range(n):
            out[cols["id"][i]] = {
                "position": self._world_to_grid(positions[i]),
                "embedding": embeddings[i],
                "type": cols["type"][i],
            }
        return out

    @property
    def tensor_field(self):
        """The dense field, a float32 array ``(1, X, Y, Z, channels)`` as in the prototype."""
        n = self.dimensions[0]
        field = np.zeros((1, n, n, n, self.channels), dtype=np.float32)
        cells, values = self._read().voxels(self.name, [0.0, 0.0, 0.0], self.bounds * 2.0)
        if len(cells):
            field[0, cells[:, 0], cells[:, 1], cells[:, 2]] = values
        return field

    def __len__(self):
        """Objects in the map."""
        return int(self._read().execute(f"SELECT COUNT(*) FROM {_quote(self.name)}").fetchone()[0])

    def __repr__(self):
        return f"<tensormap.compat.TensorMap3D {self.name!r} {self.dimensions} x {self.channels}>"

    # -- helpers (the prototype's, and the field lookups) -----------------------------

    def _world_to_grid(self, position):
        """World coordinates to grid indices (the prototype's rule)."""
        scale = self.dimensions[0] / (2.0 * self.bounds)
        return tuple(int((float(p) + self.bounds) * scale) for p in position)

    def _grid_scale(self):
        """Cells per world unit."""
        return self.dimensions[0] / (2.0 * self.bounds)

    def _in_bounds(self, x, y, z):
        n = self.dimensions[0]
        return 0 <= x < n and 0 <= y < n and 0 <= z < n

    def _cell_size(self):
        return 2.0 * self.bounds / self.dimensions[0]


class CellList(Sequence):
    """The cells of a region, as ``TensorMap3D.query_region`` returns them: a read-only
    sequence of ``(x, y, z)`` int tuples that behaves as the prototype's list of tuples —
    ``len``, indexing (a tuple) and slicing (a list), iteration, ``in``, ``index``,
    ``count``, ``reversed``, and equality with a list of tuples (or another CellList) — held
    as one int64 array ``(m, 3)``: ``cells.array``, or ``np.asarray(cells)``. ``list(cells)``
    gives a real list."""

    __slots__ = ("_cells", "_values", "_owner", "_version")
    __hash__ = None  # as a list's

    def __init__(self, cells, values=None, owner=None, version=None):
        self._cells = np.asarray(cells, dtype=np.int64).reshape(-1, 3)
        self._cells.flags.writeable = False
        self._values, self._owner, self._version = values, owner, version

    def _values_for(self, owner):
        """The field values read with these cells, if ``owner``'s map is unchanged since."""
        if self._owner is owner and self._version == owner._version:
            return self._values
        return None

    @property
    def array(self):
        """The cells, an int64 array ``(m, 3)`` (read-only)."""
        return self._cells

    def __array__(self, dtype=None, copy=None):
        if dtype is None or np.dtype(dtype) == self._cells.dtype:
            return self._cells.copy() if copy else self._cells
        return self._cells.astype(dtype)

    def tolist(self):
        """A list of ``(x, y, z)`` tuples."""
        return list(map(tuple, self._cells.tolist()))

    def __len__(self):
        return len(self._cells)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return list(map(tuple, self._cells[i].tolist()))
        x, y, z = self._cells[i].tolist()
        return (x, y, z)

    def __iter__(self):
        return map(tuple, self._cells.tolist())

    def __eq__(self, other):
        if isinstance(other, CellList):
            return np.array_equal(self._cells, other._cells)
        if isinstance(other, list):
            return len(other) == len(self._cells) and self.tolist() == other
        return NotImplemented

    def __repr__(self):
        return repr(self.tolist())
