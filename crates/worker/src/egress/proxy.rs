//! The egress proxy: an HTTP proxy on 127.0.0.1 that yt-dlp (and everything it starts) must use.
//!
//! yt-dlp fetches whatever it is pointed at and whatever that points to: redirects, HLS and DASH
//! fragments, thumbnails, API calls. Checking the request URL in advance covers none of that, and
//! checking a name before yt-dlp resolves it again is beaten by DNS rebinding. So every
//! connection goes through here: the proxy resolves the name itself, checks each address against
//! the [`EgressPolicy`], and connects only to an address it checked (the model is Stripe's
//! smokescreen). It speaks `CONNECT` (tunnels, for https) and plain forwarding (absolute-form
//! requests, for http), each request of a keep-alive connection checked on its own.
//!
//! One proxy runs per yt-dlp run, on an ephemeral port, so a refusal belongs to that run: the
//! driver turns it into `URL_NOT_ALLOWED` naming the host.
//!
//! It also enforces the size cap on plain-HTTP response bodies that announce no size, as they
//! stream: a server that sends no `Content-Length` is cut off at the cap instead of filling the disk between two looks
//! of the driver's on-disk count (which still covers tunnels and fragmented downloads).
use super::policy::{EgressPolicy, Refusal, RefusalReason};
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONNECTION, HOST};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// How long a connection to a checked address may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Headers that belong to one hop and are never forwarded (RFC 9110 §7.6.1), plus the proxy's own.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
];

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type ProxyBody = BoxBody<Bytes, BoxError>;

/// A running proxy; dropping it closes the listener and every connection through it.
pub struct EgressProxy {
    addr: SocketAddr,
    refusals: Arc<Mutex<Vec<Refusal>>>,
    over_cap: Arc<AtomicBool>,
    announced_over: Arc<AtomicU64>,
    stop: CancellationToken,
}

struct Shared {
    policy: Arc<EgressPolicy>,
    refusals: Arc<Mutex<Vec<Refusal>>>,
    /// The most one plain-HTTP response body may carry (the run's size cap), if any.
    max_body_bytes: Option<u64>,
    over_cap: Arc<AtomicBool>,
    /// The size a response announced when it was over the cap (0: none did).
    announced_over: Arc<AtomicU64>,
    stop: CancellationToken,
}

impl EgressProxy {
    /// Binds 127.0.0.1 on an ephemeral port and serves until dropped.
    /// `max_body_bytes`: cut off any plain-HTTP response body larger than this.
    pub async fn start(
        policy: Arc<EgressPolicy>,
        max_body_bytes: Option<u64>,
    ) -> std::io::Result<EgressProxy> {
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let refusals = Arc::new(Mutex::new(Vec::new()));
        let over_cap = Arc::new(AtomicBool::new(false));
        let announced_over = Arc::new(AtomicU64::new(0));
        let stop = CancellationToken::new();
        let shared = Arc::new(Shared {
            policy,
            refusals: refusals.clone(),
            max_body_bytes,
            over_cap: over_cap.clone(),
            announced_over: announced_over.clone(),
            stop: stop.clone(),
        });
        tokio::spawn(accept_loop(listener, shared));
        Ok(EgressProxy {
            addr,
            refusals,
            over_cap,
            announced_over,
            stop,
        })
    }

    /// Whether a response announced a size over the cap or its body was cut off at the cap.
    pub(crate) fn over_cap(&self) -> bool {
        self.over_cap.load(Ordering::Relaxed)
    }

    /// The size of the whole file a response announced over the cap, if one did.
    pub(crate) fn announced_over_cap(&self) -> Option<u64> {
        Some(self.announced_over.load(Ordering::Relaxed)).filter(|&size| size > 0)
    }

    /// The proxy URL for yt-dlp's `--proxy` and the child's `*_proxy` variables.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The first destination refused so far, if any.
    pub(crate) fn first_refusal(&self) -> Option<Refusal> {
        lock(&self.refusals).first().cloned()
    }
}

