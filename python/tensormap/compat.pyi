from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from ._tensormap import Database

class TensorMap3D:
    """The prototype's TensorMap3D API on a tensormap map."""

    dimensions: Tuple[int, int, int]
    channels: int
    bounds: float
    name: str
    batch_size: int
    @property
    def db(self) -> Database:
        """The database holding the map (pending objects stored first)."""
    def flush(self) -> None:
        """Stores the objects embedded since the last flush, in one transaction."""

    def __init__(
        self,
        dimensions: Tuple[int, int, int] = (64, 64, 64),
        channels: int = 32,
        *,
        db: Optional[Database] = None,
        name: str = "tensor_map",
        bounds: float = 500.0,
        sigma: float = 2.0,
        splat_radius: int = 3,
        batch_size: int = 4096,
    ) -> None: ...
    def embed_object(self, position: Sequence[float], features: Any, object_type: str) -> str: ...
    def embed_objects(
        self, positions: Any, features: Any, object_types: Union[str, Sequence[str]]
    ) -> List[str]: ...
    def query_region(
        self, center: Sequence[float], radius: float
    ) -> Tuple[npt.NDArray[np.float32], List[Tuple[int, int, int]]]: ...
    def spatial_attention(
        self, query_embedding: Any, region_indices: Sequence[Tuple[int, int, int]]
    ) -> npt.NDArray[np.float32]: ...
    def save(self, path: str) -> None: ...
    @classmethod
    def load(cls, path: str, *, db: Optional[Database] = None, name: str = "tensor_map") -> "TensorMap3D": ...
    @property
    def spatial_index(self) -> dict: ...
    @property
    def tensor_field(self) -> npt.NDArray[np.float32]: ...
    def __len__(self) -> int: ...
