"""Type stubs of the native module (see tensormap/__init__.py for the overview)."""

import os
from typing import Any, Dict, Iterator, List, Literal, Optional, Sequence, Tuple, Union, overload

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
    def types(self) -> List[Optional[str]]:
        """The declared type (``TEXT``, ``REAL``, ``INTEGER``, ``BOOLEAN``, ``TIMESTAMP``,
        ``BLOB``) of each column that reads a map's user column — ``*``, ``map.*`` or a bare
        column name of a SELECT over one map without a join, WITH or UNION —, None for the
        others; empty when no column is typed."""
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
        float, NULL as None; a typed user column (see ``types``) as its type: INTEGER int,
        TIMESTAMP an aware ``datetime`` in UTC, BLOB bytes."""
    def __iter__(self) -> Iterator[Tuple[Any, ...]]: ...
    def __next__(self) -> Tuple[Any, ...]: ...
    def fetchnumpy(self) -> Dict[str, npt.NDArray[Any]]:
        """Every row as NumPy columns: float64 numbers (NaN for NULL), bool, 2-D float32
        vectors ``(rows, width)``, object arrays for text and mixed columns. A typed user
        column (see ``types``): TEXT and BLOB object arrays (str, bytes; None for NULL),
        REAL float64 (NaN for NULL), INTEGER int64 and BOOLEAN bool (``numpy.ma``
        masked arrays when there are NULLs), TIMESTAMP ``datetime64[us]`` UTC (NaT)."""
    def to_arrow(self) -> Any:
        """Every row as a ``pyarrow.Table`` (needs pyarrow); a typed user column has the
        Arrow type COPY writes: string, float64, int64, bool, timestamp[us, UTC], binary."""
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

class HTML:
    """An interactive view (WebGL, self-contained); Jupyter displays it inline."""

    @property
    def text(self) -> str:
        """The page."""
    @property
    def count(self) -> int:
        """The objects of the result (all of them, also when the page holds a sample)."""
    def _repr_html_(self) -> str: ...
    def save(self, path: Union[str, os.PathLike[str]]) -> None:
        """Writes the page to ``path``."""
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
        *,
        columns: Optional[Dict[str, Any]] = None,
    ) -> int:
        """Inserts n objects on the bulk path, all or none; returns n. ``columns`` gives the
        map's user columns, name -> n values (list, NumPy — masked entries and NaN are NULL
        —, or pyarrow); the columns left out hold their DEFAULT. A wrong type raises
        TypeError naming ``columns['name'][row]``."""
    def properties(
        self,
        map: str,
        ids: Sequence[str],
        columns: Optional[Union[str, Sequence[str]]] = None,
    ) -> Dict[str, npt.NDArray[Any]]:
        """The user column values of the objects ``ids`` (all columns, or ``columns``) as
        NumPy arrays typed as ``Result.fetchnumpy`` types them: pairs with ``within``,
        ``nearest`` and ``attention``, whose first element is the ids."""
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
    @overload
    def render(
        self,
        sql: str,
        format: Literal["svg"] = "svg",
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
        effects: str = "none",
    ) -> SVG:
        """Renders the objects a SELECT chooses as an SVG."""
    @overload
    def render(
        self,
        sql: str,
        format: Literal["html"],
        *,
        title: str = ...,
        color_by: str = "type",
        distance_from: Point = ...,
        effects: str = "none",
        point_budget: int = 500000,
        sample: int = ...,
        slice: str = ...,
        slice_at: float = ...,
        glow: bool = True,
        field_lines: bool = True,
        field_resolution: int = 128,
    ) -> HTML:
        """The interactive view of the objects a SELECT chooses."""

# Private helpers of tensormap.compat and the benches (python/benches/).

class _ObjectBuffer:
    def __init__(self, db: Database, map: str) -> None: ...
    def push(self, id: str, kind: str, position: Point, features: Any) -> None: ...
    def insert(self, db: Database) -> int: ...
    def __len__(self) -> int: ...

def _field_values(
    db: Database, map: str, cells: Any, centre: Optional[Point] = None, reach: Optional[float] = None
) -> npt.NDArray[np.float32]: ...
def _region(
    db: Database, map: str, cell: Tuple[int, int, int], r: float, centre: Point, reach: float
) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], npt.NDArray[np.float32]]: ...
def _bench_within(db: Database, map: str, centers: Any, radius: float) -> int: ...
def _bench_nearest(db: Database, map: str, points: Any, k: int) -> int: ...
def _bench_attention(
    db: Database,
    map: str,
    query: Any,
    k: int,
    repeat: int,
    *,
    center: Optional[Point] = None,
    radius: Optional[float] = None,
    ids: Optional[Sequence[str]] = None,
) -> int: ...
def _bench_execute(db: Database, sql: str, seq_of_params: Sequence[Sequence[Param]]) -> int: ...
def _bench_read_bound(values: Any, repeat: int) -> float: ...
def _bench_map_bound(db: Database, map: str, repeat: int) -> float: ...
def _wait_for_merges(db: Database) -> None: ...

def within_many(
    db: Database, map: str, centers: npt.NDArray[np.floating[Any]], radius: float
) -> Tuple[npt.NDArray[np.int64], List[str], npt.NDArray[np.float32]]:
    """The radius search of every row of ``centers`` (m, 3): ``(query, ids, distances)``
    per hit, grouped by center in row order, nearest first (ties by id)."""

def embed_texts(db: Database, model: str, texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """The stored model ``model``'s embeddings of ``texts`` in one batch: (n, width)."""
