"""Type stubs of the native module (see tensormap/__init__.py for the overview)."""

import os
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

Param = Union[None, bool, int, float, str, Sequence[float], npt.NDArray[Any]]
Point = Union[Sequence[float], npt.NDArray[Any]]

class Error(Exception):
    """An error of tensormap: the engine refused a call or the store failed; nothing changed."""

    kind: str
    """The kind of the failure: ``syntax``, ``not_found``, ``conflict``, ``invalid_value``,
    ``io``, ``file_format``, ``storage``, ``model``, ``limit`` or ``internal``
    (docs/LANGUAGE.md, "Errors")."""

class QueryError(Error):
    """An error of a TensorQL statement."""

    line: int
    """Line (1-based) where the error was detected."""
    column: int
    """Column (1-based, in characters) where the error was detected."""
    message: str
    """What was wrong, without the position."""

def connect(path: Optional[Union[str, os.PathLike[str]]] = None) -> Database:
    """Opens the database directory ``path`` (created if missing), or one in memory when None."""

class Result:
    """The result of a statement."""

    @property
    def columns(self) -> List[str]:
        """The column names (empty for a statement without rows)."""
    @property
    def status(self) -> str:
        """The status line: ``SELECT 3``, ``INSERT 2``, ``CREATE MAP``, ..."""
    @property
    def description(self) -> Optional[List[Tuple[str, None, None, None, None, None, None]]]:
        """The DB-API description of the columns, or None without columns."""
    @property
    def rowcount(self) -> int:
        """The number of rows."""
    def __len__(self) -> int: ...
    def fetchone(self) -> Optional[Tuple[Any, ...]]:
        """The next row, or None after the last."""
    def fetchmany(self, size: int = 1) -> List[Tuple[Any, ...]]:
        """The next ``size`` rows (fewer at the end)."""
    def fetchall(self) -> List[Tuple[Any, ...]]:
        """Every row not read yet: numbers as float, text as str, vectors as lists of
        float, NULL as None."""
    def __iter__(self) -> Iterator[Tuple[Any, ...]]: ...
    def __next__(self) -> Tuple[Any, ...]: ...
    def fetchnumpy(self) -> Dict[str, npt.NDArray[Any]]:
        """Every row as NumPy columns: float64 numbers (NaN for NULL), bool, 2-D float32
        vectors ``(rows, width)``, object arrays for text and mixed columns."""
    def to_arrow(self) -> Any:
        """Every row as a ``pyarrow.Table`` (needs pyarrow)."""
    def __arrow_c_stream__(self, requested_schema: Optional[object] = None) -> object:
        """The Arrow PyCapsule stream interface (needs pyarrow)."""

class SVG:
    """A rendered view; Jupyter displays it inline."""

    def __init__(self, text: str) -> None: ...
    @property
    def text(self) -> str:
        """The SVG document."""
    def _repr_svg_(self) -> str: ...
    def save(self, path: Union[str, os.PathLike[str]]) -> None:
        """Writes the document to ``path``."""
    def __len__(self) -> int: ...

class Transaction:
    """``with db.transaction():`` commits at the end of the block, rolls back if it raises."""

    def __enter__(self) -> Database: ...
    def __exit__(self, exc_type: Any, exc: Any = None, tb: Any = None) -> bool: ...

class Database:
    """A connection to a tensormap database."""

    def __init__(self, path: Optional[Union[str, os.PathLike[str]]] = None) -> None: ...
    def execute(self, sql: str, params: Optional[Sequence[Param]] = None) -> Result:
        """Runs TensorQL with ``?`` parameters bound in order; the last statement's result.
        Raises QueryError (with line and column)."""
    def executemany(self, sql: str, seq_of_params: Sequence[Sequence[Param]]) -> None:
        """Runs ``sql`` once per parameter sequence."""
    def cursor(self) -> Database:
        """Another connection to the same database, with its own transaction."""
    def close(self) -> None:
        """Closes this connection (rolling back an open transaction)."""
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Database: ...
    def __exit__(self, *args: Any) -> bool: ...
    def transaction(self) -> Transaction:
        """A context manager running its block in one transaction."""
    def begin(self) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    @property
    def in_transaction(self) -> bool: ...
    def create_map(
        self,
        name: str,
        *,
        resolution: int = 64,
        channels: int = 32,
        bounds: float = 500.0,
        dtype: str = "f32",
        sigma: float = 2.0,
        splat_radius: int = 3,
    ) -> None:
        """Creates a map (in the open transaction, if any)."""
    def drop_map(self, name: str) -> None:
        """Drops a map and everything in it."""
    def insert(
        self,
        map: str,
        ids: Sequence[str],
        types: Union[str, Sequence[str]],
        positions: npt.NDArray[np.floating[Any]],
        embeddings: npt.NDArray[np.floating[Any]],
        confidence: Optional[Union[float, Sequence[float], npt.NDArray[np.floating[Any]]]] = None,
    ) -> int:
        """Inserts n objects on the bulk path, all or none; returns n."""
    def within(
        self, map: str, center: Point, radius: float
    ) -> Tuple[List[str], npt.NDArray[np.float32]]:
        """``(ids, distances)`` of the objects within ``radius`` of ``center``, nearest first."""
    def nearest(
        self, map: str, point: Point, k: int
    ) -> Tuple[List[str], npt.NDArray[np.float32]]:
        """``(ids, distances)`` of the ``k`` objects nearest ``point``."""
    def attention(
        self,
        map: str,
        query: Point,
        k: int,
        *,
        center: Optional[Point] = None,
        radius: Optional[float] = None,
        ids: Optional[Sequence[str]] = None,
    ) -> Tuple[List[str], npt.NDArray[np.float32]]:
        """``(ids, weights)`` of the top ``k`` by ``softmax(q·e/√channels)`` over the
        candidates (all, a sphere, or ids)."""
    def voxels(
        self, map: str, center: Point, radius: float
    ) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """``(cells (m, 3), values (m, channels))`` of the occupied cells within ``radius``."""
    def ask(
        self,
        map: str,
        text: str,
        *,
        model: Optional[str] = None,
        explain: bool = False,
    ) -> Result:
        """``ASK map [USING model] 'text'``: plain language answered by a command model as
        one read-only statement, run when the model is confident (``explain=True``: the
        statement, its probability and outcome, nothing run)."""
    def render(
        self,
        sql: str,
        *,
        width: int = 800,
        height: int = 600,
        camera: Point = ...,
        rotation: Point = ...,
        fov: float = 60.0,
        perspective: float = 1200.0,
        heatmap: bool = True,
        axes: bool = True,
        legend: bool = True,
    ) -> SVG:
        """Renders the objects a SELECT chooses as an SVG."""
