//! One small signed client for the few AWS operations fearless calls: a request body is
//! built, signed with SigV4 (`aws-sigv4`) with credentials from the standard chain
//! (`aws-config`: environment, shared profile, SSO, web identity, container and instance
//! roles), sent with reqwest on rustls with ring, and its answer or its AWS error read back.
//! Throttling and 5xx answers are retried with exponential backoff and full jitter; every
//! call is counted per operation ([`Calls`]), so a benchmark can say how many a round took.
//!
//! Credentials are never logged: requests are traced by operation and status only.

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};
use tokio::sync::Mutex as AsyncMutex;

/// Why an AWS call did not give an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    /// No connection to the endpoint (refused, no route, TLS, timeout).
    #[error("cannot reach {service} at {endpoint}: {detail}")]
    Unreachable {
        /// `ec2`, `ssm`, …
        service: &'static str,
        /// The endpoint's URL (never with credentials).
        endpoint: String,
        /// What the connection said.
        detail: String,
        /// Why, as far as the connection's errors say.
        cause: Unreached,
    },
    /// No credentials could be found or refreshed.
    #[error("no AWS credentials: {0}")]
    Credentials(String),
    /// The service refused the request; `code` is AWS's error code
    /// (`AccessDeniedException`, `InvalidParameterValue`, `InvocationDoesNotExist`, …).
    #[error("{service} {operation} failed: {code}: {message}")]
    Api {
        /// `ec2`, `ssm`, …
        service: &'static str,
        /// The operation called.
        operation: &'static str,
        /// HTTP status.
        status: u16,
        /// AWS's error code.
        code: String,
        /// AWS's message.
        message: String,
    },
    /// Still throttled after every retry.
    #[error("{service} {operation}: still throttled after {attempts} attempts ({code})")]
    Throttled {
        /// `ec2`, `ssm`, …
        service: &'static str,
        /// The operation called.
        operation: &'static str,
        /// How many times it was tried.
        attempts: u32,
        /// AWS's error code.
        code: String,
    },
    /// The answer could not be read.
    #[error("{service} {operation}: unreadable answer: {detail}")]
    Parse {
        /// `ec2`, `ssm`, …
        service: &'static str,
        /// The operation called.
        operation: &'static str,
        /// What was wrong.
        detail: String,
    },
}

impl AwsError {
    /// AWS's error code, for an API error.
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Api { code, .. } | AwsError::Throttled { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the caller is not allowed to do this (IAM).
    pub fn is_access_denied(&self) -> bool {
        self.code().is_some_and(|c| {
            matches!(
                c,
                "AccessDenied"
                    | "AccessDeniedException"
                    | "UnauthorizedOperation"
                    | "AuthFailure"
                    | "UnrecognizedClientException"
                    | "InvalidClientTokenId"
                    | "ExpiredToken"
                    | "ExpiredTokenException"
                    | "SignatureDoesNotMatch"
            )
        })
    }
}

/// Why an endpoint could not be reached, read from the connection's error chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreached {
    /// No answer within the request's deadline.
    Timeout,
    /// The connection was refused (nothing listens) or reset.
    Refused,
    /// The endpoint's name does not resolve.
    Dns,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// Anything else: no route, a bad URL, a client that could not be built.
    Other,
}

impl Unreached {
    /// The cause of a failed request, from reqwest's error and its sources.
    fn of(e: &reqwest::Error) -> Self {
        if e.is_timeout() {
            return Self::Timeout;
        }
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
        let mut texts = Vec::new();
        while let Some(s) = source {
            if s.downcast_ref::<rustls::Error>().is_some() {
                return Self::Tls;
            }
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                use std::io::ErrorKind::*;
                match io.kind() {
                    ConnectionRefused | ConnectionReset | ConnectionAborted => {
                        return Self::Refused;
                    }
                    TimedOut => return Self::Timeout,
                    _ => {}
                }
            }
            texts.push(s.to_string());
            source = s.source();
        }
        // hyper-util wraps resolver failures in a "dns error"; std's getaddrinfo errors
        // start with "failed to lookup address information".
        if texts
            .iter()
            .any(|t| t == "dns error" || t.starts_with("failed to lookup address information"))
        {
            return Self::Dns;
        }
        Self::Other
    }
}

