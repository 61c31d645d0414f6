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
//! Shutdown: the listener is dropped at once, each open connection finishes the request it
//! is serving and is then closed (hyper's graceful shutdown), and the loop returns when the
//! last one has.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Serves `app` on `listener` until `shutdown` resolves, within the limits.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    max_connections: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
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
        let service = TowerToHyperService::new(app.clone());
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A connection's end (closed, timed out, reset) is not the server's failure.
            let _ = conn.await;
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
