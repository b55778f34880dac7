//! SIA DC-09 alarm messages (ANSI/SIA DC-09, "SIA over IP"), as intrusion panels send them to a
//! receiver: framing, CRC, optional AES, the SIA DC-03 ("SIA-DCS") and Contact ID ("ADM-CID")
//! contents, the receiver's answers (ACK, NAK, DUH) and the mapping to events.
//!
//! A frame on the wire:
//!
//! ```text
//! <LF> CRC(4 hex) 0LLL(length, 4 hex) "ID" SEQ(4 digits) [Rrcvr] Lpref #acct [data][xdata]... [_HH:MM:SS,MM-DD-YYYY] <CR>
//! ```
//!
//! The CRC (CRC-16/ARC: polynomial 0x8005 reflected, initial value 0) and the length cover the
//! bytes from the opening quote of the ID to the end of the time stamp. IDs: `SIA-DCS`,
//! `ADM-CID`, `NULL` (link test), each prefixed with `*` when the part from the first `[` on is
//! encrypted (AES-CBC, zero IV, key of 16, 24 or 32 bytes, the ciphertext in hex; the plaintext
//! starts with padding up to a `|`).
//!
//! What a receiver answers ([`answer`]): nothing to a frame whose CRC or length is wrong (the
//! panel sends it again); `NAK` with the receiver's time to a frame whose time stamp is outside
//! the accepted window; `DUH` to a well-formed frame it cannot read (unknown ID, no key for an
//! encrypted account, content it cannot parse); `ACK` echoing sequence, receiver, prefix and
//! account otherwise — the onesec receiver sends the ACK only once the events are durable.

use crate::{DecodeContext, new_event};
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
use chrono::{DateTime, NaiveDateTime, Utc};
use onesec_event::{Activity, Event, EventClass, Severity, Status};

/// Byte that starts a frame.
pub const FRAME_START: u8 = b'\n';
/// Byte that ends a frame.
pub const FRAME_END: u8 = b'\r';
/// Longest frame accepted (the standard's messages are far shorter).
pub const MAX_FRAME_BYTES: usize = 4096;

/// The message kind named by the frame's ID token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `SIA-DCS`: SIA DC-03 event blocks (`NBA15`, `Nri1/CL5`).
    SiaDcs,
    /// `ADM-CID`: Ademco Contact ID (`1130 01 015`).
    ContactId,
    /// `NULL`: link test / supervision, no event.
    Null,
}

impl Protocol {
    fn token(self) -> &'static str {
        match self {
            Protocol::SiaDcs => "SIA-DCS",
            Protocol::ContactId => "ADM-CID",
            Protocol::Null => "NULL",
        }
    }
}

/// A frame's routing part, echoed in the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// ID token as sent, without quotes or `*` (`SIA-DCS`, `ADM-CID`, `NULL`, or an unknown one).
    pub token: String,
    /// Whether the content was encrypted (`*` before the token).
    pub encrypted: bool,
    /// Sequence number, four digits as sent.
    pub sequence: String,
    /// Receiver number (`R` + hex), if sent.
    pub receiver: Option<String>,
    /// Account prefix (`L` + hex).
    pub prefix: String,
    /// Account number (hex digits, without `#`).
    pub account: String,
}

/// A frame read and checked, its content decrypted when it was encrypted.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Routing part.
    pub header: Header,
    /// What the ID names; `None` for an ID this receiver does not know (answered with `DUH`).
    pub protocol: Option<Protocol>,
    /// The data blocks and time stamp after the account: `[...]`, `[X...]`..., `_HH:MM:SS,...`.
    pub content: String,
    /// The frame's time stamp (UTC ms), when it has one.
    pub time_ms: Option<i64>,
}

/// Why a frame cannot be answered with ACK.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Not a DC-09 frame at all, or damaged: no answer.
    #[error("not a SIA DC-09 frame: {0}")]
    Malformed(String),
    /// The CRC does not match: no answer, the panel repeats.
    #[error("CRC mismatch: the frame says {declared:04X}, its bytes give {computed:04X}")]
    Crc {
        /// CRC written in the frame.
        declared: u16,
        /// CRC of the bytes received.
        computed: u16,
    },
    /// The length does not match: no answer.
    #[error("length mismatch: the frame says {declared} bytes, {actual} were received")]
    Length {
        /// Length written in the frame.
        declared: usize,
        /// Length received.
        actual: usize,
    },
    /// Encrypted, but no key is configured for the account: answered with DUH.
    #[error("encrypted message for account {}, but no AES key is configured for it", .0.account)]
    NoKey(Box<Header>),
    /// Encrypted, but the key does not decrypt it: answered with DUH.
    #[error("encrypted content of account {} does not decrypt: {reason}", header.account)]
    Decrypt {
        /// The frame's routing part (for the DUH).
        header: Box<Header>,
        /// What went wrong.
        reason: String,
    },
}

impl FrameError {
    /// The header to answer with DUH (well-formed but unreadable); `None`: no answer.
    pub fn duh_header(&self) -> Option<&Header> {
        match self {
            FrameError::NoKey(header) | FrameError::Decrypt { header, .. } => Some(header),
            _ => None,
        }
    }
}

