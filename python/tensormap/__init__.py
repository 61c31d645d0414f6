"""tensormap for Python: an embedded spatial database of tensor maps.

Each map is a sparse octree of tensor voxels (a 3-D grid of vectors) kept together with an
packed R-tree of the objects embedded in it. Query it with TensorQL or with typed calls that take
and return NumPy arrays::

    import numpy as np
    import tensormap

    db = tensormap.connect()                      # in memory; connect("scene.db") on disk
    db.execute("CREATE MAP scene WITH (channels = 4)")
    db.insert("scene", ["a", "b"], "cube",
              np.array([[0, 0, 0], [10, 0, 0]], np.float32),
              np.random.rand(2, 4).astype(np.float32))
    ids, dist = db.within("scene", [0, 0, 0], 5.0)           # (['a'], array([0.], float32))
    rows = db.execute("SELECT id, position FROM scene WHERE WITHIN(position, ?, ?)",
                      [np.zeros(3), 50.0]).fetchall()
    svg = db.render("SELECT * FROM scene", width=400, height=300)   # shown by Jupyter

``tensormap.client.Client`` is the HTTP client of a database served by ``tmap serve``
(``embed_object``, ``query_spatial``, ``generate``, ``render_svg``, plus
``query(sql, params)``: docs/api.md), on the standard library alone.

The engine releases the GIL while it works; a Database may be shared by threads
(``db.cursor()`` gives a thread its own connection and transaction).
"""

from ._tensormap import (
    SVG,
    Database,
    Error,
    QueryError,
    Result,
    Transaction,
    __version__,
    connect,
)

__all__ = [
    "SVG",
    "Database",
    "Error",
    "QueryError",
    "Result",
    "Transaction",
    "__version__",
    "connect",
]
