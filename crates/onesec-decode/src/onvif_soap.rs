//! The SOAP side of an ONVIF PullPoint client: the requests it sends to a camera or door
//! controller, and the reading of the device's answers (capabilities, the subscription
//! reference, faults). The events a `PullMessagesResponse` carries go through the onvif-xml
//! decoder ([`crate::Format::OnvifXml`]) like any other ONVIF XML.
//!
//! Pure functions, no I/O and no clock: the caller passes the nonce and the creation time of
//! the WS-UsernameToken, so a request is reproducible. The HTTP client is in onesec-server.

use base64::Engine as _;
use quick_xml::Reader;
use quick_xml::events::Event as Xml;
use sha1::{Digest, Sha1};

/// SOAP 1.2 envelope namespace (ONVIF speaks SOAP 1.2 only).
const SOAP_ENV: &str = "http://www.w3.org/2003/05/soap-envelope";
const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
const PASSWORD_DIGEST: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";
const NONCE_BASE64: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";

/// Largest answer read from a device, in bytes (a PullMessagesResponse of a few hundred
/// messages is far below).
pub const MAX_SOAP_BYTES: usize = 4 << 20;

/// The ONVIF operations the PullPoint client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoapAction {
    /// Device service: `GetCapabilities` (category Events), to find the event service.
    GetCapabilities,
    /// Device service: `GetSystemDateAndTime` (needs no authentication), for the clock offset.
    GetSystemDateAndTime,
    /// Event service: create a pull point.
    CreatePullPointSubscription,
    /// Pull point: take the waiting messages (long poll).
    PullMessages,
    /// Subscription manager: move the termination time.
    Renew,
    /// Subscription manager: end the subscription.
    Unsubscribe,
}

impl SoapAction {
    /// The WS-Addressing action URI (also sent in the Content-Type's `action` parameter).
    pub fn uri(self) -> &'static str {
        match self {
            SoapAction::GetCapabilities => "http://www.onvif.org/ver10/device/wsdl/GetCapabilities",
            SoapAction::GetSystemDateAndTime => {
                "http://www.onvif.org/ver10/device/wsdl/GetSystemDateAndTime"
            }
            SoapAction::CreatePullPointSubscription => {
                "http://www.onvif.org/ver10/events/wsdl/EventPortType/CreatePullPointSubscriptionRequest"
            }
            SoapAction::PullMessages => {
                "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription/PullMessagesRequest"
            }
            SoapAction::Renew => {
                "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewRequest"
            }
            SoapAction::Unsubscribe => {
                "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/UnsubscribeRequest"
            }
        }
    }

    /// The body element's local name (what a device dispatches on).
    pub fn element(self) -> &'static str {
        match self {
            SoapAction::GetCapabilities => "GetCapabilities",
            SoapAction::GetSystemDateAndTime => "GetSystemDateAndTime",
            SoapAction::CreatePullPointSubscription => "CreatePullPointSubscription",
            SoapAction::PullMessages => "PullMessages",
            SoapAction::Renew => "Renew",
            SoapAction::Unsubscribe => "Unsubscribe",
        }
    }
}

/// A WS-UsernameToken with a password digest (ONVIF Core, "User-based access control"):
/// `Base64(SHA-1(nonce + created + password))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsernameToken {
    /// User name.
    pub user: String,
    /// Base64 of the digest.
    pub digest: String,
    /// Base64 of the raw nonce.
    pub nonce: String,
    /// Creation time as sent (`2026-03-10T21:47:12Z`, the device's clock).
    pub created: String,
}

impl UsernameToken {
    /// The token for `user` and `password` with the raw `nonce` bytes, created at `created`.
    pub fn new(user: &str, password: &str, nonce: &[u8], created: &str) -> UsernameToken {
        let mut sha = Sha1::new();
        sha.update(nonce);
        sha.update(created.as_bytes());
        sha.update(password.as_bytes());
        let b64 = base64::engine::general_purpose::STANDARD;
        UsernameToken {
            user: user.to_string(),
            digest: b64.encode(sha.finalize()),
            nonce: b64.encode(nonce),
            created: created.to_string(),
        }
    }

