//! ONVIF PullPoint client: one task per `[[onvif.camera]]`.
//!
//! Each task reads the device's clock (`GetSystemDateAndTime`, so the WS-UsernameToken's
//! creation time is the device's), finds the event service (`GetCapabilities`, unless
//! `events_url` is given), creates a pull point (`CreatePullPointSubscription`), then pulls
//! (`PullMessages`, a long poll) for as long as the device answers, renewing the subscription
//! at half its lifetime. Each `PullMessagesResponse` goes through the onvif-xml decoder; its
//! events are reported by the configured device (`host`) and journaled before the next pull.
//!
//! Any failure (the device rebooted and forgot the subscription, a fault, a timeout, a refused
//! connection) ends the session; the task subscribes again after a wait that doubles from one
//! second to `retry_max_secs` and starts again at one second once a pull succeeds. On
//! shutdown the subscription is left to expire on the device (at most `subscription_secs`).
//!
//! A pull point has no acknowledgement: what a `PullMessages` returned is gone from the device.
//! The next pull is sent only after the journal holds (or refused) the previous answer's
//! events, so a slow pipeline slows the pulling and the device keeps the messages queued.

use onesec_decode::{
    Format, MAX_SOAP_BYTES, RequestParts, SoapAction, SoapError, UsernameToken, decode_bytes,
    parse_device_time_ms, parse_events_address, parse_pull_point, soap_fault, soap_request,
};
use onesec_pipeline::{OnvifCamera, Pipeline, now_ms};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a session with a device ended.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The request did not get an HTTP answer (refused, reset, timed out).
    #[error("{action}: {source}")]
    Http {
        /// Which operation.
        action: &'static str,
        /// Cause.
        #[source]
        source: reqwest::Error,
    },
    /// The device answered with an HTTP error and no SOAP fault.
    #[error("{action}: HTTP {status}: {body}")]
    Status {
        /// Which operation.
        action: &'static str,
        /// HTTP status.
        status: u16,
        /// The start of the answer.
        body: String,
    },
    /// The answer was a SOAP fault or could not be read.
    #[error("{action}: {source}")]
    Soap {
        /// Which operation.
        action: &'static str,
        /// Cause.
        #[source]
        source: SoapError,
    },
    /// The camera's configuration cannot be used.
    #[error("{0}")]
    Config(String),
}

/// Input name of a device's events (`source.input`, dead letters, per-source counters).
pub fn input_name(camera: &OnvifCamera) -> String {
    format!("onvif-pull:{}", camera.name())
}

/// Runs the client for one device until the task is aborted.
pub async fn serve(camera: OnvifCamera, pipeline: Arc<Pipeline>) {
    let name = camera.name().to_string();
    let mut client = match Client::new(camera) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(camera = %name, %error, "ONVIF PullPoint client off");
            return;
        }
    };
    let mut wait = Duration::from_secs(1);
    loop {
        if let Err(error) = client.session(&pipeline, &mut wait).await {
            tracing::warn!(camera = %name, %error, retry_in = ?wait, "ONVIF pull point lost; subscribing again");
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(client.retry_max);
    }
}

struct Client {
    camera: OnvifCamera,
    password: String,
    device_service: String,
    http: reqwest::Client,
    input: String,
    retry_max: Duration,
    /// Device clock minus ours, ms (for the token's creation time).
    clock_offset_ms: i64,
}

