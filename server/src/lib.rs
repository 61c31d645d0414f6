//! tensormap-server: the HTTP API over one database, on axum/tokio — the tensor routes and
//! TensorQL (docs/api.md; the OpenAPI document is docs/openapi.json). `tmap serve` runs it;
//! a program may embed it ([`Server`]). It uses the `tensormap` facade only.
//!
//! One process owns the database and serves it; that is how several processes share it
//! (the engine allows one process per database directory). The routes:
//!
//! | route | what |
//! |---|---|
//! | `POST /tensor/embed` | insert one object (`embed_object`) |
//! | `POST /tensor/query` | objects within a radius, filtered (`query_spatial`) |
//! | `POST /vllm/generate` | a stored V-LLM's `m_generate` |
//! | `POST /render/svg` | a map rendered as SVG (as `RENDER`) |
//! | `POST /query` | TensorQL with `?` parameters → JSON rows |
//! | `GET /view`, `GET /view/{map}` | the live viewer's pages (WebGL; no token: they hold no data) |
//! | `GET /view/{map}/meta`, `POST /view/{map}/cells`, `POST /view/{map}/field` | the viewer's data |
//! | `GET /health`, `/metrics`, `/openapi.json` | liveness (never asks for a token), Prometheus text, the API document |
//!
//! Threads: tokio's worker threads (one per core) parse HTTP and JSON only; every call into
//! the engine runs on tokio's blocking pool (`spawn_blocking`), so a long commit or render
//! never stalls the event loop, and no lock is ever held across an `.await`. Reads run in
//! parallel (each takes a read transaction, or a pooled connection for TensorQL); writes
//! are serialized by the engine's writer lock.
//!
//! Timeouts ([`Config::timeout`], `deadline.rs`): a request answered 503 committed nothing
//! — the commits its work would still reach are refused and rolled back —, and a request
//! whose work began a commit before its deadline is answered with the commit's outcome,
//! however late.
//!
//! Shutdown (SIGTERM, Ctrl-C, or [`Server::shutdown`]): the listener stops accepting, the
//! requests in flight run to their end (a commit that started finishes and is answered),
//! then the runtime waits for the blocking pool and the database is dropped (closed).
//! A commit is durable when its request is answered, so an acknowledged write survives
//! even a `kill -9`.
//!
//! TLS ([`Config::tls`], [`Tls`], `tls.rs`): with a certificate and key the server speaks
//! HTTPS only; each connection's handshake is bounded as a request head is (`limits.rs`).
//!
//! Errors ([`ApiError`]) carry their status from the kind of the error (no message is read
//! to classify it); a 5xx — a failure of the server, not of the request — is also written to
//! the error log ([`Config::log`], standard error by default) with its route.

mod auth;
mod body;
mod deadline;
mod error;
mod generate;
mod limits;
mod metrics;
mod pool;
mod render;
mod sql;
mod tensor;
mod tls;
mod view;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;

use tensormap::Database;

pub use auth::{Access, ScopedToken};
pub use error::ApiError;
use metrics::Metrics;
use pool::Pool;
pub use tls::Tls;

/// The OpenAPI 3 document of the routes (docs/openapi.json), served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("../../docs/openapi.json");

/// Where the server writes the errors that are its own (5xx), one line each.
pub type ErrorLog = Arc<dyn Fn(&str) + Send + Sync>;

