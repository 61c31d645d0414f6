//! Statements: the maps' catalog, writes, queries and the statements around them
//! (EXPLAIN, RENDER, SNAPSHOT, RESTORE, COPY, transactions) and the model statements.

use tensormap_engine::user::ColumnType;

use super::{Expr, Select, Setting, Span};

/// A user column as CREATE MAP or ALTER MAP ... ADD COLUMN declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSpec {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: ColumnType,
    /// `NOT NULL`.
    pub not_null: bool,
    /// `DEFAULT e` (a constant).
    pub default: Option<Expr>,
    /// Where it is declared.
    pub at: Span,
}

/// A change to a map's user columns.
#[derive(Debug, Clone, PartialEq)]
pub enum AlterColumn {
    /// `ADD [COLUMN] spec`
    Add(ColumnSpec),
    /// `DROP [COLUMN] name`
    Drop(String),
    /// `RENAME COLUMN from TO to`
    Rename {
        /// The column.
        from: String,
        /// Its new name.
        to: String,
    },
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `CREATE MAP name [(column TYPE [NOT NULL] [DEFAULT literal], ...)] [WITH (k = v, ...)]`
    CreateMap {
        /// Map name.
        name: String,
        /// User columns.
        columns: Vec<ColumnSpec>,
        /// Settings.
        settings: Vec<(String, Setting, Span)>,
    },
    /// `ALTER MAP name ADD COLUMN ... | DROP COLUMN c | RENAME COLUMN a TO b`
    AlterColumns {
        /// Map name.
        name: String,
        /// The change.
        change: AlterColumn,
    },
    /// `DROP MAP [IF EXISTS] name`
    DropMap {
        /// Map name.
        name: String,
        /// `IF EXISTS`: no error when the map is missing.
        if_exists: bool,
    },
    /// `ALTER MAP name RENAME TO new_name`
    RenameMap {
        /// Map name.
        name: String,
        /// Its new name.
        to: String,
    },
    /// `SHOW MAPS`
    ShowMaps,
    /// `DESCRIBE name`
    Describe {
        /// Map name.
        name: String,
    },
    /// `INSERT INTO map [(cols)] VALUES (...), ... | SELECT ... [ON CONFLICT (id) DO ...]`
    Insert {
        /// Map name.
        map: String,
        /// Column names (empty: the default order).
        columns: Vec<(String, Span)>,
        /// Rows of expressions, each with its position (none with a query).
        rows: Vec<(Vec<Expr>, Span)>,
        /// `INSERT ... SELECT`: the query whose rows are inserted.
        query: Option<Box<Select>>,
        /// `ON CONFLICT (id) DO NOTHING | DO UPDATE SET ...`.
        on_conflict: Option<OnConflict>,
    },
    /// `UPDATE map SET col = e, ... [WHERE p]`
    Update {
        /// Map name.
        map: String,
        /// Assignments.
        set: Vec<(String, Expr, Span)>,
        /// Filter.
        filter: Option<Expr>,
    },
    /// `DELETE FROM map [WHERE p]`
    Delete {
        /// Map name.
        map: String,
        /// Filter.
        filter: Option<Expr>,
    },
    /// A query.
    Select(Box<Select>),
    /// `EXPLAIN <statement>`
    Explain(Box<Statement>),
    /// `EXPLAIN ANALYZE <query>`: the query run, its plan with the rows each operator
    /// gave and the time it took.
    ExplainAnalyze(Box<Statement>),
    /// `RENDER SELECT ... [TO 'file'] [WITH (k = v, ...)]`
    Render {
        /// The objects to draw.
        select: Box<Select>,
        /// The file to write (`.svg` or `.svg3d`); without it the SVG is returned as a row.
        to: Option<String>,
        /// Settings: width, height, camera, rotation, fov, perspective, heatmap, axes, legend.
        settings: Vec<(String, Setting, Span)>,
    },
    /// `SNAPSHOT map TO 'file' [WITH (format = 'binary' | 'json', compression = 'zstd' |
    /// 'none', dtype = 'f32' | 'f16' | 'i8')]`
    Snapshot {
        /// Map name.
        map: String,
        /// The `.tensor3d` file to write.
        to: String,
        /// Settings.
        settings: Vec<(String, Setting, Span)>,
    },
    /// `RESTORE name FROM 'file'`: a new map from a snapshot.
    Restore {
        /// The new map's name.
        name: String,
        /// The snapshot to read.
        from: String,
    },
    /// A model statement: CREATE / LOAD / TRAIN / SAVE / SHOW / DROP MODEL(S).
    Model(ModelStatement),
    /// `COPY map TO 'path' [WITH (...)]` or `COPY map FROM 'path' [WITH (...)]`: bulk
    /// export to, or import from, Parquet, CSV or JSON (see `crate::copy`).
    Copy {
        /// Map name.
        map: String,
        /// TO (export) or FROM (import).
        direction: CopyDirection,
        /// The file or folder.
        path: String,
        /// Settings: format, partition_by, depth, row_group_size.
        settings: Vec<(String, Setting, Span)>,
    },
    /// `[EXPLAIN] ASK map [USING model] 'text'`: plain language, answered by a command
    /// model as one read-only statement (`crate::ask`).
    Ask(Box<Ask>),
    /// `SET name = value` (also `SET name TO value`; `DEFAULT` resets): a session setting
    /// (`statement_timeout`, `memory_limit`).
    Set {
        /// The setting, in lower case.
        name: String,
        /// The value; `Setting::Word("default")` resets it.
        value: Setting,
    },
    /// `SHOW name` or `SHOW ALL`: a session setting's value as text.
    Show {
        /// The setting, in lower case (`all` for every one).
        name: String,
    },
    /// `RESET name` or `RESET ALL`: a session setting back to its default.
    Reset {
        /// The setting, in lower case (`all` for every one).
        name: String,
    },
    /// `CHECKPOINT` (also `VACUUM`): folds every map's field journal into stored bricks and
    /// merges its objects into one segment file, now.
    Checkpoint {
        /// Spelled `VACUUM`.
        vacuum: bool,
    },
    /// `BEGIN`
    Begin,
    /// `COMMIT`
    Commit,
    /// `ROLLBACK`
    Rollback,
}

