//! Accepting connections with the limits `axum::serve` does not have: a cap on open
//! connections, and a time limit for request headers (which is also the keep-alive idle
//! limit), so slow or idle clients cannot hold the server.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::Service;

/// How connections are served.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    /// After an early answer (413, 401, 503 before the body was read), how much of the rest
    /// of the body is read and thrown away, and for how long, so the client can finish
    /// sending and read the answer instead of seeing a reset connection.
    pub drain_bytes: u64,
    pub drain_time: Duration,
}

/// A request body that, when a handler drops it before its end, reads the rest in the
/// background (up to a cap in bytes and time) instead of leaving it unread: an unread body
/// makes the connection close under a client that is still sending, which then reports a
/// broken pipe instead of the answer it was given (nginx calls this a lingering close).
struct DrainOnDrop {
    inner: Option<Incoming>,
    finished: bool,
    cap: u64,
    time: Duration,
}

impl hyper::body::Body for DrainOnDrop {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return std::task::Poll::Ready(None);
        };
        let polled = std::pin::Pin::new(inner).poll_frame(cx);
        if matches!(polled, std::task::Poll::Ready(None | Some(Err(_)))) {
            self.finished = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(hyper::body::Body::is_end_stream)
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner
            .as_ref()
            .map(hyper::body::Body::size_hint)
            .unwrap_or_default()
    }
}

impl Drop for DrainOnDrop {
    fn drop(&mut self) {
        let Some(mut body) = self.inner.take() else {
            return;
        };
        if self.finished || hyper::body::Body::is_end_stream(&body) {
            return;
        }
        let (cap, time) = (self.cap, self.time);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                use http_body_util::BodyExt;
                let _ = tokio::time::timeout(time, async {
                    let mut read = 0u64;
                    while let Some(Ok(frame)) = body.frame().await {
                        read += frame.data_ref().map_or(0, |d| d.len() as u64);
                        if read > cap {
                            break;
                        }
                    }
                })
                .await;
            });
        }
    }
}

/// What a connection over the cap is told before it is closed.
const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 147\r\n\r\n{\"type\":\"urn:lookout:problem:busy\",\"title\":\"Server busy\",\"status\":503,\"detail\":\"the server has too many open connections right now; retry shortly\"}";

/// Serves `app` on `listener` until `stop` turns true, then lets open connections finish
/// their requests (the caller bounds how long it waits).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.header_timeout))
        .keep_alive_timeout(limits.header_timeout)
        .max_concurrent_streams(64);
    let builder = Arc::new(builder);

    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = async { stop.wait_for(|stop| *stop).await.is_ok() } => break,
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            metrics::counter!(crate::metrics::CONNECTIONS_REFUSED).increment(1);
            tokio::spawn(async move {
                let mut stream = stream;
                let _ = tokio::time::timeout(Duration::from_secs(1), async {
                    let _ = stream.write_all(OVER_CAPACITY).await;
                    let _ = stream.shutdown().await;
                })
                .await;
            });
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = app.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let mut request = request.map(|body| {
                axum::body::Body::new(DrainOnDrop {
                    inner: Some(body),
                    finished: false,
                    cap: limits.drain_bytes,
                    time: limits.drain_time,
                })
            });
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            let call = router.clone().call(request);
            async move { Ok::<_, Infallible>(call.await.unwrap_or_else(|e| match e {})) }
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
