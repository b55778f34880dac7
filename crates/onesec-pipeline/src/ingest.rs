//! Ingest: bytes in, durable resolved events out.
//!
//! Decode → resolve against the current directory → append to the journal → acknowledge.
//! Records that cannot be decoded are kept in the dead-letter store with their reason; the good
//! records beside them continue. The caller is answered only once the journal holds the events
//! (per the fsync policy), which is what "acknowledged" means everywhere in onesec.

use crate::audit::Audit;
use crate::handoff::ParsedEvents;
use crate::metrics::Metrics;
use chrono::Datelike;
use onesec_audit::IngestBatch;
use onesec_decode::{
    DecodeContext, DecodeError, Format, SyslogSettings, decode_bytes, decode_syslog,
};
use onesec_directory::SharedDirectory;
use onesec_event::Event;
use onesec_journal::Journal;
use onesec_store::{DeadLetter, Store};
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

/// How far (in events) detection may fall behind the journal before submissions wait.
const MAX_BACKLOG: u64 = 32_768;

/// What happened to one submission.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestReport {
    /// Events made durable.
    pub accepted: usize,
    /// Journal sequence of the first accepted event.
    pub first_id: Option<u64>,
    /// Journal sequence of the last accepted event.
    pub last_id: Option<u64>,
    /// Every accepted event's id, in order, when they are not simply `first_id..=last_id`
    /// (on a cluster ingest node, where other inputs publish between them); absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<u64>,
    /// Records refused (kept as dead letters), with line and reason.
    pub errors: Vec<LineError>,
    /// Set when the journal could not take the events: nothing was acknowledged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal_error: Option<String>,
}

/// One refused record.
#[derive(Debug, Clone, Serialize)]
pub struct LineError {
    /// 1-based line or record number within the submission.
    pub line: usize,
    /// Byte offset of the record's line within the submission, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub byte_offset: Option<u64>,
    /// What was wrong.
    pub reason: String,
}

/// What [`EventLog::append`] returns: each event's id, in the order given, once the events are
/// durable; an error (its reason) when they are not, and then none of them is acknowledged.
pub type AppendFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u64>, String>> + Send + 'a>>;

/// Where acknowledged events go instead of the embedded journal: an ingest node of a cluster
/// publishes them to the cluster's JetStream stream (`onesec-cluster`, `docs/cluster.md`).
///
/// It receives events decoded, resolved against the directory, marked by the connection
/// allow-lists and (with `[privacy.pseudonymisation]`) pseudonymised — exactly what the
/// journal would have held — and answers once they are durable there. The ingestor answers
/// the sender only after that, so "acknowledged" keeps its meaning.
pub trait EventLog: Send + Sync {
    /// Makes `events` durable and returns their ids in order.
    fn append<'a>(&'a self, events: &'a [Event]) -> AppendFuture<'a>;
    /// What it is, for logs and errors (e.g. `JetStream cluster onesec at nats://…`).
    fn describe(&self) -> String;
}

/// Turns submissions into durable events. Cheap to clone.
#[derive(Clone)]
pub struct Ingestor {
    journal: Journal,
    directory: SharedDirectory,
    dead_letters: Arc<Mutex<Box<dyn Store>>>,
    metrics: Arc<Metrics>,
    syslog: SyslogSettings,
    /// Year of the newest fully dated input seen (0: none yet), used to complete RFC 3164
    /// time stamps when `syslog.year` is not configured.
    year_hint: Arc<AtomicI32>,
    /// Journaled events handed to detection already parsed.
    parsed: Arc<ParsedEvents>,
    /// Last journal sequence detection has finished, for backpressure.
    detected: Arc<std::sync::atomic::AtomicU64>,
    /// Where each journaled batch is recorded, unless the audit log is off.
    audit: Option<Arc<Audit>>,
    /// Flows from devices checked against the connection allow-lists (marks in the fields).
    connections: Arc<crate::ConnectionWatch>,
    /// Set when `[privacy.pseudonymisation]` is on: person identifiers are replaced right
    /// after resolution, so the journal never holds them.
    pseudonyms: Option<onesec_directory::Pseudonyms>,
    /// Set on a cluster ingest node: events go there instead of the journal, and detection
    /// (which reads the journal) sees none of them.
    event_log: Option<Arc<dyn EventLog>>,
}

