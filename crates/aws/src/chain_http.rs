//! The HTTP client under `aws-config`'s credential chain (instance metadata, container
//! credentials, STS, SSO): a smithy [`HttpClient`] over the same reqwest client as every
//! other AWS call, so the SDK's own HTTP stack (hyper-rustls and its TLS setup, about a
//! minute of every cold build) is not built at all.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use std::time::Duration;

/// What a chain request may take when the SDK sets no deadline of its own.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A smithy HTTP client on `http`: each request gets the SDK's read (else connect) timeout.
pub(crate) fn smithy_client(http: reqwest::Client) -> SharedHttpClient {
    SharedHttpClient::new(ChainHttp(http))
}

#[derive(Debug, Clone)]
struct ChainHttp(reqwest::Client);

impl HttpClient for ChainHttp {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let timeout = match (settings.connect_timeout(), settings.read_timeout()) {
            (Some(c), Some(r)) => c + r,
            (c, r) => c.or(r).unwrap_or(DEFAULT_TIMEOUT),
        };
        SharedHttpConnector::new(Connector {
            http: self.0.clone(),
            timeout,
        })
    }
}

#[derive(Debug)]
struct Connector {
    http: reqwest::Client,
    timeout: Duration,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let http = self.http.clone();
        let timeout = self.timeout;
        HttpConnectorFuture::new(async move { send(&http, request, timeout).await })
    }
}

async fn send(
    http: &reqwest::Client,
    request: HttpRequest,
    timeout: Duration,
) -> Result<HttpResponse, ConnectorError> {
    let method = reqwest::Method::from_bytes(request.method().as_bytes())
        .map_err(|e| ConnectorError::other(e.into(), None))?;
    // The chain's requests are small and in memory; a streaming body is not one of them.
    let body = request
        .body()
        .bytes()
        .ok_or_else(|| ConnectorError::other("a streaming request body".into(), None))?
        .to_vec();
    let mut rb = http
        .request(method, request.uri())
        .timeout(timeout)
        .body(body);
    for (name, value) in request.headers().iter() {
        rb = rb.header(name, value);
    }
    let answer = rb.send().await.map_err(|e| {
        if e.is_timeout() {
            ConnectorError::timeout(e.into())
        } else {
            ConnectorError::io(e.into())
        }
    })?;
    let status = StatusCode::try_from(answer.status().as_u16())
        .map_err(|e| ConnectorError::other(e.into(), None))?;
    let headers: Vec<(String, String)> = answer
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let bytes = answer
        .bytes()
        .await
        .map_err(|e| ConnectorError::io(e.into()))?;
    let mut response = HttpResponse::new(status, SdkBody::from(bytes.to_vec()));
    for (k, v) in headers {
        response
            .headers_mut()
            .try_append(k, v)
            .map_err(|e| ConnectorError::other(e.into(), None))?;
    }
    Ok(response)
}