    /// Whether `password` gives this token's digest (what a device checks; the tests' fake
    /// camera uses it).
    pub fn verify(&self, password: &str) -> bool {
        let Ok(nonce) = base64::engine::general_purpose::STANDARD.decode(&self.nonce) else {
            return false;
        };
        UsernameToken::new(&self.user, password, &nonce, &self.created).digest == self.digest
    }

    fn header(&self) -> String {
        format!(
            "<wsse:Security s:mustUnderstand=\"1\" xmlns:wsse=\"{WSSE}\" xmlns:wsu=\"{WSU}\">\
             <wsse:UsernameToken><wsse:Username>{}</wsse:Username>\
             <wsse:Password Type=\"{PASSWORD_DIGEST}\">{}</wsse:Password>\
             <wsse:Nonce EncodingType=\"{NONCE_BASE64}\">{}</wsse:Nonce>\
             <wsu:Created>{}</wsu:Created></wsse:UsernameToken></wsse:Security>",
            escape(&self.user),
            self.digest,
            self.nonce,
            escape(&self.created)
        )
    }
}

/// What goes into one request besides its operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestParts<'a> {
    /// Where the request is sent (WS-Addressing `To`).
    pub to: &'a str,
    /// Authentication, if the device wants it.
    pub token: Option<&'a UsernameToken>,
    /// The subscription's reference parameters, echoed as SOAP headers (WS-Addressing).
    pub reference_parameters: &'a str,
    /// Duration (`PT60S`) for `CreatePullPointSubscription` and `Renew`; the long-poll timeout
    /// for `PullMessages`.
    pub duration: &'a str,
    /// Most messages one `PullMessages` may return.
    pub message_limit: u32,
}

/// A whole SOAP 1.2 request for `action`.
pub fn soap_request(action: SoapAction, parts: &RequestParts<'_>) -> String {
    let security = parts.token.map(UsernameToken::header).unwrap_or_default();
    let body = match action {
        SoapAction::GetCapabilities => "<tds:GetCapabilities xmlns:tds=\"http://www.onvif.org/ver10/device/wsdl\"><tds:Category>Events</tds:Category></tds:GetCapabilities>".to_string(),
        SoapAction::GetSystemDateAndTime => "<tds:GetSystemDateAndTime xmlns:tds=\"http://www.onvif.org/ver10/device/wsdl\"/>".to_string(),
        SoapAction::CreatePullPointSubscription => format!(
            "<tev:CreatePullPointSubscription xmlns:tev=\"http://www.onvif.org/ver10/events/wsdl\"><tev:InitialTerminationTime>{}</tev:InitialTerminationTime></tev:CreatePullPointSubscription>",
            escape(parts.duration)
        ),
        SoapAction::PullMessages => format!(
            "<tev:PullMessages xmlns:tev=\"http://www.onvif.org/ver10/events/wsdl\"><tev:Timeout>{}</tev:Timeout><tev:MessageLimit>{}</tev:MessageLimit></tev:PullMessages>",
            escape(parts.duration),
            parts.message_limit.max(1)
        ),
        SoapAction::Renew => format!(
            "<wsnt:Renew xmlns:wsnt=\"http://docs.oasis-open.org/wsn/b-2\"><wsnt:TerminationTime>{}</wsnt:TerminationTime></wsnt:Renew>",
            escape(parts.duration)
        ),
        SoapAction::Unsubscribe => {
            "<wsnt:Unsubscribe xmlns:wsnt=\"http://docs.oasis-open.org/wsn/b-2\"/>".to_string()
        }
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <s:Envelope xmlns:s=\"{SOAP_ENV}\" xmlns:wsa=\"http://www.w3.org/2005/08/addressing\">\
         <s:Header>{security}<wsa:Action>{}</wsa:Action><wsa:To>{}</wsa:To>{}</s:Header>\
         <s:Body>{body}</s:Body></s:Envelope>",
        action.uri(),
        escape(parts.to),
        parts.reference_parameters
    )
}