/// What ingest shares with detection: the parsed-event handoff and detection's position (for
/// backpressure).
pub(crate) struct DetectionLink {
    pub parsed: Arc<ParsedEvents>,
    pub detected: Arc<std::sync::atomic::AtomicU64>,
}

impl Ingestor {
    pub(crate) fn new(
        journal: Journal,
        directory: SharedDirectory,
        dead_letters: Arc<Mutex<Box<dyn Store>>>,
        metrics: Arc<Metrics>,
        syslog: SyslogSettings,
        detection: DetectionLink,
        audit: Option<Arc<Audit>>,
    ) -> Ingestor {
        Ingestor {
            journal,
            directory,
            dead_letters,
            metrics,
            syslog,
            year_hint: Arc::new(AtomicI32::new(0)),
            parsed: detection.parsed,
            detected: detection.detected,
            audit,
            connections: Arc::new(crate::ConnectionWatch::default()),
            pseudonyms: None,
            event_log: None,
        }
    }

    fn context(&self, input: &str) -> DecodeContext {
        let mut ctx = DecodeContext::new(input, now_ms());
        ctx.syslog = self.syslog;
        ctx
    }

    /// Decodes a body or file of `format`, then journals its events.
    ///
    /// RFC 3164 syslog lines carry no year. Unless `syslog.year` is configured, they take the
    /// year of the fully dated events in the same body, else of the newest fully dated input seen
    /// before, else the year of receipt.
    pub async fn ingest_body(&self, format: &Format, body: &[u8], input: &str) -> IngestReport {
        self.ingest_body_located(format, body, input, true).await
    }

    /// [`Ingestor::ingest_body`] for a body that is not what the sender sent (a JSON array
    /// made into lines): its dead letters keep their record number but no byte offset, which
    /// would point into the rewritten body.
    pub async fn ingest_rewritten_body(
        &self,
        format: &Format,
        body: &[u8],
        input: &str,
    ) -> IngestReport {
        self.ingest_body_located(format, body, input, false).await
    }

    async fn ingest_body_located(
        &self,
        format: &Format,
        body: &[u8],
        input: &str,
        offsets: bool,
    ) -> IngestReport {
        let mut ctx = self.context(input);
        let mut decoded = decode_bytes(format, body, &ctx);
        if self.syslog.year.is_none() {
            let hint = dated_year(&decoded.events).or_else(|| self.remembered_year());
            if let Some(year) = hint.filter(|y| undated_year_differs(&decoded.events, *y)) {
                ctx.syslog.year = Some(year);
                decoded = decode_bytes(format, body, &ctx);
            }
        }
        if !offsets {
            decoded.errors.iter_mut().for_each(|e| e.offset = None);
        }
        let raw_sha256 = self.raw_digest(&[body]);
        self.finish(
            decoded.events,
            decoded.errors,
            format.name(),
            &ctx,
            raw_sha256,
        )
        .await
    }

    fn remembered_year(&self) -> Option<i32> {
        Some(self.year_hint.load(Ordering::Relaxed)).filter(|y| *y != 0)
    }

    /// Decodes separately framed syslog messages (datagrams or TCP frames), then journals them.
    pub async fn ingest_messages(&self, messages: Vec<Vec<u8>>, input: &str) -> IngestReport {
        self.ingest_frames(messages, &[], input).await
    }

