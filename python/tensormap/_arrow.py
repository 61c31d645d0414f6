"""Builds a pyarrow Table from the NumPy columns of a result (used by ``Result.to_arrow``).

Vectors of one width (2-D float32 arrays) become ``fixed_size_list<float32>``; a NULL mask,
when a column has one, becomes Arrow nulls.
"""

import numpy as np
import pyarrow as pa


def _array(values, mask):
    if values.dtype == object:
        items = [v.tolist() if isinstance(v, np.ndarray) else v for v in values]
        return pa.array(items)
    if values.ndim == 2:
        flat = pa.array(np.ascontiguousarray(values).reshape(-1), type=pa.float32())
        return pa.FixedSizeListArray.from_arrays(flat, values.shape[1])
    if mask is not None and mask.all():
        return pa.nulls(len(values))
    return pa.array(values, mask=mask)


def table(columns):
    """``columns``: a list of ``(name, numpy array, null mask or None)``."""
    names = [name for name, _, _ in columns]
    arrays = [_array(values, mask) for _, values, mask in columns]
    return pa.table(arrays, names=names)
