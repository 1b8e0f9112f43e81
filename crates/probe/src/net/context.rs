//! The shared state of the network checks: pooled HTTP clients, DNS resolvers per name
//! server, and the TLS configuration that inspects certificates instead of trusting them.

use super::common::one_line;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// How long an idle pooled HTTP connection is kept for the next check.
const POOL_IDLE: Duration = Duration::from_secs(30);

/// Why the network context could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The TLS configuration was refused by rustls.
    #[error("failed to set up TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// The HTTP client could not be built.
    #[error("failed to build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// State shared by every network check of a run: build it once, pass it to each check.
///
/// Holds one pooled HTTP client that verifies certificates against the system's roots, one
/// for `insecure: true` checks that accepts any certificate, and a DNS resolver per name
/// server (built on first use). Resolvers keep no answer cache, so a retry after a failure
/// asks again instead of replaying the failure.
pub struct NetContext {
    /// Verifies certificates; `Err` says why it could not be built (e.g. no CA roots).
    client: Result<reqwest::Client, String>,
    /// Accepts any certificate, for `insecure: true`.
    insecure: reqwest::Client,
    /// `None` is the system resolver.
    resolvers: Mutex<HashMap<Option<SocketAddr>, TokioResolver>>,
    /// TLS for `ldaps://`, verifying against the system's roots; `Err` says why there is none.
    ldap_tls: Result<Arc<ClientConfig>, String>,
    /// The HTTP client of AWS calls (`fearless_aws::http_client`), built on first use.
    aws_http: OnceLock<Result<reqwest::Client, String>>,
    /// Credentials given in code; `None`: `sqs` checks read the environment's.
    aws_credentials: Option<fearless_aws::Credentials>,
}

impl fmt::Debug for NetContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let resolvers = self.resolvers.lock().map(|r| r.len()).unwrap_or_default();
        f.debug_struct("NetContext")
            .field("verifying_client", &self.client.is_ok())
            .field("resolvers", &resolvers)
            .finish_non_exhaustive()
    }
}

impl NetContext {
    /// Builds the clients. Fails only if TLS or the HTTP client cannot be set up at all; a
    /// machine without CA certificates still gets a context, and only its verified `https`
    /// checks report the problem.
    pub fn new() -> Result<Self, NetError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier: Result<Arc<dyn ServerCertVerifier>, String> =
            match rustls_platform_verifier::Verifier::new(provider.clone()) {
                Ok(verifier) => Ok(Arc::new(verifier)),
                Err(e) => Err(format!(
                    "cannot verify certificates: {}",
                    one_line(&e.to_string(), 160)
                )),
            };
        let client = match &verifier {
            Ok(v) => Ok(http_client(tls_config(&provider, v.clone())?)?),
            Err(e) => Err(e.clone()),
        };
        let ldap_tls = match verifier {
            Ok(v) => {
                let mut config = tls_config(&provider, v)?;
                config.alpn_protocols.clear();
                Ok(Arc::new(config))
            }
            Err(e) => Err(e),
        };
        let insecure = http_client(tls_config(
            &provider,
            Arc::new(InspectOnly::new(&provider)),
        )?)?;
        Ok(Self {
            client,
            insecure,
            resolvers: Mutex::new(HashMap::new()),
            ldap_tls,
            aws_http: OnceLock::new(),
            aws_credentials: None,
        })
    }

    /// `sqs` checks sign with these credentials instead of reading `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY` from the environment (for callers that hold their own, and
    /// tests, which cannot change the environment of their process).
    #[must_use]
    pub fn with_aws_credentials(mut self, access_key_id: &str, secret_access_key: &str) -> Self {
        self.aws_credentials = Some(fearless_aws::Credentials::new(
            access_key_id,
            secret_access_key,
            None,
            None,
            "fearless-given",
        ));
        self
    }

    /// The credentials given with [`NetContext::with_aws_credentials`], if any.
    pub(super) fn aws_credentials(&self) -> Option<fearless_aws::Credentials> {
        self.aws_credentials.clone()
    }

    /// The TLS configuration of `ldaps://` checks (certificates verified).
    pub(super) fn ldap_tls(&self) -> Result<Arc<ClientConfig>, &str> {
        match &self.ldap_tls {
            Ok(config) => Ok(config.clone()),
            Err(e) => Err(e.as_str()),
        }
    }

    /// The HTTP client of AWS calls, shared by every `sqs` check (connections pooled
    /// across checks); `Err` says why there is none.
    pub(super) fn aws_http(&self) -> Result<reqwest::Client, String> {
        self.aws_http.get_or_init(fearless_aws::http_client).clone()
    }

    /// The HTTP client for a check.
    pub(super) fn http_client(&self, insecure: bool) -> Result<&reqwest::Client, &str> {
        if insecure {
            Ok(&self.insecure)
        } else {
            self.client.as_ref().map_err(String::as_str)
        }
    }

    /// The resolver for `server` (the system's when `None`), built on first use.
    pub(super) fn resolver(&self, server: Option<SocketAddr>) -> Result<TokioResolver, String> {
        let mut resolvers = self
            .resolvers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(r) = resolvers.get(&server) {
            return Ok(r.clone());
        }
        let mut builder = match server {
            Some(addr) => {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                let ns = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
                TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![ns]),
                    TokioRuntimeProvider::default(),
                )
            }
            None => TokioResolver::builder_tokio().map_err(|e| {
                format!(
                    "cannot read the system resolver configuration: {}",
                    one_line(&e.to_string(), 160)
                )
            })?,
        };
        let opts = builder.options_mut();
        // A check asks DNS, not /etc/hosts, and must see the answer of now, not a cached one.
        opts.use_hosts_file = ResolveHosts::Never;
        opts.cache_size = 0;
        opts.attempts = 1;
        let resolver = builder
            .build()
            .map_err(|e| format!("cannot build a resolver: {}", one_line(&e.to_string(), 160)))?;
        resolvers.insert(server, resolver.clone());
        Ok(resolver)
    }
}

/// A rustls client configuration with the ring provider and `verifier`.
fn tls_config(
    provider: &Arc<CryptoProvider>,
    verifier: Arc<dyn ServerCertVerifier>,
) -> Result<ClientConfig, rustls::Error> {
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The pooled HTTP/1.1 client used by every `http` check.
fn http_client(tls: ClientConfig) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        // A check reports the status of the URL it was given; a redirect is an answer.
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(POOL_IDLE)
        .tcp_nodelay(true)
        .user_agent(concat!("fearless/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A TLS configuration for inspecting a server's certificates: any chain that parses is
/// accepted (expired, self-signed, wrong name), so the check can report on it.
pub(super) fn inspect_only_config() -> Result<Arc<ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = tls_config(&provider, Arc::new(InspectOnly::new(&provider)))?;
    config.alpn_protocols.clear();
    Ok(Arc::new(config))
}

/// Accepts any certificate chain that parses as X.509, while still checking that the
/// server holds the key of the certificate it sent (the handshake signature).
#[derive(Debug)]
struct InspectOnly {
    algorithms: WebPkiSupportedAlgorithms,
}

impl InspectOnly {
    fn new(provider: &CryptoProvider) -> Self {
        Self {
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for InspectOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        for der in std::iter::once(end_entity).chain(intermediates) {
            if x509_parser::parse_x509_certificate(der.as_ref()).is_err() {
                return Err(rustls::Error::InvalidCertificate(
                    CertificateError::BadEncoding,
                ));
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
