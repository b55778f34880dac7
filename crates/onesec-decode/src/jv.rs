//! The JSON document the decoders read: sonic-rs's DOM.
//!
//! Why not `serde_json::Value`: the workspace's `serde_json` has `preserve_order` (the `evtx`
//! crate turns it on), so each object is an `IndexMap` with SipHash, and building that tree was
//! the largest part of decoding a JSON record (Winlogbeat and onvif-ej lines: 50–60 thousand
//! records/s against 300–400 thousand with sonic-rs on the same machine; `docs/benchmarks.md`
//! "Decoders"). sonic-rs keeps keys in order too, in a flat arena per document.
//!
//! sonic-rs builds its DOM recursively without a depth limit and with large stack frames (in
//! a debug build 96 levels overflow a 2 MiB thread stack; a release build takes thousands), so
//! [`parse`] refuses anything nested deeper than [`MAX_DEPTH`] (serde_json's recursion limit)
//! and parses documents deeper than [`FAST_DEPTH`] — no real event we have seen — on a thread
//! with a large stack.
//!
//! Objects that sonic-rs *parses* keep their keys in document order; objects built with
//! `Object::insert` do not (they are hashed), so a decoder that builds a document (the ONVIF
//! XML one) writes it as text and parses that.

use sonic_rs::ValueRef;
pub(crate) use sonic_rs::{JsonContainerTrait, JsonNumberTrait, JsonValueTrait, Object, Value};

/// Deepest nesting of arrays and objects accepted (serde_json's recursion limit).
pub(crate) const MAX_DEPTH: usize = 128;

/// Deepest nesting handed to sonic-rs's own parser.
const FAST_DEPTH: usize = 32;

/// A value seen as what it holds, for `match`.
pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
    Number(sonic_rs::Number),
    Str(&'a str),
    Array(&'a [Value]),
    Object(&'a Object),
}

/// What `value` holds. One look at the node's kind (`as_ref`) instead of asking `as_str`,
/// `as_object`, `as_array`, ... in turn, each of which decodes the node again (the walk over a
/// document's values was a tenth of the generic JSON decoder).
pub(crate) fn view(value: &Value) -> Json<'_> {
    match value.as_ref() {
        ValueRef::String(text) => Json::Str(text),
        ValueRef::Object(object) => Json::Object(object),
        ValueRef::Array(items) => Json::Array(items),
        ValueRef::Number(number) => Json::Number(number),
        ValueRef::Bool(flag) => Json::Bool(flag),
        ValueRef::Null => Json::Null,
    }
}

/// Parses one JSON document (the whole of `bytes`, blanks around it allowed).
pub(crate) fn parse(bytes: &[u8]) -> Result<Value, String> {
    if !nesting_exceeds(bytes, FAST_DEPTH) {
        return sonic_rs::from_slice::<Value>(bytes).map_err(|e| e.to_string());
    }
    if nesting_exceeds(bytes, MAX_DEPTH) {
        return Err(format!(
            "nested more than {MAX_DEPTH} levels deep (arrays and objects; the recursion limit)"
        ));
    }
    parse_on_a_large_stack(bytes)
}

/// Stack for parsing a document nested between [`FAST_DEPTH`] and [`MAX_DEPTH`] levels.
const DEEP_STACK_BYTES: usize = 16 << 20;

/// A deeply nested document is parsed on a thread of its own with a stack that holds
/// [`MAX_DEPTH`] levels even in a debug build (such documents are rare: hostile or odd input).
fn parse_on_a_large_stack(bytes: &[u8]) -> Result<Value, String> {
    std::thread::scope(|scope| {
        let parser = std::thread::Builder::new()
            .name("deep-json".into())
            .stack_size(DEEP_STACK_BYTES)
            .spawn_scoped(scope, || sonic_rs::from_slice::<Value>(bytes))
            .map_err(|e| format!("cannot start a thread to parse a deeply nested document: {e}"))?;
        match parser.join() {
            Ok(parsed) => parsed.map_err(|e| e.to_string()),
            Err(_) => Err("the JSON parser failed on a deeply nested document".into()),
        }
    })
}

/// Parses a JSON document held in a string (an onvif-ej payload sent as a string, say).
pub(crate) fn parse_str(text: &str) -> Result<Value, String> {
    parse(text.as_bytes())
}

/// Whether the arrays and objects of `bytes` nest deeper than `limit` (brackets inside strings
/// do not count). Most documents have fewer brackets in all than the limit, which one
/// vectorised count shows without following strings.
pub(crate) fn nesting_exceeds(bytes: &[u8], limit: usize) -> bool {
    let openers = memchr::memchr2_iter(b'[', b'{', bytes).count();
    if openers <= limit {
        return false;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// The values of `names` in the object `value`, in one pass over its keys: `[i]` is what
/// `value.get(names[i])` gives (the first pair with that key; `None` when absent or when
/// `value` is not an object). Why: a decoder that tries a dozen names with `get` scans the
/// object a dozen times (`get_key_value` was 14–21 % of the Windows and onvif-ej decoders,
/// `docs/benchmarks.md`, "Decoders, session 9").
pub(crate) fn pick<'v, const N: usize>(
    value: &'v Value,
    names: [&str; N],
) -> [Option<&'v Value>; N] {
    let mut found = [None; N];
    let Some(object) = value.as_object() else {
        return found;
    };
    let mut missing = N;
    for (key, inner) in object.iter() {
        for (slot, name) in found.iter_mut().zip(names) {
            if slot.is_none() && name == key {
                *slot = Some(inner);
                missing -= 1;
            }
        }
        if missing == 0 {
            break;
        }
    }
    found
}

/// The value at `path` (object keys, one per level) below `value`.
pub(crate) fn at<'v>(value: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(value, |v, key| v.get(*key))
}

/// The value a JSON Pointer (RFC 6901: `/a/0/b`, `~1` for `/`, `~0` for `~`) names below
/// `value`, as `serde_json::Value::pointer` finds it.
pub(crate) fn pointer<'v>(value: &'v Value, pointer: &str) -> Option<&'v Value> {
    if pointer.is_empty() {
        return Some(value);
    }
    let tokens = pointer.strip_prefix('/')?;
    tokens.split('/').try_fold(value, |v, token| {
        let token = token.replace("~1", "/").replace("~0", "~");
        match view(v) {
            Json::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => v.get(token.as_str()),
        }
    })
}