    /// [`Ingestor::ingest_messages`] for located frames (of a TCP or TLS connection, or
    /// datagrams): `at[i]` is message `i`'s number in its connection and the byte offset where
    /// its frame starts there, which its dead letter keeps (`line`, `byte_offset`) so the
    /// sender can find it.
    pub async fn ingest_frames(
        &self,
        messages: Vec<Vec<u8>>,
        at: &[(usize, u64)],
        input: &str,
    ) -> IngestReport {
        let mut ctx = self.context(input);
        if self.syslog.year.is_none() {
            ctx.syslog.year = self.remembered_year();
        }
        let mut events = Vec::with_capacity(messages.len());
        let mut errors = Vec::new();
        for (index, message) in messages.iter().enumerate() {
            let result = match std::str::from_utf8(message) {
                Ok(text) => decode_syslog(text.trim_end_matches(['\r', '\n', '\0']), &ctx),
                Err(e) => Err(DecodeError::new(
                    1,
                    format!(
                        "message is not valid UTF-8 (invalid byte at offset {})",
                        e.valid_up_to()
                    ),
                    String::from_utf8_lossy(message),
                )),
            };
            match result {
                Ok(event) => events.push(event),
                Err(mut error) => {
                    match at.get(index) {
                        Some(&(number, offset)) => {
                            error.line = number;
                            error.offset = Some(offset);
                        }
                        None => error.line = index + 1,
                    }
                    errors.push(error);
                }
            }
        }
        let parts: Vec<&[u8]> = messages
            .iter()
            .flat_map(|m| [m.as_slice(), b"\n"])
            .collect();
        let raw_sha256 = self.raw_digest(&parts);
        self.finish(events, errors, "syslog", &ctx, raw_sha256)
            .await
    }

    /// Journals what a source decoded itself (e.g. MQTT messages): good events and refused
    /// records, the latter kept as dead letters.
    pub async fn ingest_decoded(
        &self,
        events: Vec<Event>,
        errors: Vec<DecodeError>,
        format: &str,
        input: &str,
    ) -> IngestReport {
        let ctx = self.context(input);
        let raw_sha256 = self.raw_digest_of_records(&events, &errors);
        self.finish(events, errors, format, &ctx, raw_sha256).await
    }

    /// A decode context for `input` with the configured syslog settings and the current time.
    pub fn decode_context(&self, input: &str) -> DecodeContext {
        self.context(input)
    }

    /// Journals events that are already decoded (demo, tests, other stages).
    pub async fn ingest_events(&self, events: Vec<Event>, input: &str) -> IngestReport {
        let ctx = self.context(input);
        let raw_sha256 = self.raw_digest_of_records(&events, &[]);
        self.finish(events, Vec::new(), "event", &ctx, raw_sha256)
            .await
    }

    /// Keeps input that was refused before decoding (e.g. an oversized frame).
    pub async fn reject(&self, input: &str, format: &str, reason: String, raw: Vec<u8>) {
        self.reject_at(input, format, reason, raw, (0, None)).await;
    }

    /// [`Ingestor::reject`] for a frame of a stream: its number in the connection and the byte
    /// offset where it starts, kept in its dead letter (`line`, `byte_offset`). Returns once the
    /// dead letter is stored, written off the async workers (a flood of bad frames would
    /// otherwise hold them in SQLite writes).
    pub async fn reject_at(
        &self,
        input: &str,
        format: &str,
        reason: String,
        raw: Vec<u8>,
        (number, offset): (usize, Option<u64>),
    ) {
        let mut error = DecodeError::new(number, reason, String::from_utf8_lossy(&raw));
        error.offset = offset;
        let ctx = self.context(input);
        self.count_received(&ctx, 1, 1);
        self.keep_dead_letters_off_workers(vec![error], format, ctx)
            .await;
    }

    /// Records dropped before decoding because `input` was overloaded (UDP), counted for it.
    pub fn dropped(&self, input: &str, count: u64) {
        Metrics::add(&self.metrics.sources.get(input).dropped, count);
    }

