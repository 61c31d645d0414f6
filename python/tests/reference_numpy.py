"""The reference NumPy implementation of ``TensorMap3D``: the original Python sketch of
tensormap's tensor map (a PyTorch class) ported to NumPy.

The reference the compat class is checked against (tests) and measured against
(benches/compat.py). The sketch's loops become array operations; its behaviour is kept, with
one fix: ``query_region`` converts the radius to cells by multiplying by the grid scale
(the sketch divides, so its sphere of radius 100 covers the whole 64³ grid).
"""

import numpy as np


class ReferenceTensorMap3D:
    """3D Tensor Map for Spatial Embeddings (the original sketch's class, in NumPy)."""

    def __init__(self, dimensions=(64, 64, 64), channels=32):
        self.dimensions = dimensions
        self.channels = channels
        self.tensor_field = np.zeros((1, *dimensions, channels), dtype=np.float32)
        self.spatial_index = {}
        sigma = 2.0
        d = np.arange(-3, 4)
        dx, dy, dz = np.meshgrid(d, d, d, indexing="ij")
        self._kernel = np.exp(-(dx**2 + dy**2 + dz**2) / (2 * sigma**2)).astype(np.float32)

    def embed_object(self, position, features, object_type):
        """Embed 3D object into tensor field (Gaussian splat over the 7³ neighbourhood)."""
        x, y, z = self._world_to_grid(position)
        embedding = np.asarray(features, dtype=np.float32)
        lo = [max(0, c - 3) for c in (x, y, z)]
        hi = [min(n, c + 4) for c, n in zip((x, y, z), self.dimensions)]
        if all(h > l for l, h in zip(lo, hi)):
            k = self._kernel[
                lo[0] - x + 3 : hi[0] - x + 3,
                lo[1] - y + 3 : hi[1] - y + 3,
                lo[2] - z + 3 : hi[2] - z + 3,
            ]
            self.tensor_field[0, lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] += (
                k[..., None] * embedding
            )
        obj_id = f"{object_type}_{len(self.spatial_index)}"
        self.spatial_index[obj_id] = {
            "position": (x, y, z),
            "embedding": embedding,
            "type": object_type,
        }
        return obj_id

    def query_region(self, center, radius):
        """Query tensor field in spherical region (radius in world units)."""
        cx, cy, cz = self._world_to_grid(center)
        r_grid = radius * self._grid_scale()
        axes = [
            np.arange(max(0, int(c - r_grid)), min(n, int(c + r_grid) + 1))
            for c, n in zip((cx, cy, cz), self.dimensions)
        ]
        x, y, z = np.meshgrid(*axes, indexing="ij")
        cells = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)
        dist = np.sqrt(((cells - np.array([cx, cy, cz])) ** 2).sum(axis=1))
        cells = cells[dist <= r_grid]
        patches = self.tensor_field[0, cells[:, 0], cells[:, 1], cells[:, 2]]
        return patches, [tuple(c) for c in cells.tolist()]

    def spatial_attention(self, query_embedding, region_indices):
        """Compute attention weights over spatial region."""
        idx = np.asarray(region_indices).reshape(-1, 3)
        region_embeddings = self.tensor_field[0, idx[:, 0], idx[:, 1], idx[:, 2]]
        scores = region_embeddings @ np.asarray(query_embedding, dtype=np.float32)
        scores = scores / np.sqrt(self.channels)
        scores = scores - scores.max()
        weights = np.exp(scores)
        return weights / weights.sum()

    def _world_to_grid(self, position):
        bounds = [-500, 500]
        scale = self.dimensions[0] / (bounds[1] - bounds[0])
        return tuple(int((p - bounds[0]) * scale) for p in position)

    def _grid_scale(self):
        return self.dimensions[0] / 1000.0
