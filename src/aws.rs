//! How trailhound reaches AWS: one place that loads credentials, region and endpoint the way the
//! AWS CLI does, for every client (S3 and CloudTrail for reading, IAM and STS for playbooks).

use aws_config::{meta::region::RegionProviderChain, retry::RetryConfig, timeout::TimeoutConfig};
use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::time::Duration;

/// Where and as whom to call AWS.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// Endpoint override (`--endpoint-url`); `AWS_ENDPOINT_URL` is honoured by the SDK itself.
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    /// Act in another account through this role.
    pub assume_role: Option<String>,
    pub external_id: Option<String>,
}

impl Connection {
    /// The endpoint given on the command line, else `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> Option<String> {
        self.endpoint_url.clone().or_else(|| {
            std::env::var("AWS_ENDPOINT_URL")
                .ok()
                .filter(|s| !s.is_empty())
        })
    }
}

/// A small runtime for the AWS clients: one thread is plenty for waiting on the network (the
/// parsing happens on rayon's workers).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Loads the shared configuration: environment, profile (`--profile`), container and instance
/// roles; region from `conn.region`, else the chain, else us-east-1; `max_attempts` of 1 turns
/// the SDK's own retries off (the caller retries and counts), more gives the SDK's standard
/// exponential backoff with jitter.
pub async fn load(conn: &Connection, max_attempts: u32) -> aws_config::SdkConfig {
    use aws_smithy_http_client::tls;
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let region = RegionProviderChain::first_try(conn.region.clone().map(aws_config::Region::new))
        .or_default_provider()
        .or_else("us-east-1");
    let retry = if max_attempts <= 1 {
        RetryConfig::disabled()
    } else {
        RetryConfig::standard()
            .with_max_attempts(max_attempts)
            .with_initial_backoff(Duration::from_millis(200))
    };
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http)
        .region(region)
        .retry_config(retry)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(60))
                .build(),
        );
    if let Some(u) = conn.endpoint() {
        loader = loader.endpoint_url(u);
    }
    if let Some(p) = &conn.profile {
        loader = loader.profile_name(p);
    }
    loader.load().await
}

/// A failed AWS call: the error code (`AccessDenied`, `NoSuchEntity`, `Throttling`...) and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.message.is_empty() {
            f.write_str(&self.code)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

impl CallError {
    /// Worth another try: throttling, a service hiccup, a dropped connection.
    pub fn retryable(&self) -> bool {
        matches!(
            self.code.as_str(),
            "Throttling"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "TooManyRequestsException"
                | "RequestThrottled"
                | "RequestThrottledException"
                | "SlowDown"
                | "ServiceUnavailable"
                | "ServiceFailure"
                | "InternalFailure"
                | "InternalError"
                | "Timeout"
                | "ConnectionError"
        )
    }

    pub fn not_found(&self) -> bool {
        self.code == "NoSuchEntity"
    }
}

pub fn sdk_error<E, R>(e: SdkError<E, R>) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = match (&e, e.code()) {
        (_, Some(c)) => c.to_string(),
        (SdkError::DispatchFailure(d), None) if d.is_timeout() => "Timeout".into(),
        (SdkError::DispatchFailure(d), None) if d.is_io() => "ConnectionError".into(),
        (SdkError::DispatchFailure(_), None) => "DispatchFailure".into(),
        (SdkError::TimeoutError(_), None) => "Timeout".into(),
        (SdkError::ResponseError(_), None) => "BadResponse".into(),
        (SdkError::ConstructionFailure(_), None) => "RequestNotBuilt".into(),
        _ => "Error".into(),
    };
    let message = match e.message() {
        Some(m) => m.to_string(),
        None => DisplayErrorContext(&e).to_string(),
    };
    CallError { code, message }
}