impl Drop for EgressProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let accepted = tokio::select! {
            () = shared.stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else { continue };
        let shared = shared.clone();
        tokio::spawn(async move {
            let stop = shared.stop.clone();
            let service = hyper::service::service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(request, shared).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .preserve_header_case(true)
                .title_case_headers(true)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::select! {
                () = stop.cancelled() => {}
                result = connection => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "egress proxy connection ended with an error");
                    }
                }
            }
        });
    }
}

async fn handle(request: Request<Incoming>, shared: Arc<Shared>) -> Response<ProxyBody> {
    if request.method() == Method::CONNECT {
        tunnel(request, shared).await
    } else {
        forward(request, shared).await
    }
}

/// `CONNECT host:port`: check, connect, answer 200, then copy bytes both ways.
async fn tunnel(request: Request<Incoming>, shared: Arc<Shared>) -> Response<ProxyBody> {
    let Some(authority) = request.uri().authority().cloned() else {
        return text(StatusCode::BAD_REQUEST, "CONNECT needs host:port");
    };
    let host = authority.host().to_owned();
    let port = authority.port_u16().unwrap_or(443);
    let upstream = match connect_checked(&shared, &host, port).await {
        Ok(stream) => stream,
        Err(response) => return response,
    };
    let stop = shared.stop.clone();
    tokio::spawn(async move {
        let upgraded = match hyper::upgrade::on(request).await {
            Ok(upgraded) => upgraded,
            Err(error) => {
                tracing::debug!(%error, "egress proxy: CONNECT upgrade failed");
                return;
            }
        };
        let mut client = TokioIo::new(upgraded);
        let mut upstream = upstream;
        tokio::select! {
            () = stop.cancelled() => {}
            _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
        }
    });
    Response::new(empty())
}

/// A plain-HTTP request in absolute form: check the host, send the request in origin form to the
/// checked address, stream the response back.
async fn forward(mut request: Request<Incoming>, shared: Arc<Shared>) -> Response<ProxyBody> {
    let uri = request.uri().clone();
    let Some(scheme) = uri.scheme_str() else {
        return text(
            StatusCode::BAD_REQUEST,
            "this is a proxy: send an absolute URL or CONNECT",
        );
    };
    let Some(host) = uri.host().map(str::to_owned) else {
        return text(StatusCode::BAD_REQUEST, "the URL has no host");
    };
    if !EgressPolicy::permits_scheme(scheme) {
        return refuse(
            &shared,
            Refusal {
                host,
                reason: RefusalReason::Scheme(scheme.to_ascii_lowercase()),
            },
        );
    }
    if !scheme.eq_ignore_ascii_case("http") {
        return text(StatusCode::BAD_REQUEST, "https goes through CONNECT");
    }
    let port = uri.port_u16().unwrap_or(80);
    let upstream = match connect_checked(&shared, &host, port).await {
        Ok(stream) => stream,
        Err(response) => return response,
    };
    let handshake = hyper::client::conn::http1::Builder::new()
        .preserve_header_case(true)
        .title_case_headers(true)
        .handshake::<_, Incoming>(TokioIo::new(upstream))
        .await;
    let (mut sender, connection) = match handshake {
        Ok(pair) => pair,
        Err(error) => {
            return text(
                StatusCode::BAD_GATEWAY,
                &format!("upstream handshake failed: {error}"),
            )
        }
    };
    let stop = shared.stop.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = stop.cancelled() => {}
            _ = connection => {}
        }
    });

    let origin_form = uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
    *request.uri_mut() = origin_form
        .parse::<Uri>()
        .unwrap_or_else(|_| Uri::from_static("/"));
    strip_hop_by_hop(request.headers_mut());
    if !request.headers().contains_key(HOST) {
        if let Some(authority) = uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        {
            request.headers_mut().insert(HOST, authority);
        }
    }
    match sender.send_request(request).await {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            // yt-dlp's own downloader judges an announced size by --max-filesize, but an
            // external downloader (aria2c) does not: an announced size over the cap stops the
            // run here, and every body is cut off at the cap, announced or not.
            if let (Some(limit), Some(size)) = (shared.max_body_bytes, announced_size(&parts.headers)) {
                if size > limit {
                    tracing::warn!(
                        size,
                        limit,
                        "egress proxy: response announces a file over the size cap"
                    );
                    shared.announced_over.store(size, Ordering::Relaxed);
                    shared.over_cap.store(true, Ordering::Relaxed);
                }
            }
            let body = match shared.max_body_bytes {
                Some(limit) => Capped {
                    inner: body,
                    seen: 0,
                    limit,
                    over: shared.over_cap.clone(),
                }
                .boxed(),
                None => body.map_err(BoxError::from).boxed(),
            };
            Response::from_parts(parts, body)
        }
        Err(error) => text(
            StatusCode::BAD_GATEWAY,
            &format!("upstream request failed: {error}"),
        ),
    }
}

