//! `tmap serve DB_PATH [--listen 127.0.0.1:8080] [--token-file FILE] ...`: the HTTP API
//! over the database ([`tensormap_server`]). Prints `listening on http://ADDR` (with
//! `--tls-cert`/`--tls-key`: `listening on https://ADDR`) on standard output once it
//! accepts connections (with the port chosen when `--listen` has port 0): scripts take the
//! line's last word as the base URL. Runs until SIGTERM or Ctrl-C, then finishes the
//! requests in flight and closes the database.
//!
//! The TLS files are read and checked before the database is opened: a bad one is an error
//! that names it, and nothing is created or listened on.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tensormap::Database;
use tensormap_server::Config;

/// Serve a database over HTTP (the tensor routes, TensorQL at /query).
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The database directory (created if missing).
    db_path: PathBuf,
    /// The address to listen on (loopback unless told otherwise; port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// A file of bearer tokens, one `TOKEN read|write|admin` a line (a file of one bare
    /// token: that token, admin); every route but /health then requires one, and a token
    /// used beyond its scope is answered 403.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// The largest request body accepted, bytes.
    #[arg(long, default_value_t = 4 << 20)]
    max_body: usize,
    /// The longest a request may take, seconds (then it is answered 503, having committed
    /// nothing; a write whose commit began before it is answered when the commit ends).
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// The longest one TensorQL statement of /query may run, seconds (then it ends with an
    /// error and changes nothing); 0: no limit.
    #[arg(long, default_value_t = 30.0)]
    statement_timeout: f64,
    /// The most MiB of rows one TensorQL statement of /query may materialize; 0: no limit.
    #[arg(long, value_name = "MIB", default_value_t = 2048)]
    memory_limit: u64,
    /// The longest a client may take to send a request's head, or sit idle between
    /// kept-alive requests, seconds (then the connection is closed).
    #[arg(long, default_value_t = 10.0)]
    header_timeout: f64,
    /// The most connections served at once (more wait in the listen backlog).
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    workers: usize,
    /// Let POST /query read and write the server's files (COPY, SNAPSHOT, RESTORE,
    /// RENDER ... TO, LOAD and SAVE MODEL).
    #[arg(long)]
    allow_files: bool,
    /// Serve HTTPS (only) with this certificate chain: a PEM file, the server's certificate
    /// first, then its issuers. Needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert's certificate: a PEM file (PKCS#8, PKCS#1 or SEC1).
    /// Needs --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

pub fn main(args: ServeArgs) -> ExitCode {
    let tokens = match &args.token_file {
        Some(path) => match tensormap_server::ScopedToken::read_file(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => Vec::new(),
    };
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout < 1e9) {
        eprintln!("error: --timeout must be a positive number of seconds");
        return ExitCode::FAILURE;
    }
    if !(args.header_timeout.is_finite() && args.header_timeout > 0.0 && args.header_timeout < 1e9)
    {
        eprintln!("error: --header-timeout must be a positive number of seconds");
        return ExitCode::FAILURE;
    }
    if !(args.statement_timeout.is_finite()
        && args.statement_timeout >= 0.0
        && args.statement_timeout < 1e9)
    {
        eprintln!("error: --statement-timeout must be a number of seconds, 0 for none");
        return ExitCode::FAILURE;
    }
    let Some(memory_limit) = args.memory_limit.checked_mul(1 << 20) else {
        eprintln!("error: --memory-limit is too large");
        return ExitCode::FAILURE;
    };
    if args.max_connections == 0 {
        eprintln!("error: --max-connections must be at least 1");
        return ExitCode::FAILURE;
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => match tensormap_server::Tls::from_pem_files(cert, key) {
            Ok(tls) => Some(tls),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
        // clap requires both or neither.
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let db = match Database::open(&args.db_path) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = Config {
        listen: args.listen,
        tokens,
        max_body: args.max_body,
        timeout: Duration::from_secs_f64(args.timeout),
        header_timeout: Duration::from_secs_f64(args.header_timeout),
        statement_timeout: (args.statement_timeout > 0.0)
            .then(|| Duration::from_secs_f64(args.statement_timeout)),
        memory_limit: (memory_limit > 0).then_some(memory_limit),
        max_connections: args.max_connections,
        workers: args.workers,
        allow_files: args.allow_files,
        tls,
        ..Config::default()
    };
    let served = tensormap_server::run(db, config, |addr| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {scheme}://{addr}");
        let _ = out.flush();
    });
    match served {
        Ok(()) => {
            eprintln!("tmap serve: stopped; the database is closed");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
