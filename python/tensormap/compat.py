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
- ``embed_object`` checks its arguments at once (raising ``tensormap.Error`` as the engine
  would) but stores objects in batches: up to ``batch_size`` objects wait in the instance
  and are inserted in one transaction (the engine's bulk path) before anything reads the
  map — any method, or ``tm.db`` — or by ``flush()``. ``batch_size=1`` stores each object
  in its own transaction as it is embedded.
"""

import numpy as np

from ._tensormap import Error, connect

__all__ = ["TensorMap3D"]


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
        batch_size=4096,
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
        # Objects embedded but not stored yet: ids, types, positions, features.
        self._pending = ([], [], [], [])
        self._db.create_map(
            name,
            resolution=dimensions[0],
            channels=self.channels,
            bounds=self.bounds,
            sigma=sigma,
            splat_radius=splat_radius,
        )
        # Objects embedded: the prototype numbers ids by it (``f"{type}_{n}"``).
        self._count = 0
        # The last region returned by query_region, so spatial_attention on it reads no
        # field again: (indices list, patches).
        self._last_region = None

    # -- the prototype's API ----------------------------------------------------------

    @property
    def db(self):
        """The ``tensormap.Database`` holding the map (pending objects stored first)."""
        self.flush()
        return self._db

    def flush(self):
        """Stores the objects embedded since the last flush, in one transaction."""
        ids, types, positions, features = self._pending
        if not ids:
            return
        self._pending = ([], [], [], [])
        self._db.insert(self.name, ids, types, np.stack(positions), np.stack(features))

    def embed_object(self, position, features, object_type):
        """Embed a 3D object into the tensor field; returns its id ``"{type}_{n}"``."""
        position = np.asarray(position, dtype=np.float32).reshape(-1)
        features = np.asarray(features, dtype=np.float32).reshape(-1)
        obj_id = f"{object_type}_{self._count}"
        self._check(obj_id, position, features)
        ids, types, positions, feats = self._pending
        ids.append(obj_id)
        types.append(str(object_type))
        positions.append(position)
        feats.append(features)
        self._count += 1
        self._last_region = None
        if len(ids) >= self.batch_size:
            self.flush()
        return obj_id

    def embed_objects(self, positions, features, object_types):
        """Embed many objects in one transaction (the bulk path): ``positions`` ``(n, 3)``,
        ``features`` ``(n, channels)``, ``object_types`` one str or ``n``. Returns the ids."""
        positions = np.asarray(positions, dtype=np.float32)
        n = len(positions)
        types = [object_types] * n if isinstance(object_types, str) else list(object_types)
        ids = [f"{t}_{self._count + i}" for i, t in enumerate(types)]
        self.db.insert(self.name, ids, types, positions, features)
        self._count += n
        self._last_region = None
        return ids

    def query_region(self, center, radius):
        """Query the tensor field in a spherical region of ``radius`` world units.

        Returns ``(patches, indices)``: ``indices`` the grid cells ``(x, y, z)`` whose
        distance (in cells) from the centre's cell is at most the radius (in cells), in the
        prototype's order (x, then y, then z); ``patches`` a float32 array ``(len(indices),
        channels)`` of their values (zeros where nothing is embedded).
        """
        cells = self._sphere_cells(center, radius)
        # The region is the cells whose centres lie within r cells of the centre cell's
        # centre: one engine sphere query of that radius (a hair more, for rounding).
        size = self._cell_size()
        c = np.asarray(self._world_to_grid(center), dtype=np.float64)
        middle = -self.bounds + (c + 0.5) * size
        reach = float(radius) * self._grid_scale() * size * (1 + 1e-6) + 1e-6 * size
        patches = self._values_at(cells, middle, reach)
        indices = list(map(tuple, cells.tolist()))
        self._last_region = (indices, patches)
        return patches, indices

    def spatial_attention(self, query_embedding, region_indices):
        """Attention weights over a region: ``softmax(q · v / sqrt(channels))`` over the
        values ``v`` of the cells ``region_indices``."""
        if self._last_region is not None and region_indices is self._last_region[0]:
            values = self._last_region[1]
        else:
            values = self._values_at(np.asarray(region_indices, dtype=np.int64).reshape(-1, 3))
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
        cells, values = self.db.voxels(self.name, [0.0, 0.0, 0.0], self.bounds * 2.0)
        if len(cells):
            field[0, cells[:, 0], cells[:, 1], cells[:, 2]] = values
        return field

    def __len__(self):
        """Objects in the map."""
        return int(self.db.execute(f"SELECT COUNT(*) FROM {_quote(self.name)}").fetchone()[0])

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

    def _check(self, obj_id, position, features):
        """The engine's rules for an object (docs/LANGUAGE.md, "Objects"), checked before it is
        buffered."""
        # One reduction per array: a NaN fails `<=` as an infinity or a large value does.
        if position.shape != (3,) or not np.abs(position).max() <= self.bounds:
            raise Error(
                f"object '{obj_id}': position {position.tolist()} must be 3 finite numbers "
                f"inside the bounds [-{self.bounds:g}, {self.bounds:g}]"
            )
        if features.shape != (self.channels,):
            raise Error(
                f"object '{obj_id}': embedding has {features.size} values, the map has "
                f"{self.channels} channels"
            )
        if not np.abs(features).max() <= 1e15:
            raise Error(f"object '{obj_id}': embedding has a value that is not finite or above 1e15")

    def _cell_size(self):
        return 2.0 * self.bounds / self.dimensions[0]

    def _sphere_cells(self, center, radius):
        """The prototype's region: cells within ``radius`` (converted to cells) of the centre's
        cell, clipped to the grid, in x, y, z order; an int64 array ``(m, 3)``."""
        n = self.dimensions[0]
        c = np.asarray(self._world_to_grid(center), dtype=np.int64)
        cells = c + self._stencil(float(radius) * self._grid_scale())
        # Adding c keeps the stencil's x, y, z order; clipping to the grid keeps it too.
        inside = np.all((cells >= 0) & (cells < n), axis=1)
        return cells if inside.all() else cells[inside]

    def _stencil(self, r):
        """The offsets ``d`` with ``|d| <= r`` (cells), in x, y, z order; kept per radius."""
        cache = self.__dict__.setdefault("_stencils", {})
        offsets = cache.get(r)
        if offsets is None:
            reach = int(np.floor(r))
            d = np.arange(-reach, reach + 1)
            x, y, z = np.meshgrid(d, d, d, indexing="ij")
            offsets = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)
            offsets = offsets[(offsets**2).sum(axis=1) <= r * r]
            if len(cache) >= 64:
                cache.clear()
            cache[r] = offsets
        return offsets

    def _values_at(self, cells, centre=None, reach=None):
        """The field's values at ``cells`` (``(m, 3)``), zeros where nothing is embedded,
        read from the engine with one sphere query (``centre``, ``reach`` in world units)
        holding every cell's centre; by default the sphere around their bounding box."""
        m = len(cells)
        out = np.zeros((m, self.channels), dtype=np.float32)
        if m == 0:
            return out
        size = self._cell_size()
        if centre is None:
            lo, hi = cells.min(axis=0), cells.max(axis=0)
            centre = -self.bounds + ((lo + hi) / 2.0 + 0.5) * size
            # Every cell centre is within half the box's diagonal of the box's middle.
            reach = (float(np.sqrt((((hi - lo) / 2.0) ** 2).sum())) + 0.01) * size
        got, values = self.db.voxels(self.name, centre, reach)
        if len(got) == 0:
            return out
        n = self.dimensions[0]
        keys = (cells[:, 0] * n + cells[:, 1]) * n + cells[:, 2]
        got_keys = (got[:, 0] * n + got[:, 1]) * n + got[:, 2]
        order = np.argsort(got_keys)
        sorted_keys = got_keys[order]
        pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
        found = sorted_keys[pos] == keys
        out[found] = values[order[pos[found]]]
        return out