/// Resolves `host`, keeps only the addresses the policy permits, and connects to the first that
/// answers. The error is the response to send back (403 for a refusal, 502 otherwise).
async fn connect_checked(shared: &Shared, host: &str, port: u16) -> Result<TcpStream, Response<ProxyBody>> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let resolved: Vec<SocketAddr> = match tokio::net::lookup_host((bare, port)).await {
        Ok(addrs) => addrs.collect(),
        Err(_) => Vec::new(),
    };
    if resolved.is_empty() {
        return Err(text(
            StatusCode::BAD_GATEWAY,
            &format!("{bare} cannot be resolved"),
        ));
    }
    let permitted: Vec<SocketAddr> = resolved
        .iter()
        .copied()
        .filter(|addr| shared.policy.permits(addr.ip()))
        .collect();
    if permitted.is_empty() {
        let refusal = Refusal {
            host: bare.to_owned(),
            reason: RefusalReason::Address(resolved[0].ip()),
        };
        return Err(refuse(shared, refusal));
    }
    let mut last_error = None;
    for addr in permitted {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(error)) => last_error = Some(error.to_string()),
            Err(_) => last_error = Some("connection timed out".to_owned()),
        }
    }
    let why = last_error.unwrap_or_default();
    Err(text(
        StatusCode::BAD_GATEWAY,
        &format!("cannot connect to {bare}: {why}"),
    ))
}

fn refuse(shared: &Shared, refusal: Refusal) -> Response<ProxyBody> {
    tracing::warn!(host = %refusal.host, reason = %refusal, "egress refused");
    let body = refusal.to_string();
    lock(&shared.refusals).push(refusal);
    text(StatusCode::FORBIDDEN, &body)
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
}

/// The size of the whole file a response announces: the total of a `Content-Range` (a range
/// request, as aria2c makes them), else its `Content-Length`.
fn announced_size(headers: &hyper::HeaderMap) -> Option<u64> {
    let number = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(range) = number(hyper::header::CONTENT_RANGE) {
        return range.rsplit_once('/').and_then(|(_, total)| total.parse().ok());
    }
    number(hyper::header::CONTENT_LENGTH).and_then(|length| length.parse().ok())
}

/// A response body that fails (so hyper drops the client connection) once it carried more than
/// `limit` bytes, and says so in `over`.
struct Capped {
    inner: Incoming,
    seen: u64,
    limit: u64,
    over: Arc<AtomicBool>,
}

impl hyper::body::Body for Capped {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, BoxError>>> {
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(frame) => frame,
        };
        let Some(Ok(frame)) = frame else {
            return Poll::Ready(frame.map(|result| result.map_err(BoxError::from)));
        };
        if let Some(data) = frame.data_ref() {
            self.seen += data.len() as u64;
            if self.seen > self.limit {
                self.over.store(true, Ordering::Relaxed);
                tracing::warn!(
                    limit = self.limit,
                    "egress proxy: response body over the size cap; cut off"
                );
                return Poll::Ready(Some(Err("response body over the size cap".into())));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }
}

fn empty() -> ProxyBody {
    Empty::<Bytes>::new().map_err(|never| match never {}).boxed()
}

fn text(status: StatusCode, message: &str) -> Response<ProxyBody> {
    let body = Full::new(Bytes::from(format!("{message}\n")))
        .map_err(|never| match never {})
        .boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