/// A device's answer could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SoapError {
    /// The device answered with a SOAP fault.
    #[error("SOAP fault {code}: {reason}")]
    Fault {
        /// Fault code and subcode (`env:Sender ter:NotAuthorized`).
        code: String,
        /// The device's text.
        reason: String,
    },
    /// The answer is not XML we can read.
    #[error("invalid XML in the {what} at byte {offset}: {reason}")]
    Syntax {
        /// Which answer.
        what: &'static str,
        /// Where it broke.
        offset: u64,
        /// Why.
        reason: String,
    },
    /// A well-formed answer without what the request asked for.
    #[error("the {what} has no {missing}")]
    Missing {
        /// Which answer.
        what: &'static str,
        /// The element looked for.
        missing: &'static str,
    },
    /// The answer is larger than [`MAX_SOAP_BYTES`].
    #[error("the {what} is {size} bytes, more than the {MAX_SOAP_BYTES} read")]
    TooLarge {
        /// Which answer.
        what: &'static str,
        /// Its size.
        size: usize,
    },
}

/// A pull point as `CreatePullPointSubscriptionResponse` describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullPoint {
    /// Where to send `PullMessages`, `Renew` and `Unsubscribe`.
    pub address: String,
    /// The reference parameters' XML (children of `wsa:ReferenceParameters`), to echo as
    /// headers; empty when the device gave none.
    pub reference_parameters: String,
    /// The device's clock when it answered (`tev:CurrentTime`), as sent.
    pub current_time: Option<String>,
    /// When the subscription ends unless renewed (`tev:TerminationTime`), as sent.
    pub termination_time: Option<String>,
}

/// Reads a `CreatePullPointSubscriptionResponse`.
pub fn parse_pull_point(bytes: &[u8]) -> Result<PullPoint, SoapError> {
    const WHAT: &str = "CreatePullPointSubscriptionResponse";
    let doc = Document::read(bytes, WHAT)?;
    doc.fault()?;
    let address = doc
        .text(&["SubscriptionReference", "Address"])
        .filter(|a| !a.is_empty())
        .ok_or(SoapError::Missing {
            what: WHAT,
            missing: "wsnt:SubscriptionReference/wsa:Address",
        })?;
    Ok(PullPoint {
        address,
        current_time: doc.text(&["CurrentTime"]),
        termination_time: doc.text(&["TerminationTime"]),
        reference_parameters: doc.reference_parameters,
    })
}

/// Reads a `GetCapabilitiesResponse`: the event service address (`tt:Events/tt:XAddr`).
pub fn parse_events_address(bytes: &[u8]) -> Result<String, SoapError> {
    const WHAT: &str = "GetCapabilitiesResponse";
    let doc = Document::read(bytes, WHAT)?;
    doc.fault()?;
    doc.text(&["Events", "XAddr"])
        .filter(|a| !a.is_empty())
        .ok_or(SoapError::Missing {
            what: WHAT,
            missing: "tt:Capabilities/tt:Events/tt:XAddr",
        })
}

/// Reads a `GetSystemDateAndTimeResponse`: the device's UTC clock in milliseconds.
pub fn parse_device_time_ms(bytes: &[u8]) -> Result<i64, SoapError> {
    const WHAT: &str = "GetSystemDateAndTimeResponse";
    let doc = Document::read(bytes, WHAT)?;
    doc.fault()?;
    let number = |path: &[&str]| -> Option<u32> { doc.text(path)?.trim().parse().ok() };
    let missing = SoapError::Missing {
        what: WHAT,
        missing: "tt:UTCDateTime with Date (Year, Month, Day) and Time (Hour, Minute, Second)",
    };
    let year = number(&["UTCDateTime", "Date", "Year"]).ok_or(missing.clone())?;
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::try_from(year).map_err(|_| missing.clone())?,
        number(&["UTCDateTime", "Date", "Month"]).ok_or(missing.clone())?,
        number(&["UTCDateTime", "Date", "Day"]).ok_or(missing.clone())?,
    )
    .ok_or(missing.clone())?;
    let time = date
        .and_hms_opt(
            number(&["UTCDateTime", "Time", "Hour"]).ok_or(missing.clone())?,
            number(&["UTCDateTime", "Time", "Minute"]).ok_or(missing.clone())?,
            number(&["UTCDateTime", "Time", "Second"]).ok_or(missing.clone())?,
        )
        .ok_or(missing)?;
    Ok(time.and_utc().timestamp_millis())
}