    /// Bumps the source's received and dead-lettered counters and its last-seen time.
    fn count_received(&self, ctx: &DecodeContext, received: usize, refused: usize) {
        let source = self.metrics.sources.get(&ctx.input);
        Metrics::add(&source.received, received as u64);
        Metrics::add(&source.dead_lettered, refused as u64);
        source
            .last_seen_ms
            .fetch_max(ctx.received_ms, Ordering::Relaxed);
    }

    async fn finish(
        &self,
        mut events: Vec<Event>,
        errors: Vec<DecodeError>,
        format: &str,
        ctx: &DecodeContext,
        raw_sha256: String,
    ) -> IngestReport {
        let mut report = IngestReport {
            errors: errors
                .iter()
                .map(|e| LineError {
                    line: e.line,
                    byte_offset: e.offset,
                    reason: e.reason.clone(),
                })
                .collect(),
            ..IngestReport::default()
        };
        self.count_received(ctx, events.len() + errors.len(), errors.len());
        if !errors.is_empty() {
            self.keep_dead_letters_off_workers(errors, format, ctx.clone())
                .await;
        }
        if events.is_empty() {
            return report;
        }
        if let Some(year) = dated_year(&events) {
            self.year_hint.store(year, Ordering::Relaxed);
        }
        if let Some(log) = &self.event_log {
            self.resolve(&mut events, ctx.received_ms);
            return self.append_to_log(&**log, events, ctx, report).await;
        }
        self.wait_for_detection_to_catch_up().await;
        self.resolve(&mut events, ctx.received_ms);
        let payloads = encode(&events);
        let events_root = self
            .audit
            .as_ref()
            .map(|_| hex::encode(onesec_audit::events_root(&payloads)));
        match self.journal.append_batch_async(payloads).await {
            Ok(range) => {
                if let (Some(audit), Some(events_root)) = (&self.audit, events_root) {
                    audit.record_batch(IngestBatch {
                        input: ctx.input.clone(),
                        format: format.to_string(),
                        raw_sha256,
                        first_id: *range.start(),
                        last_id: *range.end(),
                        events_root,
                    });
                }
                report.accepted = events.len();
                report.first_id = Some(*range.start());
                report.last_id = Some(*range.end());
                Metrics::add(&self.metrics.events_ingested, events.len() as u64);
                Metrics::add(
                    &self.metrics.sources.get(&ctx.input).decoded,
                    events.len() as u64,
                );
                for (event, id) in events.iter_mut().zip(range.clone()) {
                    event.id = id;
                }
                self.parsed.offer(*range.start(), events);
            }
            Err(error) => {
                tracing::error!(%error, "journal append failed; events not acknowledged");
                Metrics::add(&self.metrics.journal_errors, 1);
                report.journal_error = Some(error.to_string());
            }
        }
        report
    }

    /// The cluster ingest node's end of [`Ingestor::finish`]: the events go to `log`, and the
    /// sender is answered with the ids it gave them. The audit log's ingest batches name
    /// journal ranges, so none is written here (the stream is the record; `docs/cluster.md`).
    async fn append_to_log(
        &self,
        log: &dyn EventLog,
        events: Vec<Event>,
        ctx: &DecodeContext,
        mut report: IngestReport,
    ) -> IngestReport {
        match log.append(&events).await {
            Ok(ids) if ids.len() == events.len() => {
                report.accepted = ids.len();
                report.first_id = ids.first().copied();
                report.last_id = ids.last().copied();
                let contiguous = ids.windows(2).all(|pair| pair[1] == pair[0] + 1);
                if !contiguous {
                    report.ids = ids;
                }
                let accepted = report.accepted as u64;
                Metrics::add(&self.metrics.events_ingested, accepted);
                Metrics::add(&self.metrics.sources.get(&ctx.input).decoded, accepted);
            }
            Ok(ids) => {
                let error = format!(
                    "{} returned {} ids for {} events; none acknowledged",
                    log.describe(),
                    ids.len(),
                    events.len()
                );
                tracing::error!(%error, "event log append failed");
                Metrics::add(&self.metrics.journal_errors, 1);
                report.journal_error = Some(error);
            }
            Err(reason) => {
                let error = format!("{}: {reason}", log.describe());
                tracing::error!(%error, "event log append failed; events not acknowledged");
                Metrics::add(&self.metrics.journal_errors, 1);
                report.journal_error = Some(error);
            }
        }
        report
    }