/// CRC-16/ARC as DC-09 uses it.
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// Reads one frame (with or without its LF and CR). `key_for` gives the AES key of an account.
pub fn parse_frame(
    frame: &[u8],
    key_for: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<Message, FrameError> {
    let frame = frame.strip_prefix(&[FRAME_START]).unwrap_or(frame);
    let frame = frame.strip_suffix(&[FRAME_END]).unwrap_or(frame);
    if frame.len() > MAX_FRAME_BYTES {
        return Err(FrameError::Malformed(format!(
            "expected at most {MAX_FRAME_BYTES} bytes, found {}",
            frame.len()
        )));
    }
    let text = std::str::from_utf8(frame)
        .map_err(|e| FrameError::Malformed(format!("expected ASCII, found {e}")))?;
    if text.len() < 9 || !text.is_char_boundary(8) {
        return Err(FrameError::Malformed(format!(
            "expected CRC, length and a quoted ID, found {:?}",
            crate::scan::preview(text, 40)
        )));
    }
    let (crc_text, rest) = text.split_at(4);
    let (length_text, body) = rest.split_at(4);
    let declared = u16::from_str_radix(crc_text, 16).map_err(|_| {
        FrameError::Malformed(format!("expected 4 hex digits of CRC, found {crc_text:?}"))
    })?;
    let length = usize::from_str_radix(length_text, 16).map_err(|_| {
        FrameError::Malformed(format!(
            "expected 4 hex digits of length (0LLL), found {length_text:?}"
        ))
    })?;
    if length != body.len() {
        return Err(FrameError::Length {
            declared: length,
            actual: body.len(),
        });
    }
    let computed = crc16(body.as_bytes());
    if computed != declared {
        return Err(FrameError::Crc { declared, computed });
    }
    parse_body(body, key_for)
}

/// The part covered by CRC and length: `"ID"SEQ[Rrcvr]Lpref#acct[...]...`.
fn parse_body(
    body: &str,
    key_for: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<Message, FrameError> {
    let malformed = |what: &str| FrameError::Malformed(format!("{what} in {body:?}"));
    let quoted = body
        .strip_prefix('"')
        .ok_or_else(|| malformed("expected the ID in quotes"))?;
    let (id, rest) = quoted
        .split_once('"')
        .ok_or_else(|| malformed("expected the closing quote of the ID"))?;
    let (encrypted, token) = match id.strip_prefix('*') {
        Some(token) => (true, token),
        None => (false, id),
    };
    let sequence = rest
        .get(..4)
        .filter(|s| s.bytes().all(|b| b.is_ascii_digit()));
    let sequence = sequence.ok_or_else(|| malformed("expected a 4-digit sequence after the ID"))?;
    let mut rest = &rest[4..];
    let receiver = take_tagged(&mut rest, 'R');
    let prefix =
        take_tagged(&mut rest, 'L').ok_or_else(|| malformed("expected the account prefix L"))?;
    let account_end = rest
        .find('[')
        .ok_or_else(|| malformed("expected a data block '['"))?;
    let account = rest[..account_end].trim_start_matches('#').to_string();
    if account.is_empty() || !account.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(malformed("expected the account number #acct (hex digits)"));
    }
    let header = Header {
        token: token.to_string(),
        encrypted,
        sequence: sequence.to_string(),
        receiver: receiver.map(str::to_string),
        prefix: prefix.to_string(),
        account,
    };
    let content = &rest[account_end..];
    let content = if encrypted && content != "[]" {
        let Some(key) = key_for(&header.account) else {
            return Err(FrameError::NoKey(Box::new(header)));
        };
        match decrypt_content(&key, &content[1..]) {
            Ok(plain) => plain,
            Err(reason) => {
                return Err(FrameError::Decrypt {
                    header: Box::new(header),
                    reason,
                });
            }
        }
    } else {
        content.to_string()
    };
    let protocol = [Protocol::SiaDcs, Protocol::ContactId, Protocol::Null]
        .into_iter()
        .find(|p| p.token() == token);
    let time_ms = timestamp(&content);
    Ok(Message {
        header,
        protocol,
        content,
        time_ms,
    })
}

/// Takes `R1234` / `L0` style fields (tag + hex digits) off the front of `rest`.
fn take_tagged<'a>(rest: &mut &'a str, tag: char) -> Option<&'a str> {
    let after = rest.strip_prefix(tag)?;
    let digits = after.bytes().take_while(u8::is_ascii_hexdigit).count();
    if digits == 0 {
        return None;
    }
    let (value, remaining) = rest.split_at(1 + digits);
    *rest = remaining;
    Some(value)
}

type Aes128Dec = cbc::Decryptor<aes::Aes128>;
type Aes192Dec = cbc::Decryptor<aes::Aes192>;
type Aes256Dec = cbc::Decryptor<aes::Aes256>;
type Aes128Enc = cbc::Encryptor<aes::Aes128>;
type Aes192Enc = cbc::Encryptor<aes::Aes192>;
type Aes256Enc = cbc::Encryptor<aes::Aes256>;

const ZERO_IV: [u8; 16] = [0; 16];

/// Decrypts the hex after `[` and returns the plaintext as `[data]...` (padding dropped).
fn decrypt_content(key: &[u8], hex_text: &str) -> Result<String, String> {
    let mut data =
        hex::decode(hex_text.trim()).map_err(|e| format!("expected hex ciphertext: {e}"))?;
    if data.is_empty() || data.len() % 16 != 0 {
        return Err(format!(
            "expected a whole number of 16-byte blocks, found {} bytes",
            data.len()
        ));
    }
    let plain = match key.len() {
        16 => Aes128Dec::new_from_slices(key, &ZERO_IV)
            .map_err(|e| e.to_string())?
            .decrypt_padded_mut::<NoPadding>(&mut data),
        24 => Aes192Dec::new_from_slices(key, &ZERO_IV)
            .map_err(|e| e.to_string())?
            .decrypt_padded_mut::<NoPadding>(&mut data),
        32 => Aes256Dec::new_from_slices(key, &ZERO_IV)
            .map_err(|e| e.to_string())?
            .decrypt_padded_mut::<NoPadding>(&mut data),
        n => return Err(format!("expected a key of 16, 24 or 32 bytes, found {n}")),
    }
    .map_err(|e| e.to_string())?;
    let text = std::str::from_utf8(plain)
        .map_err(|_| "the key does not give readable text (wrong key?)".to_string())?;
    // Padding, then `|`, then the data; some panels send link tests as padding then `]`.
    let data = match text.split_once('|') {
        Some((_, data)) => data,
        None => text
            .find(']')
            .map(|end| &text[end..])
            .ok_or_else(|| "expected padding then '|' in the plaintext (wrong key?)".to_string())?,
    };
    if !data.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err("the plaintext is not printable text (wrong key?)".into());
    }
    Ok(format!("[{data}"))
}