/// A SOAP fault in an answer, if it is one (any answer: pull, renew, unsubscribe).
pub fn soap_fault(bytes: &[u8]) -> Option<SoapError> {
    Document::read(bytes, "answer").ok()?.fault().err()
}

/// The operation a request asks for: the local name of the first element in the SOAP body
/// (what a device, or the tests' fake camera, dispatches on), and the UsernameToken in its
/// header, if any.
pub fn parse_request(bytes: &[u8]) -> Result<(String, Option<UsernameToken>), SoapError> {
    const WHAT: &str = "request";
    let doc = Document::read(bytes, WHAT)?;
    let operation = doc.body_element.clone().ok_or(SoapError::Missing {
        what: WHAT,
        missing: "s:Body element",
    })?;
    let token = doc
        .text(&["UsernameToken", "Username"])
        .map(|user| UsernameToken {
            user,
            digest: doc.text(&["UsernameToken", "Password"]).unwrap_or_default(),
            nonce: doc.text(&["UsernameToken", "Nonce"]).unwrap_or_default(),
            created: doc.text(&["UsernameToken", "Created"]).unwrap_or_default(),
        });
    Ok((operation, token))
}

/// An answer read once: every text with the path of element names above it.
struct Document {
    texts: Vec<(Vec<String>, String)>,
    body_element: Option<String>,
    reference_parameters: String,
}

impl Document {
    fn read(bytes: &[u8], what: &'static str) -> Result<Document, SoapError> {
        if bytes.len() > MAX_SOAP_BYTES {
            return Err(SoapError::TooLarge {
                what,
                size: bytes.len(),
            });
        }
        let mut reader = Reader::from_reader(bytes);
        reader.config_mut().trim_text(true);
        let mut doc = Document {
            texts: Vec::new(),
            body_element: None,
            reference_parameters: String::new(),
        };
        let mut stack: Vec<String> = Vec::new();
        // Text and entity references in a row are one text (quick-xml splits them).
        let mut in_text = false;
        let syntax = |reader: &Reader<&[u8]>, reason: String| SoapError::Syntax {
            what,
            offset: reader.error_position(),
            reason,
        };
        loop {
            let event = reader
                .read_event()
                .map_err(|e| syntax(&reader, e.to_string()))?;
            let was_text = std::mem::replace(
                &mut in_text,
                matches!(event, Xml::Text(_) | Xml::GeneralRef(_)),
            );
            match event {
                Xml::Start(ref element) | Xml::Empty(ref element) => {
                    let empty = matches!(event, Xml::Empty(_));
                    let name = String::from_utf8_lossy(element.local_name().as_ref()).into_owned();
                    if stack.last().is_some_and(|p| p == "Body") && doc.body_element.is_none() {
                        doc.body_element = Some(name.clone());
                    }
                    if name == "ReferenceParameters" && !empty {
                        let span = reader
                            .read_to_end(element.name())
                            .map_err(|e| syntax(&reader, e.to_string()))?;
                        let inner = bytes
                            .get(span.start as usize..span.end as usize)
                            .unwrap_or_default();
                        doc.reference_parameters =
                            String::from_utf8_lossy(inner).trim().to_string();
                        continue;
                    }
                    if !empty {
                        stack.push(name);
                    }
                }
                Xml::End(_) => {
                    stack.pop();
                }
                Xml::Text(text) => {
                    let text = text.decode().map_err(|e| syntax(&reader, e.to_string()))?;
                    doc.push_text(&stack, &text, was_text);
                }
                Xml::GeneralRef(reference) => {
                    let resolved = crate::onvif_xml::resolve_reference(&reference);
                    doc.push_text(&stack, &resolved, was_text);
                }
                Xml::Eof => break,
                _ => {}
            }
        }
        if let Some(open) = stack.last() {
            return Err(syntax(
                &reader,
                format!("the document ends inside <{open}>"),
            ));
        }
        Ok(doc)
    }