    /// SHA-256 (hex) of the bytes as received, when the audit log wants it.
    fn raw_digest(&self, parts: &[&[u8]]) -> String {
        match self.audit {
            Some(_) => crate::audit::sha256_hex(parts),
            None => String::new(),
        }
    }

    /// For input decoded before it reached the ingestor (MQTT, JSON events): the digest of the
    /// records' raw text, each followed by a newline, refused ones included.
    fn raw_digest_of_records(&self, events: &[Event], errors: &[DecodeError]) -> String {
        if self.audit.is_none() {
            return String::new();
        }
        let raws = events.iter().map(|e| e.raw.as_bytes());
        let refused = errors.iter().map(|e| e.raw.as_bytes());
        let parts: Vec<&[u8]> = raws.chain(refused).flat_map(|r| [r, b"\n"]).collect();
        crate::audit::sha256_hex(&parts)
    }

    /// Backpressure: while detection is more than [`MAX_BACKLOG`] events behind the journal,
    /// new submissions wait (up to a second each), so detection can take the events the ingestor
    /// hands over already parsed instead of falling ever further behind. Nothing is refused
    /// here ([`Ingestor::room_for_submission`] is what may refuse).
    async fn wait_for_detection_to_catch_up(&self) {
        for _ in 0..1000 {
            if self.detection_backlog() <= MAX_BACKLOG {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    /// Journaled events detection has not finished yet.
    fn detection_backlog(&self) -> u64 {
        self.journal
            .last_sequence()
            .saturating_sub(self.detected.load(Ordering::Acquire))
    }

    /// For senders that can be told to come back (HTTP): after the usual wait (up to a
    /// second for detection to come within [`MAX_BACKLOG`]), `Err(backlog)` when detection is
    /// still more than `shed_above` events behind, so the request can be refused before
    /// anything of it is taken. `shed_above = 0` never refuses. A cluster ingest node
    /// (whose detection is elsewhere) always has room.
    pub async fn room_for_submission(&self, shed_above: u64) -> Result<(), u64> {
        if shed_above == 0 || self.event_log.is_some() {
            return Ok(());
        }
        self.wait_for_detection_to_catch_up().await;
        match self.detection_backlog() {
            backlog if backlog > shed_above => Err(backlog),
            _ => Ok(()),
        }
    }

    /// Checks flows from devices against the `[hygiene]` connection allow-lists.
    pub(crate) fn with_connections(mut self, watch: Arc<crate::ConnectionWatch>) -> Ingestor {
        self.connections = watch;
        self
    }

    /// Pseudonymises every event after resolution (docs/privacy.md, "Pseudonymisation").
    pub(crate) fn with_pseudonyms(
        mut self,
        pseudonyms: Option<onesec_directory::Pseudonyms>,
    ) -> Ingestor {
        self.pseudonyms = pseudonyms;
        self
    }

    /// Sends what is ingested to `log` instead of the journal (a cluster ingest node).
    pub(crate) fn with_event_log(mut self, log: Arc<dyn EventLog>) -> Ingestor {
        self.event_log = Some(log);
        self
    }

    /// Whether events go to an [`EventLog`] rather than the journal.
    pub fn event_log(&self) -> Option<&Arc<dyn EventLog>> {
        self.event_log.as_ref()
    }

    /// Resolution, connection marks and pseudonyms: what every event gets before it is made
    /// durable, wherever that is.
    fn resolve(&self, events: &mut [Event], received_ms: i64) {
        let directory = self.directory.current();
        for event in events.iter_mut() {
            if event.received_ms == 0 {
                event.received_ms = received_ms;
            }
            directory.resolve(event);
        }
        self.connections.mark(&directory, events);
        // After every stage that reads clear identifiers (resolution, connection marks) and
        // before the payloads are encoded for the journal and the audit's Merkle root.
        if let Some(pseudonyms) = &self.pseudonyms {
            let table = pseudonyms.table(&directory);
            events
                .iter_mut()
                .for_each(|event| table.pseudonymise(event));
        }
    }

    /// [`Ingestor::keep_dead_letters`] on a blocking thread: SQLite writes block, so they are
    /// kept off the async workers, but they finish before the caller goes on (the sender is
    /// answered), so a refused record is kept once it is reported.
    async fn keep_dead_letters_off_workers(
        &self,
        errors: Vec<DecodeError>,
        format: &str,
        ctx: DecodeContext,
    ) {
        let (this, format) = (self.clone(), format.to_string());
        let kept =
            tokio::task::spawn_blocking(move || this.keep_dead_letters(&errors, &format, &ctx))
                .await;
        if let Err(error) = kept {
            tracing::error!(%error, "dead-letter task failed");
        }
    }

    fn keep_dead_letters(&self, errors: &[DecodeError], format: &str, ctx: &DecodeContext) {
        // With pseudonymisation on, a line that never became an event still loses the
        // directory's identifiers before it is stored (docs/privacy.md, "Pseudonymisation").
        let table = self
            .pseudonyms
            .as_ref()
            .map(|p| p.table(&self.directory.current()));
        let scrub = |text: &str| match &table {
            Some(table) => table.scrub(text).unwrap_or_else(|| text.to_string()),
            None => text.to_string(),
        };
        let letters: Vec<DeadLetter> = errors
            .iter()
            .map(|e| DeadLetter {
                id: 0,
                received_ms: ctx.received_ms,
                input: ctx.input.clone(),
                format: format.to_string(),
                line: e.line,
                reason: scrub(&e.reason),
                raw: scrub(&e.raw),
                byte_offset: e.offset,
            })
            .collect();
        Metrics::add(&self.metrics.dead_letters, letters.len() as u64);
        let result = match self.dead_letters.lock() {
            Ok(mut store) => store.add_dead_letters(&letters),
            Err(poisoned) => poisoned.into_inner().add_dead_letters(&letters),
        };
        if let Err(error) = result {
            tracing::error!(%error, count = letters.len(), "could not store dead letters");
        }
    }
}

/// The journal's payloads: each event as JSON.
fn encode(events: &[Event]) -> Vec<Vec<u8>> {
    events
        .iter()
        .map(|event| {
            // Sized for the escaped raw record plus the other fields, so the buffer is not
            // regrown several times per event.
            let mut payload = Vec::with_capacity(event.raw.len() * 2 + 640);
            match serde_json::to_writer(&mut payload, event) {
                Ok(()) => payload,
                Err(_) => Vec::new(),
            }
        })
        .collect()
}

/// Wall-clock time in UTC milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Whether an event's time stamp lacked the year (RFC 3164 syslog).
fn undated(event: &Event) -> bool {
    event
        .fields
        .get("syslog.protocol")
        .is_some_and(|p| p == "rfc3164")
}

fn year_of(event: &Event) -> Option<i32> {
    chrono::DateTime::from_timestamp_millis(event.time_ms).map(|t| t.year())
}

/// Year of the newest fully dated event among `events`.
fn dated_year(events: &[Event]) -> Option<i32> {
    events
        .iter()
        .filter(|e| !undated(e) && e.time_ms > 0)
        .max_by_key(|e| e.time_ms)
        .and_then(year_of)
}

fn undated_year_differs(events: &[Event], year: i32) -> bool {
    events
        .iter()
        .filter(|e| undated(e))
        .any(|e| year_of(e) != Some(year))
}
