//! The accept loop, with the limits that keep slow or many clients from starving the rest
//! (axum's own `serve` has neither a header-read timer nor a connection limit):
//!
//! - **header read timeout** ([`crate::Config::header_timeout`]): a connection that has not
//!   sent a whole request head within it — a client dripping its headers a byte at a time,
//!   or a kept-alive connection that sends nothing — is closed by hyper (its timer runs
//!   from the first byte of each request, and while a kept-alive connection idles);
//! - **body read timeout**: the body is read by the handler's extractor, inside the
//!   request deadline ([`crate::Config::timeout`], answered 503), so a slow body ends
//!   there too;
//! - **connection limit** ([`crate::Config::max_connections`]): at the limit the loop stops
//!   accepting; new connections wait in the kernel's backlog until one closes (the header
//!   timeout bounds how long a slow client holds its place).
//!
//! With TLS ([`crate::Config::tls`]) each accepted connection first runs its handshake, on
//! a task of its own (a slow handshake never holds up accepting), inside the connection's
//! slot and within the header-read timeout: a client that connects and never completes the
//! handshake is closed at that timeout, as one that never sends a request head is. A failed
//! handshake (plain HTTP on the TLS port, a client that does not trust the certificate)
//! closes that connection alone, silently. The header timer of the first request starts
//! when the handshake ends.
//!
//! Shutdown: the listener is dropped at once, each open connection finishes the request it
//! is serving and is then closed (hyper's graceful shutdown), and the loop returns when the
//! last one has. A connection still in its TLS handshake when shutdown begins is treated
//! as one just accepted once the handshake ends (bounded by the header timeout): it is
//! served at most one request, which must arrive within the header timeout, then closed.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

/// Serves `app` on `listener` until `shutdown` resolves, within the limits; with `tls`,
/// HTTPS only.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    max_connections: usize,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let http = Arc::new(http);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break, // never closed
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Out of file descriptors or a connection reset before it was taken:
                    // wait a little rather than spin.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // Subscribed now, so that a shutdown signalled while this connection is still in
        // its handshake is seen when the connection is watched (hyper then serves it at
        // most one request).
        let watcher = graceful.watcher();
        let (app, http) = (app.clone(), http.clone());
        match &tls {
            None => {
                tokio::spawn(async move {
                    connection(&http, watcher, stream, app).await;
                    drop(slot);
                });
            }
            Some(acceptor) => {
                let handshake = acceptor.accept(stream);
                tokio::spawn(async move {
                    // Too slow (no handshake within the header timeout) or failed: the
                    // connection is dropped, which closes it.
                    if let Ok(Ok(stream)) = tokio::time::timeout(header_timeout, handshake).await {
                        connection(&http, watcher, stream, app).await;
                    }
                    drop(slot);
                });
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Serves one connection (plain or TLS) to its end, under graceful shutdown.
async fn connection<I>(
    http: &hyper::server::conn::http1::Builder,
    watcher: Watcher,
    io: I,
    app: Router,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(app);
    // A connection's end (closed, timed out, reset) is not the server's failure.
    let _ = watcher
        .watch(http.serve_connection(TokioIo::new(io), service))
        .await;
}