/// Encrypts `plain` for an answer: padded in front to whole blocks, in upper-case hex.
fn encrypt_content(key: &[u8], plain: &str) -> Option<String> {
    let pad = 16 - (plain.len() + 1) % 16;
    let mut text = "0".repeat(pad % 16);
    text.push('|');
    text.push_str(plain);
    let mut buffer = text.into_bytes();
    let length = buffer.len();
    let cipher = match key.len() {
        16 => Aes128Enc::new_from_slices(key, &ZERO_IV)
            .ok()?
            .encrypt_padded_mut::<NoPadding>(&mut buffer, length)
            .ok()?
            .to_vec(),
        24 => Aes192Enc::new_from_slices(key, &ZERO_IV)
            .ok()?
            .encrypt_padded_mut::<NoPadding>(&mut buffer, length)
            .ok()?
            .to_vec(),
        32 => Aes256Enc::new_from_slices(key, &ZERO_IV)
            .ok()?
            .encrypt_padded_mut::<NoPadding>(&mut buffer, length)
            .ok()?
            .to_vec(),
        _ => return None,
    };
    Some(hex::encode_upper(cipher))
}

/// The time stamp `_HH:MM:SS,MM-DD-YYYY` at the end of the content, as UTC ms.
fn timestamp(content: &str) -> Option<i64> {
    let (_, stamp) = content.rsplit_once('_')?;
    let time = NaiveDateTime::parse_from_str(stamp.trim(), "%H:%M:%S,%m-%d-%Y").ok()?;
    Some(time.and_utc().timestamp_millis())
}

fn format_timestamp(now_ms: i64) -> String {
    let now = DateTime::<Utc>::from_timestamp_millis(now_ms).unwrap_or_default();
    now.format("_%H:%M:%S,%m-%d-%Y").to_string()
}

/// The answers a receiver sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Received and stored.
    Ack,
    /// Time stamp outside the window: the panel corrects its clock from ours and sends again.
    Nak,
    /// Well-formed but not understood.
    Duh,
}

/// The bytes of `reply` to a frame with this header (`LF CRC 0LLL "ID"... CR`). An ACK to an
/// encrypted frame is encrypted with the same key (`key`); a NAK carries our time stamp.
pub fn answer(reply: Reply, header: &Header, key: Option<&[u8]>, now_ms: i64) -> Vec<u8> {
    let receiver = header.receiver.as_deref().unwrap_or("R0");
    let body = match reply {
        // DC-09's NAK is fixed: no sequence, receiver, line or account, only our time.
        Reply::Nak => format!("\"NAK\"0000R0L0A0[]{}", format_timestamp(now_ms)),
        Reply::Duh => format!(
            "\"DUH\"{}{receiver}{}#{}[]",
            header.sequence, header.prefix, header.account
        ),
        Reply::Ack => {
            let encrypted = key
                .filter(|_| header.encrypted)
                .and_then(|key| encrypt_content(key, &format!("]{}", format_timestamp(now_ms))));
            match encrypted {
                Some(cipher) => format!(
                    "\"*ACK\"{}{receiver}{}#{}[{cipher}",
                    header.sequence, header.prefix, header.account
                ),
                None => format!(
                    "\"ACK\"{}{receiver}{}#{}[]",
                    header.sequence, header.prefix, header.account
                ),
            }
        }
    };
    let mut out = Vec::with_capacity(body.len() + 10);
    out.push(FRAME_START);
    out.extend_from_slice(format!("{:04X}{:04X}", crc16(body.as_bytes()), body.len()).as_bytes());
    out.extend_from_slice(body.as_bytes());
    out.push(FRAME_END);
    out
}

/// Builds a frame around `body` (from the quote of the ID on): what a panel sends. For tests,
/// simulators and exercises.
pub fn frame(body: &str) -> Vec<u8> {
    let mut out = vec![FRAME_START];
    out.extend_from_slice(format!("{:04X}{:04X}", crc16(body.as_bytes()), body.len()).as_bytes());
    out.extend_from_slice(body.as_bytes());
    out.push(FRAME_END);
    out
}

/// Encrypts a panel's content (`[data]..._timestamp`) as a `*` frame carries it, for tests and
/// simulators: returns the text that follows the account (`[` + hex).
pub fn encrypt_for_panel(key: &[u8], content: &str) -> Option<String> {
    let data = content.strip_prefix('[').unwrap_or(content);
    encrypt_content(key, data).map(|hex| format!("[{hex}"))
}

/// One alarm event read from a message's data.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Signal {
    /// SIA two-letter code, or `CID` + qualifier + event code.
    code: String,
    /// What it means, from the code tables.
    meaning: Meaning,
    /// Zone or user number, as sent.
    number: Option<String>,
    /// Area / partition.
    area: Option<String>,
    /// User number, when the code reports one.
    user: Option<String>,
    /// A restore (condition back to normal) rather than a new alarm.
    restore: bool,
    /// Contact ID event code (3 digits), when the message was Contact ID.
    cid_event: Option<String>,
    /// Free text the panel added (`^...^`), e.g. the zone's name.
    text: Option<String>,
}

