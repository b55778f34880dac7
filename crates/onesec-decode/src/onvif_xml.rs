//! ONVIF events as SOAP/XML ("onvif-xml"): `wsnt:Notify` (push), `tev:PullMessagesResponse`
//! (pull point) and `tt:MetadataStream/tt:Event` (RTSP metadata stream), each with any number
//! of `wsnt:NotificationMessage`s.
//!
//! Each notification is turned into the onvif-ej JSON payload (`UtcTime`, `PropertyOperation`,
//! `Source`, `Key`, `Data`) and goes through the same mapping as onvif-ej
//! ([`crate::onvif::decode_message`]), so the two framings of one message give one event.

use crate::jv;
use crate::onvif::{Topic, decode_message, topic_path};
use crate::{DecodeContext, DecodeError, Decoded, scan};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event as Xml};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Element names (local, without prefix) that hold event notifications. A document whose
/// payload is one of these and holds no notification is an empty poll, not an error.
const EVENT_CONTAINERS: [&str; 4] = ["Notify", "PullMessagesResponse", "MetadataStream", "Event"];

/// Why an ONVIF XML document, or one notification in it, gave no event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OnvifXmlError {
    /// The XML itself is broken; nothing after this point can be read.
    #[error(
        "invalid XML at byte {offset}: {reason}; the notifications before this point were kept"
    )]
    Syntax { offset: u64, reason: String },
    /// The input ends before the document does.
    #[error(
        "the XML ends inside <{element}> (cut off?); the notifications before this point were kept"
    )]
    Truncated { element: String },
    /// A well-formed SOAP or XML document that carries no events.
    #[error(
        "expected ONVIF event notifications (wsnt:Notify, tev:PullMessagesResponse or tt:MetadataStream), found <{element}>{hint}"
    )]
    NotAnEvent { element: String, hint: &'static str },
    /// A notification without the topic that says what happened.
    #[error("wsnt:NotificationMessage at byte {offset} has no wsnt:Topic")]
    MissingTopic { offset: usize },
    /// The mapping refused the message (e.g. a `UtcTime` that is not a time).
    #[error("ONVIF topic {topic}: {reason}")]
    Mapping { topic: String, reason: String },
    /// A document type declaration. SOAP 1.2 forbids them and ONVIF devices never send one;
    /// refusing it means no entity (internal, external or "billion laughs") is ever declared.
    #[error(
        "a document type declaration (<!DOCTYPE>) at byte {offset}: SOAP messages must not carry one; refused, nothing after it was read"
    )]
    Doctype { offset: usize },
    /// Elements nested deeper than any ONVIF message needs.
    #[error(
        "elements nested deeper than {MAX_DEPTH} at byte {offset}; refused, nothing after it was read"
    )]
    TooDeep { offset: usize },
}

/// Deepest element nesting read (ONVIF notifications need about a dozen levels).
pub(crate) const MAX_DEPTH: usize = 256;

/// One `wsnt:NotificationMessage` as read from the XML.
#[derive(Default)]
struct Notification {
    /// Byte range of the whole element in the input: the event's `raw`.
    start: usize,
    end: usize,
    topic: String,
    producer: Option<String>,
    utc_time: Option<String>,
    operation: Option<String>,
    source: Map<String, Value>,
    key: Map<String, Value>,
    data: Map<String, Value>,
}

/// Decodes a body of ONVIF XML: one or more documents, each with zero or more notifications.
pub(crate) fn decode(bytes: &[u8], ctx: &DecodeContext, out: &mut Decoded) {
    let mut scanner = Scanner::new(bytes);
    while let Some(item) = scanner.next_notification() {
        let (range, error) = match item {
            Ok(n) => match to_event(&n, bytes, ctx) {
                Ok(event) => {
                    out.events.push(event);
                    continue;
                }
                Err(error) => ((n.start, n.end), error),
            },
            Err((offset, error)) => ((offset, bytes.len()), error),
        };
        let raw = bytes.get(range.0..range.1).unwrap_or_default();
        out.errors.push(DecodeError::new(
            line_at(bytes, range.0),
            error.to_string(),
            scan::preview(&String::from_utf8_lossy(raw), 4000),
        ));
    }
}