/// How the server runs.
#[derive(Clone)]
pub struct Config {
    /// Where to listen; loopback by default. Port 0 picks a free port.
    pub listen: SocketAddr,
    /// A bearer token allowed everything (`admin`), as [`Config::tokens`] holds them; with
    /// neither, no authentication.
    pub token: Option<String>,
    /// Bearer tokens with scopes (`--token-file`: see [`ScopedToken`]); every route but
    /// `/health` and the viewer's pages then needs one, and a token used beyond its scope
    /// is answered 403.
    pub tokens: Vec<ScopedToken>,
    /// The largest request body accepted, bytes (larger: 413).
    pub max_body: usize,
    /// The longest a request may take before it is answered 503. A request answered 503
    /// committed nothing: the commits its work would still reach are refused (rolled back),
    /// and its TensorQL statements are limited to the time left. A request whose work began
    /// a commit before the deadline is answered with its outcome when it ends: a commit is
    /// never cut in half, nor answered as timed out.
    pub timeout: Duration,
    /// The longest one statement of `/query` may run (`SET statement_timeout` on every
    /// connection handed out; `None`: no limit). Past it the statement ends with an error
    /// of kind `limit` and changes nothing — a write is stopped before its commit.
    pub statement_timeout: Option<Duration>,
    /// The most bytes of rows one statement of `/query` may materialize (`SET
    /// memory_limit`; `None`: no limit).
    pub memory_limit: Option<u64>,
    /// The longest a connection may take to send a request's head (and may sit idle between
    /// kept-alive requests) before it is closed: slow clients do not hold connections.
    pub header_timeout: Duration,
    /// The most connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Worker threads of the runtime (0: one per core).
    pub workers: usize,
    /// Let `POST /query` run statements that read or write the server's files (COPY,
    /// SNAPSHOT, RESTORE, RENDER … TO, LOAD and SAVE MODEL); refused (403) otherwise.
    pub allow_files: bool,
    /// Where a failure of the server (an answer 5xx: storage, a model, a bug) is written,
    /// with its route: standard error by default.
    pub log: ErrorLog,
    /// HTTPS with this certificate and key ([`Tls::from_pem_files`]; `--tls-cert`,
    /// `--tls-key`), and then no plain HTTP; `None` (the default): plain HTTP. Each
    /// connection's handshake runs within [`Config::header_timeout`] and holds one of the
    /// [`Config::max_connections`].
    pub tls: Option<Tls>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("tokens", &self.tokens)
            .field("max_body", &self.max_body)
            .field("timeout", &self.timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("memory_limit", &self.memory_limit)
            .field("header_timeout", &self.header_timeout)
            .field("max_connections", &self.max_connections)
            .field("workers", &self.workers)
            .field("allow_files", &self.allow_files)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            token: None,
            tokens: Vec::new(),
            max_body: 4 << 20,
            timeout: Duration::from_secs(30),
            statement_timeout: Some(Duration::from_secs(30)),
            memory_limit: Some(2 << 30),
            header_timeout: Duration::from_secs(10),
            max_connections: 1024,
            workers: 0,
            allow_files: false,
            log: Arc::new(|line: &str| eprintln!("tmap serve: {line}")),
            tls: None,
        }
    }
}

impl Config {
    /// Reads the bearer token from `path`: the file's text without surrounding white space,
    /// which must not be empty.
    pub fn token_from_file(path: &Path) -> std::io::Result<String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display()))
        })?;
        let token = text.trim();
        if token.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the token file {} is empty", path.display()),
            ));
        }
        Ok(token.to_string())
    }
}

/// What every handler shares.
pub(crate) struct Shared {
    /// Pooled connections (TensorQL sessions) on the database; they share its decoded
    /// models (one cache per database).
    pub pool: Pool,
    pub metrics: Metrics,
    /// Every accepted token (none: no authentication).
    pub tokens: Vec<ScopedToken>,
    pub timeout: Duration,
    pub allow_files: bool,
    /// Where 5xx errors are written.
    pub log: ErrorLog,
    /// The maps indexed for the live viewer.
    pub views: view::Cache,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("pool", &self.pool)
            .field("allow_files", &self.allow_files)
            .finish_non_exhaustive()
    }
}

type AppState = Arc<Shared>;

/// The routes: method, path and handler. The router is built from this list, and the
/// OpenAPI test checks it against docs/openapi.json both ways.
fn route_table() -> Vec<(&'static str, &'static str, MethodRouter<AppState>)> {
    vec![
        ("POST", "/tensor/embed", post(tensor::embed)),
        ("POST", "/tensor/query", post(tensor::query)),
        ("POST", "/vllm/generate", post(generate::generate)),
        ("POST", "/render/svg", post(render::render_svg)),
        ("POST", "/query", post(sql::query)),
        ("GET", "/view", get(view::index)),
        ("GET", "/view/{map}", get(view::map_page)),
        ("GET", "/view/{map}/meta", get(view::meta)),
        ("POST", "/view/{map}/cells", post(view::cells)),
        ("POST", "/view/{map}/field", post(view::field)),
        ("GET", "/health", get(health)),
        ("GET", "/metrics", get(metrics_text)),
        ("GET", "/openapi.json", get(openapi)),
    ]
}