/// Error codes that mean "slow down": retried with backoff.
fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "SlowDown"
            | "ProvisionedThroughputExceededException"
    )
}

/// How a [`Client`] is set up.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The region (`eu-west-1`).
    pub region: String,
    /// A shared-config profile for credentials (`~/.aws/config`), else the default chain.
    pub profile: Option<String>,
    /// The service URL instead of AWS's (`http://127.0.0.1:5000` for an emulator, a VPC
    /// endpoint's name).
    pub endpoint_url: Option<String>,
    /// Each request's deadline.
    pub timeout: Duration,
    /// Attempts for a throttled or 5xx answer (at least 1).
    pub attempts: u32,
    /// The first backoff; each retry doubles it (full jitter), at most 20 s.
    pub backoff: Duration,
    /// Credentials given rather than looked up in the chain (a caller that holds them
    /// already; tests against emulators).
    pub credentials: Option<Credentials>,
    /// An HTTP client to share with other clients (its connections pooled across them),
    /// made by [`http_client`]; `None`: a client of its own.
    pub http: Option<reqwest::Client>,
}

impl ClientOptions {
    /// Options for `region` with the defaults: AWS's endpoint, the default credential
    /// chain, 30 s a request, 6 attempts from 200 ms.
    pub fn new(region: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            profile: None,
            endpoint_url: None,
            timeout: Duration::from_secs(30),
            attempts: 6,
            backoff: Duration::from_millis(200),
            credentials: None,
            http: None,
        }
    }
}

/// How many calls of each operation a client made (retries included), for benchmarks and
/// `--verbose` figures.
#[derive(Debug, Default)]
pub struct Calls(Mutex<BTreeMap<&'static str, u64>>);

impl Calls {
    fn add(&self, op: &'static str) {
        *self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(op)
            .or_default() += 1;
    }

    /// Calls so far, by operation.
    pub fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every call so far.
    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }
}

/// A signed client of one AWS service in one region.
#[derive(Debug)]
pub struct Client {
    service: &'static str,
    options: ClientOptions,
    endpoint: url::Url,
    http: Result<reqwest::Client, String>,
    creds: AsyncMutex<CredsState>,
    calls: Arc<Calls>,
}

#[derive(Debug, Default)]
struct CredsState {
    provider: Option<SharedCredentialsProvider>,
    current: Option<Credentials>,
}

/// Refresh credentials this long before they expire.
const CREDS_MARGIN: Duration = Duration::from_secs(300);

impl Client {
    /// A client of `service` (its signing name and endpoint prefix: `ec2`, `ssm`), nothing
    /// connected yet. An endpoint URL that does not parse is an error here.
    pub fn new(service: &'static str, options: ClientOptions) -> Result<Self, AwsError> {
        let endpoint = match &options.endpoint_url {
            Some(u) => u.clone(),
            None => format!("https://{service}.{}.amazonaws.com/", options.region),
        };
        let endpoint = url::Url::parse(&endpoint).map_err(|e| AwsError::Unreachable {
            service,
            endpoint: endpoint.clone(),
            detail: format!("not a URL: {e}"),
            cause: Unreached::Other,
        })?;
        if !matches!(endpoint.scheme(), "http" | "https")
            || !endpoint.username().is_empty()
            || endpoint.password().is_some()
        {
            let mut shown = endpoint;
            let _ = shown.set_username("");
            let _ = shown.set_password(None);
            return Err(AwsError::Unreachable {
                service,
                endpoint: shown.to_string(),
                detail: "an endpoint is http:// or https://, without credentials".into(),
                cause: Unreached::Other,
            });
        }
        Ok(Self {
            service,
            http: match &options.http {
                Some(h) => Ok(h.clone()),
                None => http_client(),
            },
            options,
            endpoint,
            creds: AsyncMutex::new(CredsState::default()),
            calls: Arc::new(Calls::default()),
        })
    }