/// Decodes the events of a message (none for a link test).
pub fn events(message: &Message, raw: &str, ctx: &DecodeContext) -> Result<Vec<Event>, String> {
    let signals = match message.protocol {
        Some(Protocol::Null) => return Ok(Vec::new()),
        Some(Protocol::SiaDcs) => sia_signals(data_block(&message.content)?)?,
        Some(Protocol::ContactId) => vec![contact_id_signal(data_block(&message.content)?)?],
        None => {
            return Err(format!(
                "expected the ID SIA-DCS, ADM-CID or NULL, found {:?}",
                message.header.token
            ));
        }
    };
    Ok(signals
        .into_iter()
        .map(|signal| to_event(message, signal, raw, ctx))
        .collect())
}

/// The first `[...]` block without its brackets and without a leading `#acct|`.
fn data_block(content: &str) -> Result<&str, String> {
    let inner = content
        .strip_prefix('[')
        .and_then(|c| c.split_once(']'))
        .map(|(data, _)| data)
        .ok_or_else(|| format!("expected a data block [..], found {content:?}"))?;
    Ok(match inner.split_once('|') {
        Some((account, data)) if account.starts_with('#') || account.is_empty() => data,
        _ => inner,
    })
}

/// SIA DC-03 blocks: `N` then `/`-separated items; lower-case items are modifiers (`ri` area,
/// `id` user, `ti` time, `pi` peripheral), upper-case items are events (code + number).
fn sia_signals(data: &str) -> Result<Vec<Signal>, String> {
    let data = data.trim();
    let data = data
        .strip_prefix('N')
        .or_else(|| data.strip_prefix('O'))
        .unwrap_or(data);
    let (mut area, mut user) = (None, None);
    let mut signals = Vec::new();
    for item in data.split('/').map(str::trim).filter(|i| !i.is_empty()) {
        let mut item = item;
        // Modifiers (`ri1`, `id7`, `ti12:30`), possibly glued to the event (`ri1CL0`).
        while item.len() >= 2 && item.as_bytes()[..2].iter().all(u8::is_ascii_lowercase) {
            let value_len = item[2..]
                .bytes()
                .take_while(|b| b.is_ascii_digit() || *b == b':')
                .count();
            let value = &item[2..2 + value_len];
            match &item[..2] {
                "ri" => area = Some(value.to_string()),
                "id" => user = Some(value.to_string()),
                _ => {}
            }
            item = &item[2 + value_len..];
        }
        if item.is_empty() {
            continue;
        }
        let head: String = item.chars().take(2).collect();
        let tail = &item[head.len()..];
        if head.len() != 2 || !head.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(format!(
                "expected a SIA event code (two capital letters), found {item:?}"
            ));
        }
        let number: String = tail.chars().take_while(char::is_ascii_digit).collect();
        // Optional text between carets after the number (`CL0^VX FRONT ^`).
        let text = tail
            .split_once('^')
            .map(|(_, rest)| rest.trim_end_matches('^').trim().to_string())
            .filter(|t| !t.is_empty());
        let meaning = sia_meaning(&head);
        let user_code = meaning.numbers_a_user;
        signals.push(Signal {
            restore: meaning.restore,
            meaning,
            number: (!number.is_empty()).then(|| number.clone()),
            area: area.clone(),
            user: if user_code && !number.is_empty() {
                Some(number)
            } else {
                user.clone()
            },
            code: head,
            cid_event: None,
            text,
        });
    }
    if signals.is_empty() {
        return Err(format!(
            "expected at least one SIA event code, found {data:?}"
        ));
    }
    Ok(signals)
}

/// Contact ID: `QEEE GG CCC` (qualifier, event, partition, zone or user).
fn contact_id_signal(data: &str) -> Result<Signal, String> {
    let compact: String = data.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.len() != 9 || !compact.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "expected Contact ID 'QEEE GG CCC' (qualifier, event, partition, zone), found {data:?}"
        ));
    }
    let qualifier = &compact[..1];
    let event = &compact[1..4];
    let partition = &compact[4..6];
    let number = &compact[6..9];
    let mut meaning = contact_id_meaning(event);
    let restore = qualifier == "3";
    if restore {
        meaning = meaning.restored();
    }
    Ok(Signal {
        code: format!("CID{qualifier}{event}"),
        user: meaning.numbers_a_user.then(|| number.to_string()),
        number: Some(number.to_string()),
        area: Some(partition.to_string()),
        restore,
        meaning,
        cid_event: Some(event.to_string()),
        text: None,
    })
}

/// What a code means for onesec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Meaning {
    /// Short name (`alarm.kind`): burglary, fire, duress, tamper, door_forced, ...
    kind: &'static str,
    class: EventClass,
    activity: Activity,
    severity: Severity,
    status: Status,
    /// A restore of the condition.
    restore: bool,
    /// The number field is a user, not a zone (openings, closings, access).
    numbers_a_user: bool,
}

impl Meaning {
    const fn new(
        kind: &'static str,
        class: EventClass,
        activity: Activity,
        severity: Severity,
    ) -> Self {
        Meaning {
            kind,
            class,
            activity,
            severity,
            status: Status::Unknown,
            restore: false,
            numbers_a_user: false,
        }
    }

    const fn user(mut self) -> Self {
        self.numbers_a_user = true;
        self
    }

    const fn status(mut self, status: Status) -> Self {
        self.status = status;
        self
    }

    /// The same condition, back to normal.
    fn restored(mut self) -> Self {
        self.restore = true;
        if matches!(
            self.activity,
            Activity::PortalForced | Activity::PortalHeldOpen
        ) {
            self.activity = Activity::PortalNormal;
            self.severity = Severity::Informational;
        } else if self.class == EventClass::AlarmSignal {
            self.activity = Activity::Cleared;
            self.severity = Severity::Informational;
        }
        self
    }
}