/// The JSON text of a value.
pub(crate) fn text_of(value: &Value) -> String {
    value.to_string()
}

/// `text` as a JSON string literal (quoted and escaped).
pub(crate) fn quote(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

/// A JSON string value holding `text`.
pub(crate) fn string(text: &str) -> Value {
    Value::from(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_every_kind() {
        let v = parse(
            br#"{"s":"x","n":1.5,"i":-3,"b":true,"z":null,"a":[1],"o":{"k":"v"},"ea":[],"eo":{}}"#,
        )
        .unwrap();
        assert!(matches!(view(v.get("ea").unwrap()), Json::Array([])));
        assert!(matches!(view(v.get("eo").unwrap()), Json::Object(o) if o.is_empty()));
        assert!(matches!(view(v.get("s").unwrap()), Json::Str("x")));
        assert!(matches!(view(v.get("n").unwrap()), Json::Number(n) if n.as_f64() == Some(1.5)));
        assert!(matches!(view(v.get("i").unwrap()), Json::Number(n) if n.as_i64() == Some(-3)));
        assert!(matches!(view(v.get("b").unwrap()), Json::Bool(true)));
        assert!(matches!(view(v.get("z").unwrap()), Json::Null));
        assert!(matches!(view(v.get("a").unwrap()), Json::Array(items) if items.len() == 1));
        assert!(matches!(view(v.get("o").unwrap()), Json::Object(o) if o.len() == 1));
    }

    #[test]
    fn refuses_deep_nesting_without_overflowing_the_stack() {
        let deep = "[".repeat(200_000) + &"]".repeat(200_000);
        let err = parse(deep.as_bytes()).unwrap_err();
        assert!(err.contains("nested more than 128"), "{err}");
        let deeper = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(
            parse(deeper.as_bytes())
                .unwrap_err()
                .contains("nested more than 128")
        );
        // Both parsers give the same document on either side of the fast parser's depth.
        for depth in [FAST_DEPTH, FAST_DEPTH + 1, MAX_DEPTH - 1] {
            let text = "{\"a\":[".repeat(depth / 2) + "1" + &"]}".repeat(depth / 2);
            let value = parse(text.as_bytes()).unwrap();
            assert_eq!(value.to_string(), text.replace(' ', ""), "depth {depth}");
        }
        // Brackets inside strings are text, not nesting.
        let quoted = format!("{{\"k\": \"{}\"}}", "[".repeat(1000));
        assert!(parse(quoted.as_bytes()).is_ok());
        let escaped = format!("{{\"k\": \"\\\"{}\"}}", "{".repeat(1000));
        assert!(parse(escaped.as_bytes()).is_ok());
    }

    #[test]
    fn pick_finds_what_get_finds() {
        let doc = parse_str(r#"{"a": 1, "b": {"c": 2}, "a": 3, "": 4, "d": null}"#).unwrap();
        let names = ["a", "b", "x", "", "d", "a"];
        let picked = pick(&doc, names);
        for (name, found) in names.iter().zip(picked) {
            assert_eq!(
                found.map(Value::to_string),
                doc.get(*name).map(Value::to_string),
                "{name}"
            );
        }
        assert_eq!(
            picked[0].and_then(Value::as_u64),
            Some(1),
            "the first of duplicate keys"
        );
        assert_eq!(pick(&parse_str("[1]").unwrap(), ["a"]), [None]);
    }

    #[test]
    fn pointers_reach_keys_and_indices() {
        let v = parse(br#"{"a":{"b/c":[{"d":1}],"e~f":2}}"#).unwrap();
        assert_eq!(pointer(&v, "/a/b~1c/0/d").and_then(|v| v.as_u64()), Some(1));
        assert_eq!(pointer(&v, "/a/e~0f").and_then(|v| v.as_u64()), Some(2));
        assert!(pointer(&v, "/a/x").is_none());
        assert!(pointer(&v, "a").is_none());
        assert!(pointer(&v, "").is_some());
        assert_eq!(at(&v, &["a", "e~f"]).and_then(|v| v.as_u64()), Some(2));
    }

    #[test]
    fn reports_invalid_json() {
        assert!(parse(b"{\"a\": }").is_err());
        assert!(parse(b"{\"a\": 1} {\"b\": 2}").is_err());
        assert!(parse(b"{\"a\": \"\xff\"}").is_err());
    }
}
