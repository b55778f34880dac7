//! Small text scanners shared by the decoders (no regular expressions on the hot path).

use onesec_event::Endpoint;
use std::net::IpAddr;

/// `n` in decimal, written at the end of `buf` (20 digits hold any `u64`); what `Display`
/// writes for it.
pub(crate) fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    std::str::from_utf8(&buf[at..]).unwrap_or_default()
}

/// `a == b` for names (attribute names, JSON keys), compared inline: names are a few bytes
/// long, and a `memcmp` call per comparison (dozens per record when a decoder matches keys
/// against the names it wants) costs more than the bytes.
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// Byte offset of the first `needle` in `text` (`str::find` with a `&str` pattern). Why not
/// `str::find`: it sets up a two-way searcher per call, which for the short texts decoders
/// search (a topic, a record's class words, a log line) costs more than the search; here one
/// byte of the needle is found with `memchr` and the rest compared there. That byte is the
/// first that is not a space, so ` from ` looks for `f` rather than every space.
pub(crate) fn find_str(text: &str, needle: &str) -> Option<usize> {
    let (text, needle) = (text.as_bytes(), needle.as_bytes());
    let Some((anchor, byte)) = needle_anchor(needle) else {
        return Some(0);
    };
    let mut from = anchor;
    while let Some(found) = text.get(from..).and_then(|t| memchr::memchr(byte, t)) {
        let at = from + found - anchor;
        if matches_at(text, at, needle) {
            return Some(at);
        }
        from += found + 1;
    }
    None
}

/// `str::trim`, answered without its `char` walk when the text starts and ends with a
/// printable ASCII byte (white space is either ASCII up to the space or starts with a byte
/// of 0x80 or more), as almost every value does.
pub(crate) fn trim(text: &str) -> &str {
    match text.as_bytes() {
        [first, .., last] if is_printable_ascii(*first) && is_printable_ascii(*last) => text,
        [only] if is_printable_ascii(*only) => text,
        _ => text.trim(),
    }
}

fn is_printable_ascii(b: u8) -> bool {
    (0x21..0x7f).contains(&b)
}

/// Byte offset of the last `needle` in `text` (`str::rfind` with a `&str` pattern), found as
/// [`find_str`] finds the first.
pub(crate) fn rfind_str(text: &str, needle: &str) -> Option<usize> {
    let (text, needle) = (text.as_bytes(), needle.as_bytes());
    let Some((anchor, byte)) = needle_anchor(needle) else {
        return Some(text.len());
    };
    // Candidates for the anchor byte lie where the whole needle still fits.
    let mut end = (text.len() + 1).checked_sub(needle.len() - anchor)?;
    while let Some(found) = text.get(..end).and_then(|t| memchr::memrchr(byte, t)) {
        if let Some(at) = found.checked_sub(anchor)
            && matches_at(text, at, needle)
        {
            return Some(at);
        }
        end = found;
    }
    None
}

/// The index and value of the needle's first byte that is not a space (its first byte when
/// all are); `None` for an empty needle.
fn needle_anchor(needle: &[u8]) -> Option<(usize, u8)> {
    let anchor = needle.iter().position(|&b| b != b' ').unwrap_or(0);
    Some((anchor, *needle.get(anchor)?))
}

/// Whether `text` holds `needle` at `at`, compared inline (no `memcmp` call for a few bytes).
fn matches_at(text: &[u8], at: usize, needle: &[u8]) -> bool {
    text.get(at..at + needle.len())
        .is_some_and(|there| there.iter().zip(needle).all(|(a, b)| a == b))
}

/// The part of `text` after its last `separator` (all of it when there is none): what
/// `text.rsplit(separator).next()` gives, without the split iterator.
pub(crate) fn after_last(text: &str, separator: u8) -> &str {
    match memchr::memrchr(separator, text.as_bytes()) {
        // `separator` is ASCII, so the byte after it starts a `char`.
        Some(at) => text.get(at + 1..).unwrap_or_default(),
        None => text,
    }
}

