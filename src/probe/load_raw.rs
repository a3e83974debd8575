//! The load phase's closed-loop client for plain `http://` targets: one HTTP/1.1 connection per
//! client through hyper directly, as wrk does. reqwest's per-request work (pool lookup, request
//! builder, redirect and timeout layers) halved the rate a client could drive on this machine,
//! and the load phase must be able to push a backend as hard as wrk would. A connection the
//! server closes is opened again; `https://` targets keep reqwest (and its TLS).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::time::Duration;

/// One request of a step, prepared once.
pub struct Raw {
    pub method: hyper::Method,
    /// `host:port` to connect to and send as `Host`.
    pub authority: String,
    /// Path and query.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub bodies: Vec<Bytes>,
}

impl Raw {
    /// `None` unless `url` is plain http with a host.
    pub fn new(
        method: &reqwest::Method,
        url: &str,
        headers: &[(String, String)],
        bodies: &[String],
    ) -> Option<Raw> {
        let u = url::Url::parse(url).ok()?;
        if u.scheme() != "http" {
            return None;
        }
        let host = u.host_str()?;
        let port = u.port_or_known_default()?;
        let path = match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        };
        Some(Raw {
            method: hyper::Method::from_bytes(method.as_str().as_bytes()).ok()?,
            authority: format!("{host}:{port}"),
            path,
            headers: headers.to_vec(),
            bodies: bodies.iter().map(|b| Bytes::from(b.clone())).collect(),
        })
    }
}

/// A client's connection, opened on first use and again after a failure.
#[derive(Default)]
pub struct Conn {
    sender: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>>,
}

impl Conn {
    /// Sends request `i`; its status, or why there is none (`Err(true)` for a timeout).
    pub async fn send(&mut self, raw: &Raw, i: usize, timeout: Duration) -> Result<u16, bool> {
        match tokio::time::timeout(timeout, self.exchange(raw, i)).await {
            Ok(Ok(status)) => Ok(status),
            Ok(Err(())) => {
                self.sender = None;
                Err(false)
            }
            Err(_) => {
                self.sender = None;
                Err(true)
            }
        }
    }

    async fn exchange(&mut self, raw: &Raw, i: usize) -> Result<u16, ()> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = tokio::net::TcpStream::connect(&raw.authority)
                .await
                .map_err(|_| ())?;
            let _ = stream.set_nodelay(true);
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|_| ())?;
            tokio::spawn(conn);
            self.sender = Some(sender);
        }
        let sender = self.sender.as_mut().ok_or(())?;
        sender.ready().await.map_err(|_| ())?;
        let body = if raw.bodies.is_empty() {
            Bytes::new()
        } else {
            raw.bodies[i % raw.bodies.len()].clone()
        };
        let mut request = Request::builder()
            .method(raw.method.clone())
            .uri(raw.path.as_str())
            .header(hyper::header::HOST, raw.authority.as_str());
        for (k, v) in &raw.headers {
            request = request.header(k.as_str(), v.as_str());
        }
        let request = request.body(Full::new(body)).map_err(|_| ())?;
        let response = sender.send_request(request).await.map_err(|_| ())?;
        let status = response.status().as_u16();
        response.into_body().collect().await.map_err(|_| ())?;
        Ok(status)
    }
}