/// 1-based line of byte `offset`.
fn line_at(bytes: &[u8], offset: usize) -> usize {
    memchr::memchr_iter(b'\n', &bytes[..offset.min(bytes.len())]).count() + 1
}

/// The notification as the onvif-ej payload, then through the shared mapping.
fn to_event(
    n: &Notification,
    bytes: &[u8],
    ctx: &DecodeContext,
) -> Result<onesec_event::Event, OnvifXmlError> {
    if n.topic.trim().is_empty() {
        return Err(OnvifXmlError::MissingTopic { offset: n.start });
    }
    let mut payload = Map::new();
    if let Some(time) = &n.utc_time {
        payload.insert("UtcTime".into(), Value::String(time.clone()));
    }
    if let Some(operation) = &n.operation {
        payload.insert("PropertyOperation".into(), Value::String(operation.clone()));
    }
    for (section, items) in [("Source", &n.source), ("Key", &n.key), ("Data", &n.data)] {
        if !items.is_empty() {
            payload.insert(section.into(), Value::Object(items.clone()));
        }
    }
    // The decoders read sonic-rs documents, whose built objects lose their key order: the
    // payload goes through its text (parsed objects keep the order of the XML's items).
    let payload = jv::parse_str(&Value::Object(payload).to_string()).map_err(|reason| {
        OnvifXmlError::Mapping {
            topic: n.topic.trim().to_string(),
            reason,
        }
    })?;
    // The onvif-ej MQTT topic carries the Source values after `/&`; keep the same field.
    let source_values = (!n.source.is_empty()).then(|| {
        n.source
            .values()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("/")
    });
    let topic = Topic {
        device: None,
        path: topic_path(&n.topic),
        source_values: source_values.map(Cow::Owned),
    };
    let raw = String::from_utf8_lossy(&bytes[n.start..n.end.min(bytes.len())]);
    let mut event =
        decode_message(&topic, Some(&payload), &raw, ctx, "onvif-xml").map_err(|reason| {
            OnvifXmlError::Mapping {
                topic: n.topic.trim().to_string(),
                reason,
            }
        })?;
    if let Some(producer) = &n.producer {
        event.fields.insert("onvif.producer", producer.trim());
    }
    Ok(event)
}

/// Walks the XML once, yielding each notification (or the error that stopped one).
struct Scanner<'a> {
    bytes: &'a [u8],
    reader: Reader<&'a [u8]>,
    /// Local names of the open elements.
    stack: Vec<String>,
    /// The element that carries the document's content: the root, or a SOAP Body's child.
    payload: Option<String>,
    /// Notifications found in the current document, and where that document starts.
    in_document: usize,
    document_start: usize,
    current: Option<Notification>,
    done: bool,
    /// Prefixes other than `tns1` that the document binds to the ONVIF topic namespace
    /// (`xmlns:ns1="http://www.onvif.org/ver10/topics"`): their topics are read as `tns1:`.
    topic_aliases: Vec<String>,
}

type Item = Result<Notification, (usize, OnvifXmlError)>;

