"""Type stubs of tensormap.spark (see spark.py for the overview; docs/scale-out.md)."""

from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from ._spark_layout import Layout, LayoutError
from ._spark_sql import SparkQueryError

Point = Union[Sequence[float], npt.NDArray[Any]]

META_KEY: str

def read(spark: Any, path: str) -> Any:
    """The partitioned export at ``path`` as a DataFrame, its manifest attached to ``cell``."""

def layout(df: Any) -> Layout:
    """The manifest of a DataFrame from :func:`read`."""

def within(df: Any, center: Point, radius: float) -> Any:
    """pyarrow Table ``(id, distance)`` of the objects within ``radius``, nearest first."""

def nearest(df: Any, point: Point, k: int) -> Any:
    """pyarrow Table ``(id, distance)`` of the ``k`` nearest objects."""

def attention(
    df: Any,
    query: Point,
    k: int,
    region: Optional[Tuple[Point, float]] = None,
) -> Any:
    """pyarrow Table ``(id, weight)``: the top ``k`` by ``softmax(q·e/√channels)``."""

def distance_join(
    left: Any, right: Any, radius: float, buckets: Optional[int] = None
) -> Any:
    """DataFrame ``(left_id, right_id, distance)`` of the pairs at most ``radius`` apart."""

def sql(df: Any, statement: str, params: Optional[Sequence[Any]] = None) -> Any:
    """A TensorQL SELECT over map ``part`` on every partition, merged: a pyarrow Table."""

def embed(
    df: Any,
    model_path: str,
    text_column: str,
    output: Optional[str] = None,
    batch_size: int = 256,
) -> Any:
    """``df`` plus ``output`` (array of float): the stored model's ``m_embed`` of the text."""

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