    /// Adds text at `path`, continuing the previous text when nothing came between.
    fn push_text(&mut self, path: &[String], text: &str, continues: bool) {
        match self.texts.last_mut() {
            Some((last, previous)) if continues && last.as_slice() == path => {
                previous.push_str(text)
            }
            _ => self.texts.push((path.to_vec(), text.to_string())),
        }
    }

    /// The first text whose element path ends with `suffix` (local names).
    fn text(&self, suffix: &[&str]) -> Option<String> {
        self.texts.iter().find_map(|(path, text)| {
            (path.len() >= suffix.len()
                && path[path.len() - suffix.len()..]
                    .iter()
                    .zip(suffix)
                    .all(|(a, b)| a == b))
            .then(|| text.clone())
        })
    }

    fn fault(&self) -> Result<(), SoapError> {
        if self.body_element.as_deref() != Some("Fault") {
            return Ok(());
        }
        let values: Vec<String> = self
            .texts
            .iter()
            .filter(|(path, _)| {
                path.iter().any(|n| n == "Code") && path.last().is_some_and(|n| n == "Value")
            })
            .map(|(_, text)| text.clone())
            .collect();
        let code = if values.is_empty() {
            self.text(&["faultcode"]).unwrap_or_default()
        } else {
            values.join(" ")
        };
        let reason = self
            .text(&["Reason", "Text"])
            .or_else(|| self.text(&["faultstring"]))
            .unwrap_or_else(|| "(no reason given)".into());
        Err(SoapError::Fault { code, reason })
    }
}