impl<'a> Scanner<'a> {
    fn new(bytes: &'a [u8]) -> Scanner<'a> {
        let mut reader = Reader::from_reader(bytes);
        reader.config_mut().trim_text(true);
        Scanner {
            bytes,
            reader,
            stack: Vec::new(),
            payload: None,
            in_document: 0,
            document_start: 0,
            current: None,
            done: false,
            topic_aliases: Vec::new(),
        }
    }

    fn next_notification(&mut self) -> Option<Item> {
        while !self.done {
            let before = self.reader.buffer_position() as usize;
            let event = match self.reader.read_event() {
                Ok(event) => event,
                Err(error) => {
                    self.done = true;
                    let offset = self.reader.error_position();
                    let error = OnvifXmlError::Syntax {
                        offset,
                        reason: error.to_string(),
                    };
                    // Point at the notification that broke, when there is one.
                    let start = self.current.as_ref().map_or(offset as usize, |n| n.start);
                    return Some(Err((start, error)));
                }
            };
            if let Some(item) = self.step(event, before) {
                return Some(item);
            }
        }
        None
    }

    /// Handles one XML event; returns an item when a notification or a document ends.
    fn step(&mut self, event: Xml<'_>, before: usize) -> Option<Item> {
        match event {
            Xml::Eof => {
                self.done = true;
                // quick-xml accepts an end of input inside open elements: a cut-off body.
                let open = self.stack.last()?;
                let error = OnvifXmlError::Truncated {
                    element: open.clone(),
                };
                let start = self
                    .current
                    .as_ref()
                    .map_or(self.document_start, |n| n.start);
                Some(Err((start, error)))
            }
            Xml::DocType(_) => {
                self.done = true;
                Some(Err((before, OnvifXmlError::Doctype { offset: before })))
            }
            Xml::Start(_) if self.stack.len() >= MAX_DEPTH => {
                self.done = true;
                Some(Err((before, OnvifXmlError::TooDeep { offset: before })))
            }
            Xml::Start(element) => {
                let name = local_name(&element);
                match self.open(&element, &name, before, false) {
                    Ok(true) => self.close_consumed(),
                    Ok(false) => {
                        self.stack.push(name);
                        None
                    }
                    Err(error) => {
                        self.done = true;
                        Some(Err((before, error)))
                    }
                }
            }
            Xml::Empty(element) => {
                let name = local_name(&element);
                if let Err(error) = self.open(&element, &name, before, true) {
                    self.done = true;
                    return Some(Err((before, error)));
                }
                self.stack.push(name);
                self.close()
            }
            Xml::End(_) => self.close(),
            Xml::Text(text) => {
                self.text(&text.decode().unwrap_or_default());
                None
            }
            Xml::CData(text) => {
                self.text(&text.decode().unwrap_or_default());
                None
            }
            Xml::GeneralRef(reference) => {
                self.text(&resolve_reference(&reference));
                None
            }
            _ => None,
        }
    }

    /// An element opens: note the document's payload, start a notification, read attributes.
    /// Returns `true` when the element was read to its end here (a structured `ElementItem`).
    fn open(
        &mut self,
        element: &BytesStart<'_>,
        name: &str,
        before: usize,
        empty: bool,
    ) -> Result<bool, OnvifXmlError> {
        if self.stack.is_empty() {
            self.topic_aliases.clear();
        }
        if TOPIC_ALIAS_HOLDERS.contains(&name) {
            self.note_topic_aliases(element);
        }
        let parent = self.stack.last().map(String::as_str);
        if self.stack.is_empty() {
            self.in_document = 0;
            self.document_start = before;
            self.payload = (name != "Envelope").then(|| name.to_string());
        } else if parent == Some("Body") && self.stack.len() == 2 {
            self.payload = Some(name.to_string());
        }
        if name == "NotificationMessage" {
            // The reader's position is where the previous event ended: skip the indentation.
            let indent = self.bytes[before.min(self.bytes.len())..]
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
            self.current = Some(Notification {
                start: before + indent,
                ..Notification::default()
            });
            return Ok(false);
        }
        if self.current.is_none() {
            return Ok(false);
        }
        let section = section_of(&self.stack);
        let (value, consumed) = match name {
            // The inner tt:Message carries the time and the property operation.
            "Message" => {
                if let Some(current) = self.current.as_mut() {
                    if let Some(time) = attribute(element, "UtcTime") {
                        current.utc_time = Some(time);
                    }
                    if let Some(operation) = attribute(element, "PropertyOperation") {
                        current.operation = Some(operation);
                    }
                }
                return Ok(false);
            }
            "SimpleItem" => (attribute(element, "Value").unwrap_or_default(), false),
            // Structured values have no fixed shape: keep their XML as text.
            "ElementItem" if !empty => (self.inner_xml(element)?, true),
            "ElementItem" => (String::new(), false),
            _ => return Ok(false),
        };
        if let (Some(section), Some(item), Some(current)) =
            (section, attribute(element, "Name"), self.current.as_mut())
        {
            current.section(section).insert(item, Value::String(value));
        }
        Ok(consumed)
    }

    /// Remembers the prefixes `element` binds to the ONVIF topic namespace, `tns1` aside.
    fn note_topic_aliases(&mut self, element: &BytesStart<'_>) {
        for attribute in element.attributes().flatten() {
            if let Some(prefix) = attribute.key.as_ref().strip_prefix(b"xmlns:")
                && &*attribute.value == ONVIF_TOPICS_NS
                && prefix != b"tns1"
            {
                let prefix = String::from_utf8_lossy(prefix).into_owned();
                if !self.topic_aliases.contains(&prefix) {
                    self.topic_aliases.push(prefix);
                }
            }
        }
    }

    /// The XML inside an element, read up to and including its end tag.
    fn inner_xml(&mut self, element: &BytesStart<'_>) -> Result<String, OnvifXmlError> {
        let span = self
            .reader
            .read_to_end(element.name())
            .map_err(|e| OnvifXmlError::Syntax {
                offset: self.reader.error_position(),
                reason: e.to_string(),
            })?;
        let inner = self
            .bytes
            .get(span.start as usize..span.end as usize)
            .unwrap_or_default();
        Ok(String::from_utf8_lossy(inner).trim().to_string())
    }

    /// Text inside the topic or the producer address of the current notification.
    fn text(&mut self, text: &str) {
        let Some(current) = self.current.as_mut() else {
            return;
        };
        match self.stack.last().map(String::as_str) {
            Some("Topic") => current.topic.push_str(text),
            Some("Address") if self.stack.iter().any(|n| n == "ProducerReference") => {
                current
                    .producer
                    .get_or_insert_with(String::new)
                    .push_str(text);
            }
            _ => {}
        }
    }

    /// An element closes: a finished notification or a finished document yields an item.
    fn close(&mut self) -> Option<Item> {
        let name = self.stack.pop()?;
        if name == "NotificationMessage"
            && let Some(mut notification) = self.current.take()
        {
            notification.end = self.reader.buffer_position() as usize;
            if !self.topic_aliases.is_empty() {
                notification.topic = with_tns1(&notification.topic, &self.topic_aliases);
            }
            self.in_document += 1;
            return Some(Ok(notification));
        }
        self.close_consumed()
    }

    /// After an element closed (or was read to its end): a document without notifications?
    fn close_consumed(&mut self) -> Option<Item> {
        if self.stack.is_empty() && self.in_document == 0 {
            return self.not_an_event();
        }
        None
    }

    /// A document that ended without notifications: fine for an empty poll, an error otherwise.
    fn not_an_event(&mut self) -> Option<Item> {
        let payload = self.payload.take().unwrap_or_else(|| "Envelope".into());
        if EVENT_CONTAINERS.contains(&payload.as_str()) {
            return None;
        }
        let hint = match payload.as_str() {
            "GetEventInstancesResponse" => " (the topic set a device advertises, not events)",
            "Fault" => " (a SOAP fault: the device refused the request)",
            "Envelope" => " (a SOAP envelope without a Body)",
            _ => "",
        };
        Some(Err((
            self.document_start,
            OnvifXmlError::NotAnEvent {
                element: payload,
                hint,
            },
        )))
    }
}

impl Notification {
    fn section(&mut self, section: &str) -> &mut Map<String, Value> {
        match section {
            "Source" => &mut self.source,
            "Key" => &mut self.key,
            _ => &mut self.data,
        }
    }
}

/// The innermost `Source`, `Key` or `Data` element around the current position.
fn section_of(stack: &[String]) -> Option<&'static str> {
    stack.iter().rev().find_map(|name| match name.as_str() {
        "Source" => Some("Source"),
        "Key" => Some("Key"),
        "Data" => Some("Data"),
        _ => None,
    })
}

