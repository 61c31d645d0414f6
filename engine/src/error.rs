//! The engine's error type.

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the engine can refuse or fail with. A call that returns an error has changed
/// nothing: not the transaction, not the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The storage layer failed or found corruption.
    #[error(transparent)]
    Storage(#[from] tensormap_storage::Error),
    /// A snapshot file could not be written or read (damaged, unsupported, I/O).
    #[error(transparent)]
    Snapshot(#[from] tensormap_storage::SnapshotError),
    /// No map of that name.
    #[error("no map named '{0}'")]
    MapNotFound(String),
    /// A map of that name exists already.
    #[error("a map named '{0}' exists already")]
    MapExists(String),
    /// No model of that name.
    #[error("no model named '{0}'")]
    ModelNotFound(String),
    /// A model of that name exists already.
    #[error("a model named '{0}' exists already")]
    ModelExists(String),
    /// A map name that cannot be used.
    #[error("invalid map name '{name}': {reason}")]
    InvalidMapName {
        /// The name given.
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// Inserting an id that is already in the map.
    #[error("map '{map}' already has an object with id '{id}'")]
    DuplicateId {
        /// The map.
        map: String,
        /// The id.
        id: String,
    },
    /// Updating or deleting an id that is not in the map.
    #[error("map '{map}' has no object with id '{id}'")]
    ObjectNotFound {
        /// The map.
        map: String,
        /// The id.
        id: String,
    },
    /// An object that breaks a rule of the map (bounds, channels, confidence...).
    #[error("object '{id}': {reason}")]
    InvalidObject {
        /// The object's id.
        id: String,
        /// The rule it breaks.
        reason: String,
    },
    /// An invalid query argument (a NaN centre, a negative radius, a wrong-length vector...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A map's field could not be read from the store (it is read on first use after an
    /// open); every later use reports the same error.
    #[error(transparent)]
    Field(std::sync::Arc<Error>),
}
