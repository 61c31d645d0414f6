"""Builds a pyarrow Table from the columns of a result (used by ``Result.to_arrow``).

Each column comes as ``(kind, arrays...)``: ``("numpy", array)`` — float64, bool, or a 2-D
float32 array for vectors of one width, which becomes ``fixed_size_list<float32>`` —,
``("text", offsets, data)`` — the offsets (int32, or int64 past 2 GiB of text) and UTF-8
bytes of a ``string`` (``large_string``) array, wrapped without a copy — or ``("objects", array)`` for values of mixed types. A NULL
mask, when a column has one, becomes Arrow nulls.

A map's user columns come typed: ``("binary", offsets, data)`` for BLOB (``binary`` or
``large_binary``, as text) and ``("typed", name, array)`` for REAL (``float64``), INTEGER
(``int64``), BOOLEAN (``bool``) and TIMESTAMP (``timestamp[us, UTC]``: int64 microseconds
since the epoch): the Arrow types COPY writes to Parquet.
"""

import numpy as np
import pyarrow as pa


_TYPED = {"float64": pa.float64(), "int64": pa.int64(), "bool": pa.bool_()}


def _validity(mask):
    """An Arrow validity bitmap (1 = valid) from a NumPy null mask."""
    return pa.py_buffer(np.packbits(~mask, bitorder="little"))


def _array(parts, mask):
    kind = parts[0]
    if kind == "text":
        offsets, data = parts[1], parts[2]
        validity = None if mask is None else _validity(mask)
        kind = pa.string() if offsets.dtype == np.int32 else pa.large_string()
        return pa.Array.from_buffers(
            kind, len(offsets) - 1, [validity, pa.py_buffer(offsets), pa.py_buffer(data)]
        )
    if kind == "binary":
        offsets, data = parts[1], parts[2]
        validity = None if mask is None else _validity(mask)
        kind = pa.binary() if offsets.dtype == np.int32 else pa.large_binary()
        return pa.Array.from_buffers(
            kind, len(offsets) - 1, [validity, pa.py_buffer(offsets), pa.py_buffer(data)]
        )
    if kind == "typed":
        name, values = parts[1], parts[2]
        if name == "timestamp[us, UTC]":
            validity = None if mask is None else _validity(mask)
            return pa.Array.from_buffers(
                pa.timestamp("us", tz="UTC"), len(values), [validity, pa.py_buffer(values)]
            )
        return pa.array(values, type=_TYPED[name], mask=mask)
    values = parts[1]
    if kind == "objects":
        items = [v.tolist() if isinstance(v, np.ndarray) else v for v in values]
        return pa.array(items)
    if values.ndim == 2:
        flat = pa.array(np.ascontiguousarray(values).reshape(-1), type=pa.float32())
        return pa.FixedSizeListArray.from_arrays(flat, values.shape[1])
    if mask is not None and mask.all():
        return pa.nulls(len(values))
    return pa.array(values, mask=mask)


def table(columns):
    """``columns``: a list of ``(name, parts, null mask or None)``."""
    names = [name for name, _, _ in columns]
    arrays = [_array(parts, mask) for _, parts, mask in columns]
    return pa.table(arrays, names=names)
