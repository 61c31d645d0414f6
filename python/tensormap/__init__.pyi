from ._tensormap import (
    HTML as HTML,
    SVG as SVG,
    Database as Database,
    Error as Error,
    QueryError as QueryError,
    Result as Result,
    Transaction as Transaction,
    __version__ as __version__,
    connect as connect,
)

__all__ = ["HTML", "SVG", "Database", "Error", "QueryError", "Result", "Transaction", "__version__", "connect"]