/// Parses an address token, tolerating brackets, a trailing `:`/`,`/`.` and IPv4-mapped IPv6
/// (`::ffff:10.0.0.1` becomes `10.0.0.1`).
pub(crate) fn ip(token: &str) -> Option<IpAddr> {
    let wrapper = |b: &u8| matches!(b, b'[' | b']' | b'(' | b')' | b',' | b';' | b'\'' | b'"');
    // Most tokens are bare: no `char` walk for them (the wrappers are ASCII, so a token whose
    // first and last bytes are none is left as it is).
    let bytes = token.as_bytes();
    let token = if bytes.first().is_some_and(wrapper) || bytes.last().is_some_and(wrapper) {
        token.trim_matches(|c| matches!(c, '[' | ']' | '(' | ')' | ',' | ';' | '\'' | '"'))
    } else {
        token
    };
    let parsed = token.parse::<IpAddr>().ok().or_else(|| {
        let trimmed = token.trim_end_matches([':', '.', ',']);
        if trimmed.len() == token.len() {
            None
        } else {
            trimmed.parse::<IpAddr>().ok()
        }
    })?;
    Some(parsed.to_canonical())
}

/// The decimal digits at the start of `text` as a port (`52144:11:` gives 52144).
pub(crate) fn leading_port(text: &str) -> Option<u16> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text[..end].parse().ok()
}

/// The first IP address among the whitespace-separated tokens of `text`, with the port that
/// follows it as `port N`.
pub(crate) fn find_ip_port(text: &str) -> Option<(IpAddr, Option<u16>)> {
    let mut tokens = text.split_ascii_whitespace();
    while let Some(token) = tokens.next() {
        if !token.bytes().any(|b| b == b'.' || b == b':') {
            continue;
        }
        if let Some(addr) = ip(token) {
            let port = match tokens.next() {
                Some("port") => tokens.next().and_then(leading_port),
                _ => None,
            };
            return Some((addr, port));
        }
    }
    None
}

/// Sets `endpoint.ip` when `host` is an address, `endpoint.hostname` otherwise (empty skipped).
pub(crate) fn set_host_or_ip(endpoint: &mut Endpoint, host: &str) {
    let host = trim(host);
    if host.is_empty() || host == "-" || host == "(null)" {
        return;
    }
    match ip(host) {
        Some(addr) => endpoint.ip = Some(addr),
        None => endpoint.hostname = Some(host.to_string()),
    }
}

/// The value of `key=` among the space- or `;`-separated `key=value` tokens of `text`
/// (`None` when absent or empty).
pub(crate) fn kv<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.split([' ', ';', ','])
        .filter_map(|token| token.strip_prefix(key)?.strip_prefix('='))
        .find(|value| !value.is_empty())
}

/// The non-empty `key=value` pairs among the space- or `;`-separated tokens of `text`.
pub(crate) fn kv_pairs(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.split([' ', ';', ','])
        .filter_map(|token| token.split_once('='))
        .filter(|(_, value)| !value.is_empty())
}

/// The word (up to whitespace) following `marker` in `text`.
pub(crate) fn word_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let start = text.find(marker)? + marker.len();
    text[start..].split_ascii_whitespace().next()
}

/// `text` without surrounding quotes.
pub(crate) fn unquote(text: &str) -> &str {
    text.trim()
        .trim_matches(|c| c == '\'' || c == '"' || c == '`')
}