    /// The region it signs for.
    pub fn region(&self) -> &str {
        &self.options.region
    }

    /// The endpoint it calls.
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    /// The calls it made so far.
    pub fn calls(&self) -> Arc<Calls> {
        self.calls.clone()
    }

    /// Current credentials: from the chain on first use, refreshed near their expiry.
    async fn credentials(&self) -> Result<Credentials, AwsError> {
        let mut st = self.creds.lock().await;
        if let Some(c) = &st.current
            && c.expiry()
                .is_none_or(|e| e > SystemTime::now() + CREDS_MARGIN)
        {
            return Ok(c.clone());
        }
        if st.provider.is_none() {
            st.provider = match &self.options.credentials {
                Some(c) => Some(SharedCredentialsProvider::new(c.clone())),
                None => match &self.http {
                    Ok(http) => chain(&self.options, http.clone()).await,
                    Err(e) => return Err(AwsError::Credentials(e.clone())),
                },
            };
        }
        let provider = st
            .provider
            .clone()
            .ok_or_else(|| AwsError::Credentials("the credential chain has no provider".into()))?;
        let fresh = provider
            .provide_credentials()
            .await
            .map_err(|e| AwsError::Credentials(with_causes(&e)))?;
        st.current = Some(fresh.clone());
        Ok(fresh)
    }

    /// Call an AWS JSON 1.1 operation (`X-Amz-Target: PREFIX.OP`), as SSM speaks.
    pub async fn json<Req: serde::Serialize, Resp: serde::de::DeserializeOwned>(
        &self,
        target_prefix: &str,
        operation: &'static str,
        request: &Req,
    ) -> Result<Resp, AwsError> {
        self.json_call("1.1", target_prefix, operation, request)
            .await
    }

    /// Call an AWS JSON 1.0 operation, as SQS speaks.
    pub async fn json_1_0<Req: serde::Serialize, Resp: serde::de::DeserializeOwned>(
        &self,
        target_prefix: &str,
        operation: &'static str,
        request: &Req,
    ) -> Result<Resp, AwsError> {
        self.json_call("1.0", target_prefix, operation, request)
            .await
    }

    async fn json_call<Req: serde::Serialize, Resp: serde::de::DeserializeOwned>(
        &self,
        version: &str,
        target_prefix: &str,
        operation: &'static str,
        request: &Req,
    ) -> Result<Resp, AwsError> {
        let body = serde_json::to_vec(request).map_err(|e| AwsError::Parse {
            service: self.service,
            operation,
            detail: e.to_string(),
        })?;
        let target = format!("{target_prefix}.{operation}");
        let content_type = format!("application/x-amz-json-{version}");
        let headers = [
            ("content-type", content_type.as_str()),
            ("x-amz-target", target.as_str()),
        ];
        let text = self.send(operation, &headers, body).await?;
        // An operation without output may answer with an empty body.
        let text = if text.trim().is_empty() { "{}" } else { &text };
        serde_json::from_slice(text.as_bytes()).map_err(|e| AwsError::Parse {
            service: self.service,
            operation,
            detail: e.to_string(),
        })
    }