impl Client {
    fn new(camera: OnvifCamera) -> Result<Client, PullError> {
        let device_service = camera.device_service_url().map_err(PullError::Config)?;
        let password = camera.password().map_err(PullError::Config)?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(camera.pull_timeout_secs.max(1) + 10))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|source| PullError::Http {
                action: "HTTP client",
                source,
            })?;
        Ok(Client {
            input: input_name(&camera),
            retry_max: Duration::from_secs(camera.retry_max_secs.max(1)),
            password,
            device_service,
            http,
            camera,
            clock_offset_ms: 0,
        })
    }

    /// Subscribes, then pulls until something fails.
    async fn session(&mut self, pipeline: &Pipeline, wait: &mut Duration) -> Result<(), PullError> {
        let service = self.device_service.clone();
        match self
            .call(&service, SoapAction::GetSystemDateAndTime, "", "")
            .await
        {
            Ok(answer) => match parse_device_time_ms(&answer) {
                Ok(device_ms) => self.clock_offset_ms = device_ms - now_ms(),
                Err(error) => tracing::debug!(%error, "device time unreadable; using ours"),
            },
            Err(error) => tracing::debug!(%error, "GetSystemDateAndTime failed; using our clock"),
        }
        let events_url = if self.camera.events_url.is_empty() {
            let answer = self
                .call(&service, SoapAction::GetCapabilities, "", "")
                .await?;
            parse_events_address(&answer).map_err(|source| PullError::Soap {
                action: "GetCapabilities",
                source,
            })?
        } else {
            self.camera.events_url.clone()
        };
        let lifetime = format!("PT{}S", self.camera.subscription_secs.max(2));
        let answer = self
            .call(
                &events_url,
                SoapAction::CreatePullPointSubscription,
                "",
                &lifetime,
            )
            .await?;
        let point = parse_pull_point(&answer).map_err(|source| PullError::Soap {
            action: "CreatePullPointSubscription",
            source,
        })?;
        tracing::info!(camera = %self.camera.name(), pull_point = %point.address, "ONVIF pull point created");
        let renew_every = Duration::from_secs(self.camera.subscription_secs.max(2) / 2);
        let mut renew_at = Instant::now() + renew_every;
        let timeout = format!("PT{}S", self.camera.pull_timeout_secs.max(1));
        loop {
            if Instant::now() >= renew_at {
                self.call(
                    &point.address,
                    SoapAction::Renew,
                    &point.reference_parameters,
                    &lifetime,
                )
                .await?;
                renew_at = Instant::now() + renew_every;
            }
            let answer = self
                .call(
                    &point.address,
                    SoapAction::PullMessages,
                    &point.reference_parameters,
                    &timeout,
                )
                .await?;
            *wait = Duration::from_secs(1);
            self.journal(pipeline, &answer).await;
        }
    }

    /// Decodes one `PullMessagesResponse` and journals its events (refused notifications
    /// become dead letters).
    async fn journal(&self, pipeline: &Pipeline, answer: &[u8]) {
        let ingestor = pipeline.ingestor();
        let ctx = ingestor.decode_context(&self.input);
        let mut decoded = decode_bytes(&Format::OnvifXml, answer, &ctx);
        if decoded.events.is_empty() && decoded.errors.is_empty() {
            return;
        }
        if !self.camera.device.is_empty() {
            for event in &mut decoded.events {
                event.host = Some(self.camera.device.clone());
            }
        }
        let report = ingestor
            .ingest_decoded(decoded.events, decoded.errors, "onvif-xml", &self.input)
            .await;
        if let Some(error) = report.journal_error {
            tracing::error!(camera = %self.camera.name(), %error, "pulled ONVIF events not journaled");
        }
    }

    /// Sends one request and returns the answer's bytes; a SOAP fault or an HTTP error is an
    /// error.
    async fn call(
        &self,
        url: &str,
        action: SoapAction,
        reference_parameters: &str,
        duration: &str,
    ) -> Result<Vec<u8>, PullError> {
        let name = action.element();
        // GetSystemDateAndTime is the one operation a device answers without credentials.
        let token = (!self.camera.user.is_empty() && action != SoapAction::GetSystemDateAndTime)
            .then(|| self.token());
        let body = soap_request(
            action,
            &RequestParts {
                to: url,
                token: token.as_ref(),
                reference_parameters,
                duration,
                message_limit: self.camera.message_limit,
            },
        );
        let response = self
            .http
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                format!(
                    "application/soap+xml; charset=utf-8; action=\"{}\"",
                    action.uri()
                ),
            )
            .body(body)
            .send()
            .await
            .map_err(|source| PullError::Http {
                action: name,
                source,
            })?;
        let status = response.status();
        if response
            .content_length()
            .is_some_and(|n| n > MAX_SOAP_BYTES as u64)
        {
            return Err(PullError::Soap {
                action: name,
                source: SoapError::TooLarge {
                    what: name,
                    size: usize::try_from(response.content_length().unwrap_or(0))
                        .unwrap_or(usize::MAX),
                },
            });
        }
        let bytes = response.bytes().await.map_err(|source| PullError::Http {
            action: name,
            source,
        })?;
        if let Some(fault) = soap_fault(&bytes) {
            return Err(PullError::Soap {
                action: name,
                source: fault,
            });
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
            return Err(PullError::Status {
                action: name,
                status: status.as_u16(),
                body: text,
            });
        }
        Ok(bytes.to_vec())
    }

    fn token(&self) -> UsernameToken {
        let nonce: [u8; 16] = rand::random();
        let created = chrono::DateTime::from_timestamp_millis(now_ms() + self.clock_offset_ms)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        UsernameToken::new(&self.camera.user, &self.password, &nonce, &created)
    }
}
