//! Why an HTML view (or a served-view response) could not be made.
//!
//! Every error is found before the first byte is written, so a caller that writes to a
//! temporary file and renames it leaves no file behind on error.

/// What went wrong; the text says what and where (option name, object id, brick).
#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    /// An option name the HTML view does not know.
    #[error("unknown html render setting '{key}' (known: {known})")]
    UnknownOption {
        /// The name given.
        key: String,
        /// The names it knows, comma-separated.
        known: &'static str,
    },
    /// An option with a value of the wrong kind or out of range.
    #[error("{key} {message}")]
    InvalidOption {
        /// The option's name.
        key: String,
        /// What is wrong, starting with "must ..." (e.g. "must be a number in [1000, 10000000], found 'x'").
        message: String,
    },
    /// `effects = '...'` names an effect the view does not have.
    #[error("unknown effect '{name}' (known: liquid, none)")]
    UnknownEffect {
        /// The name given.
        name: String,
    },
    /// `color_by` names no colouring and no column of the result.
    #[error("color_by: the result has no column '{name}' (use type, confidence, distance{})", list_columns(.available))]
    UnknownColumn {
        /// The name given.
        name: String,
        /// The numeric columns it could have named.
        available: Vec<String>,
    },
    /// `color_by` names a column whose values are not numbers.
    #[error("color_by: column '{name}' is not numeric (colour by type, confidence, distance or a numeric column)")]
    NotNumeric {
        /// The column.
        name: String,
    },
    /// A slice was asked for but the result carries no voxel field.
    #[error("slice: the map has no voxel field to slice (nothing is splatted yet)")]
    NoField,
    /// `slice_at` lies outside the field's world cube.
    #[error("slice_at = {at} is outside the field: {axis} must be within [{lo}, {hi}]")]
    SliceOutsideField {
        /// The axis (`x`, `y` or `z`).
        axis: char,
        /// The coordinate asked for.
        at: f64,
        /// The field's lower bound on that axis.
        lo: f64,
        /// Its upper bound.
        hi: f64,
    },
    /// More objects than one HTML file holds.
    #[error(
        "the result has {objects} objects, more than the {limit} one HTML file holds: add LIMIT, \
         draw a sample (WITH (sample = N)), or open the map in the served viewer \
         (tmap serve, then /view/MAP)"
    )]
    TooManyObjects {
        /// Objects in the result.
        objects: usize,
        /// [`super::MAX_OBJECTS`].
        limit: usize,
    },
    /// The file would be larger than [`super::MAX_FILE_BYTES`].
    #[error(
        "the view would take at least {bytes} bytes, more than the {limit} one HTML file may be: select \
         fewer columns, add LIMIT, draw a sample (WITH (sample = N)), or open the map in the \
         served viewer (tmap serve, then /view/MAP)"
    )]
    FileTooLarge {
        /// The size it would have.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// The scene handed to the writer is inconsistent (a caller's bug or bad data).
    #[error("invalid view input: {0}")]
    InvalidScene(String),
    /// A served-view request that cannot be answered.
    #[error("bad view request: {0}")]
    BadRequest(String),
    /// Writing the output failed.
    #[error("cannot write the view: {0}")]
    Io(#[from] std::io::Error),
}

fn list_columns(names: &[String]) -> String {
    let mut s = String::new();
    for n in names {
        s.push_str(", ");
        s.push_str(n);
    }
    s
}

/// The crate's result type for the HTML view.
pub type Result<T, E = HtmlError> = std::result::Result<T, E>;