    /// Call a Query-protocol operation (EC2): form parameters in, XML text out.
    pub async fn query(
        &self,
        operation: &'static str,
        version: &str,
        params: &[(String, String)],
    ) -> Result<String, AwsError> {
        // Built in a block: the serializer is not `Sync`, so it must not live across an await.
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("Action", operation);
            form.append_pair("Version", version);
            for (k, v) in params {
                form.append_pair(k, v);
            }
            form.finish().into_bytes()
        };
        let headers = [(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )];
        self.send(operation, &headers, body).await
    }

    /// Sign and send one POST, retrying throttling, 5xx and connection resets with
    /// backoff; the body of a 2xx answer, else the AWS error it holds.
    async fn send(
        &self,
        operation: &'static str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<String, AwsError> {
        let http = self.http.as_ref().map_err(|e| AwsError::Unreachable {
            service: self.service,
            endpoint: self.endpoint.to_string(),
            detail: e.clone(),
            cause: Unreached::Other,
        })?;
        let attempts = self.options.attempts.max(1);
        let mut last = None;
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(backoff(self.options.backoff, attempt)).await;
            }
            let creds = self.credentials().await?;
            let request = self.signed(http, headers, &body, &creds)?;
            self.calls.add(operation);
            let answer = match http.execute(request).await {
                Ok(a) => a,
                Err(e) => {
                    let err = AwsError::Unreachable {
                        service: self.service,
                        endpoint: self.endpoint.to_string(),
                        detail: with_causes(&e),
                        cause: Unreached::of(&e),
                    };
                    // A refused or unroutable connection will not heal within a backoff;
                    // a timeout or a reset might.
                    if e.is_connect() && !e.is_timeout() {
                        return Err(err);
                    }
                    last = Some(err);
                    continue;
                }
            };
            let status = answer.status().as_u16();
            let text = answer.text().await.map_err(|e| AwsError::Unreachable {
                service: self.service,
                endpoint: self.endpoint.to_string(),
                detail: with_causes(&e),
                cause: Unreached::of(&e),
            })?;
            tracing::debug!(service = self.service, operation, status, "aws call");
            if (200..300).contains(&status) {
                return Ok(text);
            }
            let (code, message) = error_of(&text, status);
            if is_throttling(&code) || status == 429 || status >= 500 {
                last = Some(AwsError::Throttled {
                    service: self.service,
                    operation,
                    attempts: attempt + 1,
                    code: if code.is_empty() {
                        format!("HTTP {status}")
                    } else {
                        code.clone()
                    },
                });
                if status >= 500 && !is_throttling(&code) {
                    // A server error is reported as one when it persists.
                    last = Some(AwsError::Api {
                        service: self.service,
                        operation,
                        status,
                        code,
                        message,
                    });
                }
                continue;
            }
            return Err(AwsError::Api {
                service: self.service,
                operation,
                status,
                code,
                message,
            });
        }
        Err(last.unwrap_or(AwsError::Throttled {
            service: self.service,
            operation,
            attempts,
            code: String::new(),
        }))
    }

    fn signed(
        &self,
        http: &reqwest::Client,
        headers: &[(&str, &str)],
        body: &[u8],
        creds: &Credentials,
    ) -> Result<reqwest::Request, AwsError> {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        let host = match (self.endpoint.host_str(), self.endpoint.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => String::new(),
        };
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        all.push(("host", &host));
        let identity = creds.clone().into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.options.region)
            .name(self.service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| AwsError::Credentials(e.to_string()))?
            .into();
        let signable = SignableRequest::new(
            "POST",
            self.endpoint.as_str(),
            all.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| AwsError::Credentials(format!("cannot sign: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| AwsError::Credentials(format!("cannot sign: {e}")))?
            .into_parts();
        let mut rb = http
            .post(self.endpoint.clone())
            .timeout(self.options.timeout)
            .body(body.to_vec());
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        for (k, v) in instructions.headers() {
            rb = rb.header(k, v);
        }
        rb.build().map_err(|e| AwsError::Unreachable {
            service: self.service,
            endpoint: self.endpoint.to_string(),
            detail: with_causes(&e),
            cause: Unreached::Other,
        })
    }
}

/// The standard credential chain, for a profile when one is named.
async fn chain(
    options: &ClientOptions,
    http: reqwest::Client,
) -> Option<SharedCredentialsProvider> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(options.region.clone()))
        .http_client(crate::chain_http::smithy_client(http));
    if let Some(p) = &options.profile {
        loader = loader.profile_name(p);
    }
    let config = loader.load().await;
    config.credentials_provider()
}