use Activity as A;
use EventClass as C;
use Severity as S;

const BURGLARY: Meaning = Meaning::new("burglary", C::AlarmSignal, A::Intrusion, S::High);
const PERIMETER: Meaning = Meaning::new("perimeter", C::AlarmSignal, A::Perimeter, S::High);
const FIRE: Meaning = Meaning::new("fire", C::AlarmSignal, A::Other, S::Critical);
const PANIC: Meaning = Meaning::new("panic", C::AlarmSignal, A::Panic, S::Critical);
const DURESS: Meaning = Meaning::new("duress", C::PhysicalAccess, A::Duress, S::Critical);
const HOLDUP: Meaning = Meaning::new("holdup", C::AlarmSignal, A::Panic, S::Critical);
const MEDICAL: Meaning = Meaning::new("medical", C::AlarmSignal, A::Other, S::High);
const TAMPER: Meaning = Meaning::new("tamper", C::AlarmSignal, A::Tamper, S::High);
const DOOR_FORCED: Meaning =
    Meaning::new("door_forced", C::PhysicalAccess, A::PortalForced, S::High);
const DOOR_HELD: Meaning = Meaning::new(
    "door_held_open",
    C::PhysicalAccess,
    A::PortalHeldOpen,
    S::Medium,
);
const ACCESS_GRANTED: Meaning = Meaning::new(
    "access_granted",
    C::PhysicalAccess,
    A::AccessGranted,
    S::Informational,
)
.user()
.status(Status::Success);
const ACCESS_DENIED: Meaning =
    Meaning::new("access_denied", C::PhysicalAccess, A::AccessDenied, S::Low)
        .user()
        .status(Status::Failure);
const DISARM: Meaning = Meaning::new("disarm", C::AlarmSignal, A::Other, S::Informational).user();
const ARM: Meaning = Meaning::new("arm", C::AlarmSignal, A::Other, S::Informational).user();
const TROUBLE: Meaning = Meaning::new("trouble", C::DeviceHealth, A::HardwareFailure, S::Medium);
const POWER: Meaning = Meaning::new(
    "power_trouble",
    C::DeviceHealth,
    A::HardwareFailure,
    S::Medium,
);
const COMMUNICATION: Meaning = Meaning::new(
    "communication_trouble",
    C::DeviceHealth,
    A::Connectivity,
    S::Medium,
);
const BYPASS: Meaning = Meaning::new("bypass", C::AlarmSignal, A::ConfigChanged, S::Low).user();
const TEST: Meaning = Meaning::new("test", C::DeviceHealth, A::Other, S::Informational);
const GAS: Meaning = Meaning::new("gas", C::AlarmSignal, A::Other, S::Critical);
const WATER: Meaning = Meaning::new("water", C::AlarmSignal, A::Other, S::High);
const UNKNOWN: Meaning = Meaning::new("other", C::AlarmSignal, A::Other, S::Medium);

/// SIA DC-03 two-letter codes (the common ones; others keep their code and kind `other`).
fn sia_meaning(code: &str) -> Meaning {
    let restored = |m: Meaning| m.restored();
    match code {
        "BA" | "BV" => BURGLARY,
        "BR" | "BH" => restored(BURGLARY),
        "BT" | "BJ" => TROUBLE,
        "BB" | "UB" | "FB" | "BU" => BYPASS,
        "PA" => PANIC,
        "PR" | "PH" => restored(PANIC),
        "HA" => HOLDUP,
        "HR" | "HH" => restored(HOLDUP),
        "DU" => DURESS,
        "FA" => FIRE,
        "FR" | "FH" => restored(FIRE),
        "FT" | "FJ" => TROUBLE,
        "MA" => MEDICAL,
        "MR" | "MH" => restored(MEDICAL),
        "TA" | "ES" => TAMPER,
        "TR" | "EJ" => restored(TAMPER),
        "DF" => DOOR_FORCED,
        "DN" => DOOR_HELD,
        "DR" => restored(DOOR_FORCED),
        "DG" => ACCESS_GRANTED,
        "DD" | "DK" => ACCESS_DENIED,
        "OP" | "OA" | "OR" | "OK" | "OG" => DISARM,
        "CL" | "CA" | "CS" | "CK" | "CG" | "NL" => ARM,
        "AT" | "YT" | "YM" | "XT" => POWER,
        "AR" | "YR" | "XR" => restored(POWER),
        "YC" | "YS" | "NT" | "YK" => COMMUNICATION,
        "RP" | "RX" | "TX" | "TS" | "TE" => TEST,
        "GA" => GAS,
        "GR" | "GH" => restored(GAS),
        "WA" => WATER,
        "WR" | "WH" => restored(WATER),
        "UA" => BURGLARY,
        "UR" => restored(BURGLARY),
        _ => UNKNOWN,
    }
}

/// Contact ID event codes (qualifier handled by the caller).
fn contact_id_meaning(event: &str) -> Meaning {
    match event {
        "100" | "101" | "102" => MEDICAL,
        "110" | "111" | "112" | "113" | "114" | "115" | "116" | "117" | "118" => FIRE,
        "120" | "122" | "123" => PANIC,
        "121" => DURESS,
        "129" => HOLDUP,
        "130" | "132" | "133" | "134" | "135" | "139" => BURGLARY,
        "131" | "136" => PERIMETER,
        "137" | "144" | "145" | "383" | "341" => TAMPER,
        "151" | "162" => GAS,
        "154" => WATER,
        "300" | "305" | "306" | "307" | "308" | "309" | "320" | "321" | "330" | "333" | "380"
        | "381" | "373" | "374" | "378" => TROUBLE,
        "301" | "302" | "311" | "337" | "338" | "342" => POWER,
        "350" | "351" | "352" | "353" | "354" | "355" | "356" => COMMUNICATION,
        "400" | "401" | "402" | "403" | "404" | "405" | "406" | "407" | "408" | "409" | "441"
        | "442" | "450" | "451" | "452" | "453" | "454" | "455" | "456" | "457" | "459" => {
            // Qualifier 1 is an opening (disarm), 3 a closing (arm): `restored` marks it.
            DISARM
        }
        "421" | "424" => ACCESS_DENIED,
        "422" | "425" => ACCESS_GRANTED,
        "423" => DOOR_FORCED,
        "426" => DOOR_HELD,
        "427" | "428" | "432" => TROUBLE,
        "570" | "571" | "572" | "573" | "574" | "575" | "576" | "577" => BYPASS,
        "601" | "602" | "603" | "604" | "606" | "607" | "608" | "609" | "611" | "612" | "613"
        | "614" | "615" | "616" => TEST,
        _ => UNKNOWN,
    }
}