/// The (method, path) of every route the server answers.
pub fn routes() -> Vec<(&'static str, &'static str)> {
    route_table()
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect()
}

/// The application: routes, limits, authentication, timeouts and metrics.
fn router(shared: AppState, max_body: usize) -> Router {
    let mut app = Router::new();
    for (_, path, handler) in route_table() {
        app = app.route(path, handler);
    }
    app.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Innermost first: the body limit, then the token, the timeout, and outermost the
        // metrics (which so count 401s, 413s and timeouts too).
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            auth::require_token,
        ))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            deadline::deadline,
        ))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            metrics::record,
        ))
        .with_state(shared)
}

async fn health() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
        .into_response()
}

async fn metrics_text(State(s): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
        .into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no route {} (see /openapi.json)", uri.path()),
    )
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{} does not take {method}", uri.path()),
    )
}

/// A server running on a runtime of its own, on a thread of its own (tests and programs
/// that embed the server; `tmap serve` uses [`run`]).
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    /// Binds `config.listen` and starts serving `db` in the background.
    pub fn start(db: Database, config: Config) -> std::io::Result<Server> {
        let runtime = runtime(&config)?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind(config.listen))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tensormap-serve".into())
            .spawn(move || {
                let served = runtime.block_on(serve(db, &config, listener, async {
                    // A dropped sender stops the server too.
                    let _ = stopped.await;
                }));
                // Dropping the runtime waits for the blocking pool: the last commits end.
                drop(runtime);
                served
            })?;
        Ok(Server {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on (with the port chosen when `listen` had port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, finishes the requests in flight, closes the database.
    pub fn shutdown(mut self) -> std::io::Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| std::io::Error::other("the server thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

/// Serves `db` on `config.listen` until SIGTERM or Ctrl-C, then shuts down gracefully
/// (see the module header). `ready` is called with the bound address once the server
/// accepts connections.
pub fn run(db: Database, config: Config, ready: impl FnOnce(SocketAddr)) -> std::io::Result<()> {
    let runtime = runtime(&config)?;
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        ready(listener.local_addr()?);
        serve(db, &config, listener, signalled()).await
    });
    drop(runtime);
    served
}

fn runtime(config: &Config) -> std::io::Result<tokio::runtime::Runtime> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.enable_all().thread_name("tensormap-http");
    if config.workers > 0 {
        b.worker_threads(config.workers);
    }
    b.build()
}

async fn serve(
    db: Database,
    config: &Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let shared = Arc::new(Shared {
        pool: Pool::new(db, config.statement_timeout, config.memory_limit),
        metrics: Metrics::default(),
        tokens: config
            .token
            .iter()
            .map(|t| ScopedToken {
                token: t.clone(),
                scope: Access::Admin,
            })
            .chain(config.tokens.iter().cloned())
            .collect(),
        timeout: config.timeout,
        allow_files: config.allow_files,
        log: config.log.clone(),
        views: view::Cache::default(),
    });
    let app = router(shared, config.max_body);
    limits::serve(
        listener,
        app,
        config.header_timeout,
        config.max_connections,
        config.tls.as_ref().map(Tls::acceptor),
        shutdown,
    )
    .await
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
async fn signalled() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No handler could be installed: wait for SIGTERM alone.
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// Runs `f` on the blocking pool (engine work never runs on a worker thread), under the
/// request's deadline: its commits are gated, and its TensorQL statements limited to the
/// time left (`deadline.rs`).
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let deadline = deadline::current();
    tokio::task::spawn_blocking(move || deadline::within(deadline, f))
        .await
        .map_err(|e| ApiError::internal(format!("the request's work failed: {e}")))?
}