/// The text an entity or character reference stands for (`&amp;` → `&`, `&#x41;` → `A`);
/// an unknown entity stands for nothing.
pub(crate) fn resolve_reference(reference: &quick_xml::events::BytesRef<'_>) -> String {
    match reference.resolve_char_ref() {
        Ok(Some(c)) => c.to_string(),
        _ => reference
            .decode()
            .ok()
            .and_then(|name| quick_xml::escape::resolve_predefined_entity(&name))
            .unwrap_or_default()
            .to_string(),
    }
}

/// The ONVIF topic namespace, whatever prefix a device binds it to.
const ONVIF_TOPICS_NS: &[u8] = b"http://www.onvif.org/ver10/topics";

/// Elements on which devices declare the topic namespace (the envelope, the notification
/// containers, or the `Topic` element itself): only these are searched for declarations.
const TOPIC_ALIAS_HOLDERS: &[&str] = &[
    "Envelope",
    "Body",
    "Notify",
    "PullMessagesResponse",
    "MetadataStream",
    "Event",
    "NotificationMessage",
    "Topic",
];

/// `topic` with each level's `alias:` (an alias of the ONVIF topic namespace) written `tns1:`.
fn with_tns1(topic: &str, aliases: &[String]) -> String {
    topic
        .trim()
        .split('/')
        .map(|level| match level.split_once(':') {
            Some((prefix, rest)) if aliases.iter().any(|a| a == prefix) => {
                format!("tns1:{rest}")
            }
            _ => level.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// An element's name without its namespace prefix (`wsnt:Topic` → `Topic`).
fn local_name(element: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(element.local_name().as_ref()).into_owned()
}

/// An attribute's unescaped value by local name (`UtcTime`, `Name`, `Value`).
fn attribute(element: &BytesStart<'_>, name: &str) -> Option<String> {
    element.attributes().flatten().find_map(|a| {
        (a.key.local_name().as_ref() == name.as_bytes())
            .then(|| a.unescape_value().ok().map(|v| v.into_owned()))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use crate::{DecodeContext, Format, decode_bytes};
    use onesec_event::{Activity, EventClass};

    #[test]
    fn topic_namespace_under_another_prefix_reads_as_tns1() {
        let body = br#"<Notify xmlns="http://docs.oasis-open.org/wsn/b-2"><NotificationMessage><Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet" xmlns:ns1="http://www.onvif.org/ver10/topics">ns1:VideoSource/SignalLoss</Topic><Message><Message xmlns="http://www.onvif.org/ver10/schema" UtcTime="2026-11-27T04:26:01+01:00"><Source><SimpleItem Name="Source" Value="2"/></Source><Data><SimpleItem Name="State" Value="true"/></Data></Message></Message></NotificationMessage></Notify>"#;
        let out = decode_bytes(&Format::OnvifXml, body, &DecodeContext::new("test", 0));
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let e = &out.events[0];
        assert_eq!(
            (e.class, e.activity),
            (EventClass::VideoAnalytics, Activity::SignalLoss)
        );
        assert!(
            e.message.starts_with("VideoSource/SignalLoss"),
            "{}",
            e.message
        );
        assert_eq!(e.time_ms, 1_795_749_961_000);
    }

    #[test]
    fn aliases_only_rewrite_their_own_prefix() {
        let aliases = ["ns1".to_string()];
        assert_eq!(
            super::with_tns1(" ns1:Device/tnsaxis:IO/Port ", &aliases),
            "tns1:Device/tnsaxis:IO/Port"
        );
    }
}
