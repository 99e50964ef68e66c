//! Starting and stopping a sandbox.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{SandboxConfig, env_vars};
use crate::gateway::Reply;
use crate::orders::OrderSettings;
use crate::state::{AppState, write};
use crate::{control, dispatch, open_platform, store, ylh};

/// A running sandbox. Dropping it stops the server too (without waiting); prefer
/// [`Sandbox::shutdown`].
#[derive(Debug)]
pub struct Sandbox {
    addr: SocketAddr,
    base_url: String,
    state: Arc<AppState>,
    stop: CancellationToken,
    task: Option<JoinHandle<io::Result<()>>>,
}

/// `http://host:port` for a bound address; an unspecified address (`0.0.0.0`, `::`)
/// is reached through the loopback.
pub(crate) fn base_url_for(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

async fn not_found() -> Response {
    Reply::failure(StatusCode::NOT_FOUND, "接口不存在").into_response()
}

async fn method_not_allowed() -> Response {
    Reply::failure(StatusCode::METHOD_NOT_ALLOWED, "请求方法不支持").into_response()
}

/// Refuses a configuration whose rates or callback URL make no sense.
fn check(config: &SandboxConfig) -> io::Result<()> {
    let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidInput, e);
    control::check_rates(&OrderSettings {
        callback_url: None,
        confirm_rate: config.confirm_rate,
        reject_rate: config.reject_rate,
        oos_rate: config.oos_rate,
        duplicate_callback_rate: config.duplicate_callback_rate,
        partial_cancel_rate: config.partial_cancel_rate,
        callback_delay: config.callback_delay,
        logistics_step: config.logistics_step,
        duplicate_message: crate::orders::DEFAULT_DUPLICATE_MESSAGE.to_owned(),
    })
    .map_err(invalid)?;
    if let Some(url) = &config.callback_url {
        control::check_url(url).map_err(invalid)?;
    }
    Ok(())
}

/// Starts a sandbox on `listener`; the server runs on a spawned task until
/// [`Sandbox::shutdown`]. Fails with `InvalidInput` for outcome rates that are not
/// between 0 and 1 or do not add up to 1, or a callback URL that is not http(s).
pub async fn start(config: SandboxConfig, listener: TcpListener) -> io::Result<Sandbox> {
    check(&config)?;
    let addr = listener.local_addr()?;
    let base_url = base_url_for(addr);
    let stop = CancellationToken::new();
    let (url, token) = (base_url.clone(), stop.clone());
    // Generating the catalog is CPU work; keep it off the async workers.
    let state = tokio::task::spawn_blocking(move || AppState::new(config, url, token))
        .await
        .map_err(io::Error::other)??;
    let state = Arc::new(state);
    tokio::spawn(dispatch::run_scheduler(Arc::clone(&state)));
    tracing::info!(
        %base_url,
        products = state.config.products,
        seed = state.config.seed,
        faults = state.config.faults.as_str(),
        "sandbox listening"
    );
    let app = Router::new()
        .merge(open_platform::router())
        .merge(ylh::router())
        .nest("/_sandbox", control::router().merge(store::router()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(Arc::clone(&state));
    let signal = stop.clone();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { signal.cancelled().await })
            .await
    });
    Ok(Sandbox {
        addr,
        base_url,
        state,
        stop,
        task: Some(task),
    })
}

impl Sandbox {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The client settings for this sandbox: `SUPPLYHUB_HAIER__*` (base and token
    /// URLs, credentials, codes, passwords and rate limit), `SUPPLYHUB_YLH__*` (service
    /// base URLs, credentials, source system, shop name, seller code) and
    /// `SUPPLYHUB_HAIER_CALLBACK__*` (the callbacks' app key and secret).
    pub fn env(&self) -> Vec<(String, String)> {
        env_vars(&self.base_url, &self.state.config)
    }

    /// Sends order callbacks to `url` from now on (for a receiver that learns its own
    /// address after the sandbox started). A URL that cannot be reached only makes
    /// deliveries fail, which `/_sandbox/stats` counts.
    pub fn set_callback_url(&self, url: impl Into<String>) {
        let url = url.into();
        tracing::info!(%url, "callback URL set");
        write(&self.state.order_settings).callback_url = Some(url);
    }

    /// Stops accepting connections, ends pending hangs, stops the order scheduler and
    /// callback deliveries, lets in-flight calls finish and waits for the server task.
    pub async fn shutdown(mut self) -> io::Result<()> {
        self.stop.cancel();
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_addresses_map_to_loopback() {
        let a: SocketAddr = "0.0.0.0:7780".parse().unwrap();
        assert_eq!(base_url_for(a), "http://127.0.0.1:7780");
        let b: SocketAddr = "[::1]:80".parse().unwrap();
        assert_eq!(base_url_for(b), "http://[::1]:80");
    }
}