/// What `INSERT` does with a row whose id the map (or an earlier row) has.
#[derive(Debug, Clone, PartialEq)]
pub enum OnConflict {
    /// `ON CONFLICT (id) DO NOTHING`: the row is skipped.
    Nothing,
    /// `ON CONFLICT (id) DO UPDATE SET col = e, ... [WHERE p]`: the existing object is
    /// updated; `excluded.col` is the row that was to be inserted.
    Update {
        /// Assignments.
        set: Vec<(String, Expr, Span)>,
        /// Only where this holds.
        filter: Option<Expr>,
    },
}

/// `[EXPLAIN] ASK map [USING model] 'text'`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ask {
    /// `EXPLAIN ASK`: show the statement and its probability, run nothing.
    pub explain: bool,
    /// The map the text is about.
    pub map: String,
    /// `USING model`: a command model of the database; without it, the built-in one.
    pub model: Option<String>,
    /// The text.
    pub text: String,
}

/// Which way a `COPY` moves rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyDirection {
    /// `COPY map TO 'path'`: the map's objects into a file.
    To,
    /// `COPY map FROM 'path'`: a file's rows into the map.
    From,
}

/// A model statement.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelStatement {
    /// `CREATE MODEL m [WITH (...)]`: a new model with seeded random weights.
    Create {
        /// Model name.
        name: String,
        /// Its configuration (layers, dim, heads, channels, seed, ...).
        settings: Vec<(String, Setting, Span)>,
    },
    /// `LOAD MODEL m FROM 'path'`
    Load {
        /// Model name.
        name: String,
        /// The file (or folder) to read.
        path: String,
    },
    /// `TRAIN MODEL m ON map [WITH (...)]`
    Train {
        /// Model name.
        name: String,
        /// The map whose objects it learns from.
        map: String,
        /// Training options (epochs, learning_rate, batch_size, seed, ...).
        settings: Vec<(String, Setting, Span)>,
    },
    /// `SAVE MODEL m TO 'path'`
    Save {
        /// Model name.
        name: String,
        /// The file to write.
        path: String,
    },
    /// `SHOW MODELS`
    Show,
    /// `DROP MODEL [IF EXISTS] m`
    Drop {
        /// Model name.
        name: String,
        /// `IF EXISTS`: no error when the model is missing.
        if_exists: bool,
    },
}

/// What a statement needs of a client that is allowed some things only (the server's
/// scoped tokens): ordered, each level allowing the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// Reads the database: SELECT, EXPLAIN, SHOW, DESCRIBE, RENDER, ASK, and BEGIN,
    /// COMMIT and ROLLBACK (which write nothing by themselves).
    Read,
    /// Changes objects and maps: INSERT, UPDATE, DELETE, CREATE MAP.
    Write,
    /// Drops data, runs or changes models, or touches the server's files: DROP MAP,
    /// CREATE / LOAD / TRAIN / SAVE / DROP MODEL, COPY, SNAPSHOT, RESTORE, RENDER ... TO.
    Admin,
}