/// An error in words with every cause after it (`a: b: c`). Never a secret: the credential
/// chain's errors name providers and files, not keys; reqwest's name the endpoint.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The backoff before retry `attempt` (1-based): full jitter over `base · 2^(attempt-1)`,
/// at most 20 s.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let ceiling = base
        .saturating_mul(1u32 << (attempt - 1).min(16))
        .min(Duration::from_secs(20));
    ceiling.mul_f64(fastrand::f64())
}

/// AWS's error code and message in an error answer: JSON (`__type`, `message`/`Message`)
/// or XML (`<Code>`, `<Message>`, as EC2 and S3 answer).
fn error_of(text: &str, status: u16) -> (String, String) {
    if let Ok(v) = serde_json::from_str::<JsonError>(text) {
        let code = v.kind.unwrap_or_default();
        // `com.amazonaws.ssm#InvalidInstanceId` → `InvalidInstanceId`
        let code = code.rsplit('#').next().unwrap_or_default().to_owned();
        return (code, v.message.or(v.message_upper).unwrap_or_default());
    }
    if let Ok(doc) = roxmltree::Document::parse(text) {
        let find = |name: &str| {
            doc.descendants()
                .find(|n| n.has_tag_name(name))
                .and_then(|n| n.text())
                .unwrap_or_default()
                .to_owned()
        };
        return (find("Code"), find("Message"));
    }
    (
        String::new(),
        format!(
            "HTTP {status}: {}",
            text.chars().take(200).collect::<String>()
        ),
    )
}

#[derive(serde::Deserialize)]
struct JsonError {
    #[serde(rename = "__type")]
    kind: Option<String>,
    message: Option<String>,
    #[serde(rename = "Message")]
    message_upper: Option<String>,
}

/// An HTTP client for AWS calls, to share between [`Client`]s through
/// [`ClientOptions::http`]: reqwest on rustls with ring and the platform's trust store.
/// Each request carries its client's deadline.
pub fn http_client() -> Result<reqwest::Client, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|e| format!("no trust store: {e}"))?;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
        .user_agent(concat!("fearless/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.without_url().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_read_from_json_and_xml() {
        let (c, m) = error_of(
            r#"{"__type":"com.amazonaws.ssm#InvocationDoesNotExist","message":"gone"}"#,
            400,
        );
        assert_eq!((c.as_str(), m.as_str()), ("InvocationDoesNotExist", "gone"));
        let (c, m) = error_of(
            "<Response><Errors><Error><Code>InvalidParameterValue</Code><Message>bad filter</Message></Error></Errors></Response>",
            400,
        );
        assert_eq!(
            (c.as_str(), m.as_str()),
            ("InvalidParameterValue", "bad filter")
        );
        let (c, m) = error_of("<html>oops", 502);
        assert!(c.is_empty() && m.starts_with("HTTP 502"), "{c} {m}");
    }

    #[test]
    fn backoff_is_jittered_and_bounded() {
        for attempt in 1..30 {
            let d = backoff(Duration::from_millis(200), attempt);
            assert!(d <= Duration::from_secs(20));
        }
        let first: Vec<Duration> = (0..50)
            .map(|_| backoff(Duration::from_millis(200), 1))
            .collect();
        assert!(first.iter().all(|d| *d <= Duration::from_millis(200)));
        assert!(first.iter().any(|d| *d != first[0]), "jittered");
    }

    #[test]
    fn endpoints_are_checked() {
        let mut o = ClientOptions::new("eu-west-1");
        assert_eq!(
            Client::new("ssm", o.clone()).map(|c| c.endpoint().to_owned()),
            Ok("https://ssm.eu-west-1.amazonaws.com/".to_owned())
        );
        o.endpoint_url = Some("ftp://x".into());
        assert!(Client::new("ssm", o.clone()).is_err());
        o.endpoint_url = Some("http://user:secret@127.0.0.1:1/".into());
        let e = Client::new("ssm", o)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("without credentials"), "{e}");
    }
}