/// At most `max` characters of `text` (on a char boundary), for error messages.
pub(crate) fn preview(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// Some(text) unless it is empty or a placeholder (`-`, `(null)`).
pub(crate) fn non_empty(text: &str) -> Option<&str> {
    let text = trim(text);
    if text.is_empty() || text == "-" || text == "(null)" {
        None
    } else {
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_tokens_wrapped_or_bare() {
        let slow = |token: &str| {
            let token =
                token.trim_matches(|c| matches!(c, '[' | ']' | '(' | ')' | ',' | ';' | '\'' | '"'));
            token.parse::<IpAddr>().ok().or_else(|| {
                let trimmed = token.trim_end_matches([':', '.', ',']);
                (trimmed.len() != token.len())
                    .then(|| trimmed.parse::<IpAddr>().ok())
                    .flatten()
            })
        };
        for token in [
            "10.0.0.1",
            "[10.0.0.1]",
            "(10.0.0.1)",
            "10.0.0.1,",
            "10.0.0.1:",
            "'::1'",
            "\"fe80::1\"",
            "[::ffff:10.0.0.1]",
            "[",
            "",
            "é10.0.0.1",
            "10.0.0.1é",
            "host",
            "[2001:db8::1]:",
            ";1.2.3.4;",
        ] {
            assert_eq!(
                ip(token),
                slow(token).map(|a| a.to_canonical()),
                "{token:?}"
            );
        }
    }

    #[test]
    fn trim_is_str_trim() {
        for text in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\ta\n",
            "ab",
            "a b",
            "\u{a0}x\u{a0}",
            "x\u{2003}",
            "\u{85}x",
            "\u{3000}",
            "é",
            "\u{7f}",
            "-",
            "a\r",
        ] {
            assert_eq!(trim(text), text.trim(), "{text:?}");
        }
    }

    #[test]
    fn find_str_and_after_last_agree_with_str() {
        let texts = [
            "",
            "a",
            "acme/ctl/onvif-ej/Door/&X",
            "/&",
            "tns1:tns1:",
            "ééé/&é",
            "//",
            "password for invalid user admin from 10.0.0.1 from  from port 22 ssh2",
            " from",
            "from ",
            " from ",
            "   ",
        ];
        let needles = [
            "",
            "/&",
            "/onvif-ej/",
            "tns1:",
            "é",
            "a",
            " from ",
            " for ",
            " ",
            "  ",
            "ssh2: ",
            " from",
        ];
        for text in texts {
            for needle in needles {
                assert_eq!(
                    find_str(text, needle),
                    text.find(needle),
                    "{text:?} {needle:?}"
                );
                assert_eq!(
                    rfind_str(text, needle),
                    text.rfind(needle),
                    "{text:?} {needle:?}"
                );
            }
            for sep in [b'/', b':'] {
                let expected = text.rsplit(char::from(sep)).next().unwrap_or(text);
                assert_eq!(after_last(text, sep), expected, "{text:?}");
            }
        }
    }

    #[test]
    fn addresses_and_ports() {
        assert_eq!(ip("[10.0.0.1]"), "10.0.0.1".parse().ok());
        assert_eq!(ip("::ffff:10.0.0.1"), "10.0.0.1".parse().ok());
        assert_eq!(ip("1.2.3.4:"), "1.2.3.4".parse().ok());
        assert_eq!(ip("2001:db8::1"), "2001:db8::1".parse().ok());
        assert_eq!(ip("LabSZ"), None);
        assert_eq!(
            find_ip_port("Received disconnect from 1.2.3.4 port 52144:11: bye"),
            Some(("1.2.3.4".parse().unwrap(), Some(52144)))
        );
        assert_eq!(
            find_ip_port("Connection closed by 5.6.7.8 [preauth]"),
            Some(("5.6.7.8".parse().unwrap(), None))
        );
    }

    #[test]
    fn key_values() {
        let text =
            "authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root";
        assert_eq!(kv(text, "rhost"), Some("1.2.3.4"));
        assert_eq!(kv(text, "user"), Some("root"));
        assert_eq!(kv(text, "ruser"), None);
        assert_eq!(kv(text, "logname"), None);
    }

    #[test]
    fn preview_cuts_on_char_boundaries() {
        assert_eq!(preview("héllo", 2), "hé...");
        assert_eq!(preview("hi", 5), "hi");
    }
}
