"""A client of ``tmap serve`` (its routes: docs/api.md) on the standard library alone
(urllib and json; no new dependency): the tensor routes' calls (``embed_object``,
``query_spatial``, ``generate``, ``render_svg``) and TensorQL (``query``).

::

    from tensormap.client import Client

    c = Client("http://127.0.0.1:8080", token=None)   # token: what --token-file holds
    c.embed_object([100, 50, -30], features, "cube", map="scene")
    hits = c.query_spatial([0, 0, 0], 150, {"object_type": "cube"}, map="scene")
    rows = c.query("SELECT id FROM scene WHERE WITHIN(position, ?, ?)", [[0, 0, 0], 50.0])
    svg = c.render_svg("scene")
    text = c.generate("a red cube", max_length=20)["text"]

Every method raises :class:`ServerError` when the server answers with an error: it carries
the HTTP status, the server's message, and for a TensorQL mistake its line and column.
NumPy arrays (and anything with ``tolist()``) are accepted wherever a list is.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Dict, List, Optional, Sequence

__all__ = ["Client", "ServerError"]


class ServerError(Exception):
    """An error answered by the server.

    Attributes: ``status`` (the HTTP status), ``message`` (the server's text), ``line`` and
    ``column`` (where in the TensorQL text, or None).
    """

    def __init__(
        self,
        status: int,
        message: str,
        line: Optional[int] = None,
        column: Optional[int] = None,
    ) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.line = line
        self.column = column


def _plain(value: Any) -> Any:
    """JSON for what json cannot write itself: NumPy arrays and scalars (via tolist/item)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _property(value: Any) -> Any:
    """A user column value as /tensor/embed reads it: bytes as hex, times as ISO text."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


class Client:
    """A connection to ``tmap serve`` at ``base_url`` (``http://host:port``).

    ``token`` is sent as ``Authorization: Bearer TOKEN`` (the server's ``--token-file``);
    ``timeout`` is each request's socket timeout, seconds.
    """

    def __init__(
        self, base_url: str, token: Optional[str] = None, timeout: float = 60.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    # -- transport ------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Any = None) -> tuple:
        """(content type, bytes) of a 2xx answer; ServerError otherwise."""
        data = None
        headers = {"Accept": "application/json"}
        if body is not None:
            data = json.dumps(body, default=_plain).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(
            self.base_url + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return r.headers.get("Content-Type", ""), r.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                err = json.loads(raw)
                raise ServerError(
                    err.get("status", e.code),
                    err.get("error", ""),
                    err.get("line"),
                    err.get("column"),
                ) from None
            except (ValueError, AttributeError):
                raise ServerError(
                    e.code, raw.decode("utf-8", "replace") or str(e.reason)
                ) from None

    def _json(self, method: str, path: str, body: Any = None) -> Any:
        _, raw = self._request(method, path, body)
        return json.loads(raw)

    @staticmethod
    def _named(body: Dict[str, Any], map: Optional[str]) -> Dict[str, Any]:
        if map is not None:
            body["map"] = map
        return body

    # -- the tensor routes ------------------------------------------------------------

    def embed_object(
        self,
        position: Sequence[float],
        features: Sequence[float],
        object_type: str = "custom",
        *,
        map: Optional[str] = None,
        id: Optional[str] = None,
        confidence: Optional[float] = None,
        properties: Optional[Dict[str, Any]] = None,
    ) -> Dict[str, Any]:
        """Inserts one object (``POST /tensor/embed``); durable when it returns.

        Returns ``{"map", "object_id", "embedding_id", "confidence"}``, and ``"properties"``
        (every user column's value) when the map has user columns. Without ``id`` the
        server makes one; without ``map`` the database's only map is used. ``properties``
        gives user column values by name (the others hold their DEFAULT): str, numbers,
        bool, None, a ``datetime`` / ``date`` (sent as ISO text; naive is UTC) for a
        TIMESTAMP, bytes (sent as hex) for a BLOB.
        """
        body: Dict[str, Any] = {
            "position": list(position),
            "features": features,
            "object_type": object_type,
        }
        if id is not None:
            body["id"] = id
        if confidence is not None:
            body["confidence"] = confidence
        if properties is not None:
            body["properties"] = {k: _property(v) for k, v in properties.items()}
        return self._json("POST", "/tensor/embed", self._named(body, map))

    def query_spatial(
        self,
        center: Sequence[float],
        radius: float,
        filters: Optional[Dict[str, Any]] = None,
        *,
        map: Optional[str] = None,
        limit: Optional[int] = None,
        include_embeddings: bool = False,
        include_patches: bool = False,
    ) -> Dict[str, Any]:
        """The objects within ``radius`` of ``center``, nearest first (``POST /tensor/query``).

        ``filters``: ``{"object_type": str, "min_confidence": float}``. Returns
        ``{"map", "count", "objects": [{"id", "type", "position", "confidence",
        "distance"}...], "tensor_patches", "patch_cells"}``; on a map with user columns
        each object has ``"properties"`` too (TIMESTAMP as UTC text, BLOB as hex).
        """
        body: Dict[str, Any] = {
            "center": list(center),
            "radius": radius,
            "filters": filters or {},
            "include_embeddings": include_embeddings,
            "include_patches": include_patches,
        }
        if limit is not None:
            body["limit"] = limit
        return self._json("POST", "/tensor/query", self._named(body, map))

    def generate(
        self,
        prompt: str,
        max_length: int = 100,
        temperature: float = 0.7,
        top_k: int = 50,
        *,
        model: Optional[str] = None,
        seed: Optional[int] = None,
    ) -> Dict[str, Any]:
        """Text from a stored V-LLM (``POST /vllm/generate``): ``{"text", "tokens",
        "spatial_positions", "confidence", "model"}`` (docs/api.md).

        Without ``model`` the database's only V-LLM is used.
        """
        body: Dict[str, Any] = {
            "prompt": prompt,
            "max_length": max_length,
            "temperature": temperature,
            "top_k": top_k,
        }
        if model is not None:
            body["model"] = model
        if seed is not None:
            body["seed"] = seed
        return self._json("POST", "/vllm/generate", body)

    def render_svg(
        self,
        tensor_map_id: Optional[str] = None,
        camera: Optional[Dict[str, Any]] = None,
        effects: Optional[Dict[str, Any]] = None,
        *,
        width: Optional[int] = None,
        height: Optional[int] = None,
    ) -> str:
        """The map drawn as SVG text (``POST /render/svg``).

        ``camera``: ``{"position": [x, y, z], "rotation": [rx, ry, rz], "fov": deg}``;
        ``effects``: ``{"liquid": bool, "wireframe": bool, "tensorField": bool}`` (``heatmap``
        is ``tensorField``'s older name).
        """
        body: Dict[str, Any] = {}
        if tensor_map_id is not None:
            body["tensor_map_id"] = tensor_map_id
        if camera is not None:
            body["camera"] = camera
        if effects is not None:
            body["effects"] = effects
        if width is not None:
            body["width"] = width
        if height is not None:
            body["height"] = height
        _, raw = self._request("POST", "/render/svg", body)
        return raw.decode("utf-8")

    # -- TensorQL ---------------------------------------------------------------------

    def execute(
        self, sql: str, params: Optional[Sequence[Any]] = None
    ) -> List[Dict[str, Any]]:
        """Runs the statements of ``sql`` (``POST /query``), ``?`` bound to ``params`` in
        order; one ``{"status", "columns", "rows"}`` per statement."""
        body = {"sql": sql, "params": list(params) if params is not None else []}
        return self._json("POST", "/query", body)["results"]

    def query(
        self, sql: str, params: Optional[Sequence[Any]] = None
    ) -> List[Dict[str, Any]]:
        """The rows of the last statement of ``sql``, each a dict keyed by column name."""
        results = self.execute(sql, params)
        return results[-1]["rows"] if results else []

    # -- the server -------------------------------------------------------------------

    def health(self) -> bool:
        """Whether the server answers ``/health``."""
        return self._json("GET", "/health").get("status") == "ok"

    def metrics(self) -> str:
        """The Prometheus text of ``/metrics``."""
        _, raw = self._request("GET", "/metrics")
        return raw.decode("utf-8")