fn to_event(message: &Message, signal: Signal, raw: &str, ctx: &DecodeContext) -> Event {
    let meaning = signal.meaning;
    let (kind, activity) = match (meaning.kind, signal.restore) {
        // A closing (qualifier 3) of an open/close code is an arm, not a restore.
        ("disarm", true) => ("arm", Activity::Other),
        (kind, true) if meaning.class == EventClass::AlarmSignal => (kind, Activity::Cleared),
        (kind, _) => (kind, meaning.activity),
    };
    let mut event = new_event(
        ctx,
        "sia-dc09",
        raw,
        message.time_ms,
        meaning.class,
        activity,
    );
    event.source.product = "sia".into();
    event.source.service = match message.protocol {
        Some(Protocol::ContactId) => "contact-id".into(),
        _ => "sia-dcs".into(),
    };
    event.severity = if signal.restore && kind != "arm" {
        Severity::Informational
    } else {
        meaning.severity
    };
    event.status = meaning.status;
    event.host = Some(message.header.account.clone());
    if meaning.numbers_a_user {
        // Qualified by the panel account, so that people.csv can list `sia:<account>:<user>`
        // among a person's accounts without clashing with other systems' user numbers.
        event.actor.user = signal
            .user
            .as_ref()
            .map(|user| format!("sia:{}:{user}", message.header.account));
    }
    let header = &message.header;
    let fields = &mut event.fields;
    fields.insert("alarm.kind", kind);
    fields.insert_display("alarm.restore", &signal.restore);
    fields.insert("sia.account", &header.account);
    fields.insert("sia.prefix", &header.prefix);
    fields.insert("sia.sequence", &header.sequence);
    fields.insert("sia.protocol", &header.token);
    fields.insert_display("sia.encrypted", &header.encrypted);
    fields.insert("sia.code", &signal.code);
    for (name, value) in [
        ("sia.receiver", header.receiver.clone()),
        (
            "sia.zone",
            signal.number.filter(|_| !meaning.numbers_a_user),
        ),
        ("sia.user", signal.user),
        ("sia.area", signal.area),
        ("contact_id.event", signal.cid_event),
        ("sia.text", signal.text),
    ] {
        if let Some(value) = value {
            fields.insert(name, &value);
        }
    }
    event.message = format!(
        "{} {}{} from panel account {}{}",
        header.token,
        kind.replace('_', " "),
        if signal.restore && kind != "arm" {
            " restored"
        } else {
            ""
        },
        header.account,
        event
            .fields
            .get("sia.zone")
            .map(|z| format!(" zone {z}"))
            .unwrap_or_default()
    );
    event
}