impl Access {
    /// Its name: `read`, `write`, `admin`.
    pub fn name(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Admin => "admin",
        }
    }
}

impl Statement {
    /// What running it needs (see [`Access`]); EXPLAIN needs what its statement needs.
    pub fn access(&self) -> Access {
        if self.touches_files() {
            return Access::Admin;
        }
        // No wildcard: a new statement must be given its scope here.
        match self {
            Statement::Explain(inner) | Statement::ExplainAnalyze(inner) => inner.access(),
            Statement::Insert { .. }
            | Statement::Update { .. }
            | Statement::Delete { .. }
            | Statement::CreateMap { .. }
            | Statement::Checkpoint { .. } => Access::Write,
            // Renaming breaks every client that names the map, as dropping it does; the
            // session's limits (SET/RESET) are the server's to set, not a client's to lift.
            Statement::DropMap { .. }
            | Statement::RenameMap { .. }
            | Statement::AlterColumns { .. }
            | Statement::Set { .. }
            | Statement::Reset { .. } => Access::Admin,
            Statement::Model(ModelStatement::Show) => Access::Read,
            Statement::Model(_) => Access::Admin,
            Statement::ShowMaps
            | Statement::Describe { .. }
            | Statement::Select(..)
            | Statement::Render { .. }
            | Statement::Ask(..)
            | Statement::Show { .. }
            | Statement::Begin
            | Statement::Commit
            | Statement::Rollback => Access::Read,
            // Files: answered by touches_files above.
            Statement::Snapshot { .. } | Statement::Restore { .. } | Statement::Copy { .. } => {
                Access::Admin
            }
        }
    }

    /// The statement's name as errors print it: `INSERT`, `COPY FROM`, `TRAIN MODEL`, ...
    pub fn verb(&self) -> &'static str {
        match self {
            Statement::CreateMap { .. } => "CREATE MAP",
            Statement::DropMap { .. } => "DROP MAP",
            Statement::ShowMaps => "SHOW MAPS",
            Statement::Describe { .. } => "DESCRIBE",
            Statement::Insert { .. } => "INSERT",
            Statement::Update { .. } => "UPDATE",
            Statement::Delete { .. } => "DELETE",
            Statement::Select(_) => "SELECT",
            Statement::Explain(_) => "EXPLAIN",
            Statement::ExplainAnalyze(_) => "EXPLAIN ANALYZE",
            Statement::Render { .. } => "RENDER",
            Statement::Snapshot { .. } => "SNAPSHOT",
            Statement::Restore { .. } => "RESTORE",
            Statement::Model(ModelStatement::Create { .. }) => "CREATE MODEL",
            Statement::Model(ModelStatement::Load { .. }) => "LOAD MODEL",
            Statement::Model(ModelStatement::Train { .. }) => "TRAIN MODEL",
            Statement::Model(ModelStatement::Save { .. }) => "SAVE MODEL",
            Statement::Model(ModelStatement::Show) => "SHOW MODELS",
            Statement::Model(ModelStatement::Drop { .. }) => "DROP MODEL",
            Statement::Copy {
                direction: CopyDirection::To,
                ..
            } => "COPY TO",
            Statement::Copy {
                direction: CopyDirection::From,
                ..
            } => "COPY FROM",
            Statement::Ask(_) => "ASK",
            Statement::RenameMap { .. } | Statement::AlterColumns { .. } => "ALTER MAP",
            Statement::Set { .. } => "SET",
            Statement::Show { .. } => "SHOW",
            Statement::Reset { .. } => "RESET",
            Statement::Checkpoint { .. } => "CHECKPOINT",
            Statement::Begin => "BEGIN",
            Statement::Commit => "COMMIT",
            Statement::Rollback => "ROLLBACK",
        }
    }

    /// Whether it reads or writes files of the machine it runs on: COPY, SNAPSHOT,
    /// RESTORE, RENDER ... TO, LOAD and SAVE MODEL (also under EXPLAIN). A server refuses
    /// them unless told otherwise: its files are not its clients'.
    pub fn touches_files(&self) -> bool {
        match self {
            Statement::Explain(inner) | Statement::ExplainAnalyze(inner) => inner.touches_files(),
            Statement::Render { to, .. } => to.is_some(),
            Statement::Snapshot { .. } | Statement::Restore { .. } | Statement::Copy { .. } => true,
            Statement::Model(ModelStatement::Load { .. } | ModelStatement::Save { .. }) => true,
            _ => false,
        }
    }
}