/// Escapes text for XML content and attribute values.
fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_digest_matches_the_onvif_programmers_guide() {
        // ONVIF Application Programmer's Guide, "Authentication": the worked example.
        let nonce = base64::engine::general_purpose::STANDARD
            .decode("LKqI6G/AikKCQrN0zqZFlg==")
            .unwrap();
        let token = UsernameToken::new("user", "userpassword", &nonce, "2010-09-16T07:50:45Z");
        assert_eq!(token.digest, "tuOSpGlFlIXsozq4HFNeeGeFLEI=");
        assert!(token.verify("userpassword"));
        assert!(!token.verify("wrong"));
    }

    #[test]
    fn a_request_names_its_operation_and_carries_the_token() {
        let token = UsernameToken::new("ops<1>", "pw", b"0123456789abcdef", "2026-03-10T21:47:12Z");
        let xml = soap_request(
            SoapAction::PullMessages,
            &RequestParts {
                to: "http://cam/onvif/sub?id=1&x=2",
                token: Some(&token),
                reference_parameters: "<dom:SubscriptionId xmlns:dom=\"urn:x\">7</dom:SubscriptionId>",
                duration: "PT5S",
                message_limit: 50,
            },
        );
        assert!(xml.contains("<tev:MessageLimit>50</tev:MessageLimit>"));
        assert!(xml.contains("id=1&amp;x=2"));
        assert!(xml.contains("<dom:SubscriptionId"));
        let (operation, parsed) = parse_request(xml.as_bytes()).unwrap();
        assert_eq!(operation, "PullMessages");
        let parsed = parsed.unwrap();
        assert_eq!(parsed, token);
        assert!(parsed.verify("pw"));
        let (operation, parsed) = parse_request(
            soap_request(SoapAction::GetSystemDateAndTime, &RequestParts::default()).as_bytes(),
        )
        .unwrap();
        assert_eq!((operation.as_str(), parsed), ("GetSystemDateAndTime", None));
    }

    #[test]
    fn a_pull_point_is_read_with_its_reference_parameters() {
        let answer = br#"<?xml version="1.0"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2">
<env:Body><tev:CreatePullPointSubscriptionResponse>
<tev:SubscriptionReference><wsa:Address>http://192.0.2.7/onvif/services?sub=3&amp;a=b</wsa:Address>
<wsa:ReferenceParameters><dom:SubscriptionId xmlns:dom="http://www.axis.com/2009/event">3</dom:SubscriptionId></wsa:ReferenceParameters>
</tev:SubscriptionReference>
<wsnt:CurrentTime>2026-03-10T21:47:12Z</wsnt:CurrentTime><wsnt:TerminationTime>2026-03-10T21:48:12Z</wsnt:TerminationTime>
</tev:CreatePullPointSubscriptionResponse></env:Body></env:Envelope>"#;
        let point = parse_pull_point(answer).unwrap();
        assert_eq!(point.address, "http://192.0.2.7/onvif/services?sub=3&a=b");
        assert!(
            point
                .reference_parameters
                .starts_with("<dom:SubscriptionId")
        );
        assert_eq!(point.current_time.as_deref(), Some("2026-03-10T21:47:12Z"));
        assert_eq!(
            point.termination_time.as_deref(),
            Some("2026-03-10T21:48:12Z")
        );
    }

    #[test]
    fn faults_and_broken_answers_say_what_is_wrong() {
        let fault = br#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:ter="http://www.onvif.org/ver10/error"><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:NotAuthorized</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">Sender not authorized</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>"#;
        let err = parse_pull_point(fault).unwrap_err();
        assert_eq!(
            err,
            SoapError::Fault {
                code: "s:Sender ter:NotAuthorized".into(),
                reason: "Sender not authorized".into()
            }
        );
        assert!(soap_fault(fault).is_some());
        assert!(soap_fault(b"<s:Envelope><s:Body><x/></s:Body></s:Envelope>").is_none());
        let cut = parse_pull_point(b"<s:Envelope><s:Body><tev:Create").unwrap_err();
        assert!(matches!(cut, SoapError::Syntax { .. }), "{cut}");
        let empty =
            parse_pull_point(b"<s:Envelope><s:Body><x/></s:Body></s:Envelope>").unwrap_err();
        assert!(
            empty.to_string().contains("SubscriptionReference"),
            "{empty}"
        );
        assert!(parse_events_address(b"not xml at all <<<").is_err());
    }

    #[test]
    fn capabilities_and_device_time_are_read() {
        let caps = br#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><tds:GetCapabilitiesResponse xmlns:tds="d" xmlns:tt="t"><tds:Capabilities><tt:Events><tt:XAddr>http://192.0.2.7/onvif/event_service</tt:XAddr><tt:WSPullPointSupport>true</tt:WSPullPointSupport></tt:Events></tds:Capabilities></tds:GetCapabilitiesResponse></s:Body></s:Envelope>"#;
        assert_eq!(
            parse_events_address(caps).unwrap(),
            "http://192.0.2.7/onvif/event_service"
        );
        let time = br#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><tds:GetSystemDateAndTimeResponse xmlns:tds="d" xmlns:tt="t"><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType><tt:UTCDateTime><tt:Time><tt:Hour>21</tt:Hour><tt:Minute>47</tt:Minute><tt:Second>12</tt:Second></tt:Time><tt:Date><tt:Year>2026</tt:Year><tt:Month>3</tt:Month><tt:Day>10</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse></s:Body></s:Envelope>"#;
        assert_eq!(parse_device_time_ms(time).unwrap(), 1_773_179_232_000);
        let bad = time.to_vec();
        let bad = String::from_utf8(bad).unwrap().replace(">3<", ">13<");
        assert!(parse_device_time_ms(bad.as_bytes()).is_err());
    }
}