/// Frames of a body (a capture or a replayed file): each starts with LF and ends with CR; a
/// file with one frame per line (`\n`-separated, CR optional) reads the same.
pub(crate) fn decode(bytes: &[u8], ctx: &DecodeContext, out: &mut crate::Decoded) {
    // The text before the first LF is line 1; each frame starts a line.
    for (current, chunk) in (1usize..).zip(bytes.split(|&b| b == FRAME_START)) {
        let frame = chunk
            .strip_suffix(b"\r\n")
            .or_else(|| chunk.strip_suffix(b"\r"));
        let frame = frame.unwrap_or(chunk);
        if frame.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let raw = String::from_utf8_lossy(frame).into_owned();
        let result = parse_frame(frame, &|_| None)
            .map_err(|e| e.to_string())
            .and_then(|message| events(&message, &raw, ctx));
        match result {
            Ok(events) => out.events.extend(events),
            Err(reason) => out
                .errors
                .push(crate::DecodeError::new(current, reason, raw)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_keys(_: &str) -> Option<Vec<u8>> {
        None
    }

    fn ctx() -> DecodeContext {
        DecodeContext::new("sia", 1_700_000_000_000)
    }

    fn decode_one(body: &str) -> Vec<Event> {
        let message = parse_frame(&frame(body), &no_keys).unwrap();
        events(&message, body, &ctx()).unwrap()
    }

    #[test]
    fn crc_is_crc16_arc() {
        // The CRC-16/ARC check value.
        assert_eq!(crc16(b"123456789"), 0xBB3D);
    }

    #[test]
    fn sia_dcs_burglary_with_area_and_time_stamp() {
        let events = decode_one("\"SIA-DCS\"0002R1L0#1234[#1234|Nri1/BA15]_14:12:04,09-25-2026");
        assert_eq!(events.len(), 1);
        let e = &events[0];
        assert_eq!(e.class, EventClass::AlarmSignal);
        assert_eq!(e.activity, Activity::Intrusion);
        assert_eq!(&e.fields["alarm.kind"], "burglary");
        assert_eq!(&e.fields["sia.zone"], "15");
        assert_eq!(&e.fields["sia.area"], "1");
        assert_eq!(&e.fields["sia.receiver"], "R1");
        assert_eq!(e.host.as_deref(), Some("1234"));
        assert_eq!(e.time_rfc3339(), "2026-09-25T14:12:04.000Z");
    }

    #[test]
    fn sia_dcs_several_blocks_and_restores() {
        let events = decode_one("\"SIA-DCS\"0003L0#AB12[Nri2/TA4/BR3/id7/OP7]");
        let kinds: Vec<(&str, &str)> = events
            .iter()
            .map(|e| (&e.fields["alarm.kind"], &e.fields["alarm.restore"]))
            .collect();
        assert_eq!(
            kinds,
            [
                ("tamper", "false"),
                ("burglary", "true"),
                ("disarm", "false")
            ]
        );
        assert_eq!(events[1].activity, Activity::Cleared);
        assert_eq!(events[2].actor.user.as_deref(), Some("sia:AB12:7"));
        assert!(events.iter().all(|e| &e.fields["sia.area"] == "2"));
    }

    #[test]
    fn contact_id_alarm_restore_duress_and_closing() {
        let alarm = decode_one("\"ADM-CID\"0010L0#1234[#1234|1130 01 015]");
        assert_eq!(alarm[0].activity, Activity::Intrusion);
        assert_eq!(&alarm[0].fields["sia.zone"], "015");
        assert_eq!(&alarm[0].fields["sia.area"], "01");
        assert_eq!(&alarm[0].fields["contact_id.event"], "130");
        let restore = decode_one("\"ADM-CID\"0011L0#1234[#1234|3130 01 015]");
        assert_eq!(restore[0].activity, Activity::Cleared);
        assert_eq!(restore[0].severity, Severity::Informational);
        let duress = decode_one("\"ADM-CID\"0012L0#1234[#1234|1121 01 003]");
        assert_eq!(duress[0].activity, Activity::Duress);
        assert_eq!(duress[0].severity, Severity::Critical);
        let closing = decode_one("\"ADM-CID\"0013L0#1234[#1234|3401 01 005]");
        assert_eq!(&closing[0].fields["alarm.kind"], "arm");
        assert_eq!(closing[0].actor.user.as_deref(), Some("sia:1234:005"));
        let forced = decode_one("\"ADM-CID\"0014L0#1234[#1234|1423 01 002]");
        assert_eq!(forced[0].activity, Activity::PortalForced);
        let fire = decode_one("\"ADM-CID\"0015L0#1234[#1234|1110 00 001]");
        assert_eq!(&fire[0].fields["alarm.kind"], "fire");
    }

    #[test]
    fn modifiers_glued_to_the_code_and_caret_text() {
        // Shape of a real panel's closing report (pysiaalarm issue #11).
        let events =
            decode_one("\"SIA-DCS\"7960L0#123456[#123456|Nri1CL0^VX FRONTE ^]_22:40:48,04-11-2021");
        assert_eq!(events.len(), 1);
        assert_eq!(&events[0].fields["sia.code"], "CL");
        assert_eq!(&events[0].fields["alarm.kind"], "arm");
        assert_eq!(&events[0].fields["sia.area"], "1");
        assert_eq!(&events[0].fields["sia.text"], "VX FRONTE");
    }

    #[test]
    fn encrypted_frames_of_another_implementation_decrypt() {
        // Frames encrypted by pycryptodome the way pysiaalarm's tests build them (zero
        // padding in front, key "AAAAAAAAAAAAAAAA" as ASCII bytes): an encrypted SIA-DCS
        // burglary and an encrypted link test, with their CRC and length.
        let key = b"AAAAAAAAAAAAAAAA".to_vec();
        let keys = |_: &str| Some(key.clone());
        let event = parse_frame(
            b"91A60075\"*SIA-DCS\"7654L0#AAA[C07DA1EB73C617857476EE5D79436CEEFBE482A063C51EA025B705EAD960A45211982D41A26CFBB293DFEDB60D089757",
            &keys,
        )
        .unwrap();
        assert_eq!(event.content, "[Nri1/BA015]_16:04:02,07-09-2020");
        let decoded = events(&event, "", &ctx()).unwrap();
        assert_eq!(&decoded[0].fields["sia.zone"], "015");
        assert_eq!(decoded[0].time_rfc3339(), "2020-07-09T16:04:02.000Z");
        let null = parse_frame(
            b"FCA50052\"*NULL\"7654L0#AAA[5A4F58EF2949D116CC2AF4200870E1B035B4CA00C590F5EFC1A9077B0E845C73",
            &keys,
        )
        .unwrap();
        assert_eq!(null.protocol, Some(Protocol::Null));
        assert_eq!(null.content, "[]_16:04:02,07-09-2020");
    }

    #[test]
    fn link_test_has_no_event_and_is_acknowledged() {
        let message = parse_frame(&frame("\"NULL\"0000R0L0#1234[]"), &no_keys).unwrap();
        assert_eq!(message.protocol, Some(Protocol::Null));
        assert!(events(&message, "", &ctx()).unwrap().is_empty());
        let ack = answer(Reply::Ack, &message.header, None, 0);
        let ack = parse_frame(&ack, &no_keys).unwrap();
        assert_eq!(ack.header.token, "ACK");
        assert_eq!(ack.header.sequence, "0000");
        assert_eq!(ack.header.account, "1234");
    }

    #[test]
    fn damaged_frames_are_refused_with_the_reason() {
        let mut bad_crc = frame("\"SIA-DCS\"0002L0#1234[NBA1]");
        bad_crc[1] = if bad_crc[1] == b'0' { b'1' } else { b'0' };
        assert!(matches!(
            parse_frame(&bad_crc, &no_keys),
            Err(FrameError::Crc { .. })
        ));
        let mut bad_length = frame("\"SIA-DCS\"0002L0#1234[NBA1]");
        bad_length.insert(20, b'x');
        assert!(matches!(
            parse_frame(&bad_length, &no_keys),
            Err(FrameError::Length { .. })
        ));
        for garbage in [
            &b""[..],
            b"\n\r",
            b"hello",
            b"\nZZZZ0010\"SIA-DCS\"\r",
            &[0xff; 40],
        ] {
            assert!(parse_frame(garbage, &no_keys).is_err());
        }
        let unknown = parse_frame(&frame("\"XYZ-ABC\"0002L0#1234[x]"), &no_keys).unwrap();
        assert_eq!(unknown.protocol, None);
        assert!(events(&unknown, "", &ctx()).is_err());
        let bad_content =
            parse_frame(&frame("\"ADM-CID\"0002L0#1234[#1234|99]"), &no_keys).unwrap();
        let error = events(&bad_content, "", &ctx()).unwrap_err();
        assert!(error.contains("Contact ID"), "{error}");
    }

    #[test]
    fn encrypted_frames_decrypt_and_are_acknowledged_encrypted() {
        let key = b"0123456789ABCDEF".to_vec();
        let content = encrypt_for_panel(&key, "[#1234|Nri1/BA15]_14:12:04,09-25-2026").unwrap();
        let body = format!("\"*SIA-DCS\"0005L0#1234{content}");
        let keys = |account: &str| (account == "1234").then(|| key.clone());
        let message = parse_frame(&frame(&body), &keys).unwrap();
        assert!(message.header.encrypted);
        assert_eq!(message.content, "[#1234|Nri1/BA15]_14:12:04,09-25-2026");
        assert!(message.time_ms.is_some());
        let no_key = parse_frame(&frame(&body), &no_keys).unwrap_err();
        assert!(matches!(no_key, FrameError::NoKey(_)));
        assert_eq!(
            no_key.duh_header().map(|h| h.sequence.as_str()),
            Some("0005")
        );
        let wrong = |_: &str| Some(b"FEDCBA9876543210".to_vec());
        assert!(matches!(
            parse_frame(&frame(&body), &wrong),
            Err(FrameError::Decrypt { .. })
        ));
        let ack = answer(Reply::Ack, &message.header, Some(&key), 1_790_000_000_000);
        let ack = parse_frame(&ack, &keys).unwrap();
        assert_eq!(ack.header.token, "ACK");
        assert!(ack.header.encrypted);
        assert!(ack.content.starts_with("[]"), "{}", ack.content);
        assert_eq!(ack.time_ms, Some(1_790_000_000_000));
    }

    #[test]
    fn nak_carries_the_receiver_time() {
        let message = parse_frame(&frame("\"SIA-DCS\"0042L0#1234[NBA1]"), &no_keys).unwrap();
        let nak = answer(Reply::Nak, &message.header, None, 1_790_000_000_000);
        assert_eq!(nak, frame("\"NAK\"0000R0L0A0[]_14:13:20,09-21-2026"));
        let duh = parse_frame(&answer(Reply::Duh, &message.header, None, 0), &no_keys).unwrap();
        assert_eq!(
            (duh.header.token.as_str(), duh.header.sequence.as_str()),
            ("DUH", "0042")
        );
    }

    #[test]
    fn a_file_of_frames_keeps_the_good_ones() {
        let mut body = frame("\"SIA-DCS\"0001L0#1234[NBA1]");
        body.extend_from_slice(b"\nnot a frame\r");
        body.extend(frame("\"ADM-CID\"0002L0#1234[#1234|1137 01 004]"));
        let mut out = crate::Decoded::default();
        decode(&body, &ctx(), &mut out);
        assert_eq!(out.events.len(), 2);
        assert_eq!(out.errors.len(), 1);
        assert_eq!(out.errors[0].line, 3);
        assert_eq!(out.events[1].activity, Activity::Tamper);
    }

    #[test]
    fn mutated_frames_never_panic() {
        // A deterministic stand-in for the fuzz target on stable Rust: flips, truncations,
        // insertions and deletions of good frames, plain and encrypted.
        let key = b"0123456789abcdef".to_vec();
        let keys = |_: &str| Some(key.clone());
        let encrypted = encrypt_for_panel(&key, "[#12|Nri1/BA15]_14:12:04,09-25-2026").unwrap();
        let seeds = [
            frame("\"SIA-DCS\"0002R1L0#1234[#1234|Nri1/BA15^X^/id3/OP3]_14:12:04,09-25-2026"),
            frame("\"ADM-CID\"0010L0#1234[#1234|1130 01 015][X12][Y34]"),
            frame("\"NULL\"0000R0L0#1234[]"),
            frame(&format!("\"*SIA-DCS\"0005L0#12{encrypted}")),
        ];
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut parsed = 0;
        for round in 0..20_000 {
            let mut bytes = seeds[round % seeds.len()].clone();
            for _ in 0..1 + next() % 3 {
                let at = (next() as usize) % bytes.len().max(1);
                match next() % 4 {
                    0 if !bytes.is_empty() => bytes[at] ^= 1 << (next() % 8),
                    1 => bytes.truncate(at),
                    2 => bytes.insert(at.min(bytes.len()), next() as u8),
                    _ if !bytes.is_empty() => {
                        bytes.remove(at);
                    }
                    _ => {}
                }
            }
            if let Ok(message) = parse_frame(&bytes, &keys) {
                parsed += 1;
                let _ = events(&message, "", &ctx());
                let _ = answer(Reply::Ack, &message.header, Some(&key), 0);
            }
        }
        // Most mutations break the CRC; the few that parse are the ones the CRC cannot see
        // (the LF and CR around it) — if none parsed, the seeds themselves were wrong.
        assert!(parsed > 0);
    }
}
