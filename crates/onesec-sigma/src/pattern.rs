//! Sigma string values: wildcard/escape parsing, the value transformations of modifiers
//! (windash, base64, base64offset, wide/utf16) and the compiled string matchers.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::RuleError;

/// One piece of a Sigma string after escape processing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    /// Literal bytes (UTF-8 unless a utf16 transformation was applied).
    Lit(Vec<u8>),
    /// `*`: any run of characters, possibly empty.
    Star,
    /// `?`: exactly one character.
    One,
    /// A Windows command-line switch character (`-`, `/`, en dash, em dash, horizontal bar).
    Dash,
}

/// The switch characters `windash` allows in place of `-` or `/`.
pub(crate) const WINDASH: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// A Sigma string: literals and wildcards.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SigmaStr(pub(crate) Vec<Tok>);

impl SigmaStr {
    /// Parses a rule string: `*` and `?` are wildcards; `\*`, `\?` and `\\` are the literal
    /// characters; a backslash before anything else is a literal backslash.
    pub(crate) fn parse(s: &str) -> SigmaStr {
        let mut out = SigmaStr::default();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.peek() {
                    Some(&n @ ('*' | '?' | '\\')) => {
                        chars.next();
                        out.push_char(n);
                    }
                    _ => out.push_char('\\'),
                },
                '*' => out.0.push(Tok::Star),
                '?' => out.0.push(Tok::One),
                c => out.push_char(c),
            }
        }
        out
    }

    /// A string taken literally (no wildcards), e.g. a number rendered as text.
    pub(crate) fn literal(s: &str) -> SigmaStr {
        SigmaStr(vec![Tok::Lit(s.as_bytes().to_vec())])
    }

    fn push_char(&mut self, c: char) {
        let mut buf = [0u8; 4];
        self.push_bytes(c.encode_utf8(&mut buf).as_bytes());
    }

    fn push_bytes(&mut self, b: &[u8]) {
        if let Some(Tok::Lit(v)) = self.0.last_mut() {
            v.extend_from_slice(b);
        } else {
            self.0.push(Tok::Lit(b.to_vec()));
        }
    }

    fn push(&mut self, t: Tok) {
        match t {
            Tok::Lit(b) => self.push_bytes(&b),
            Tok::Star => {
                if self.0.last() != Some(&Tok::Star) {
                    self.0.push(Tok::Star);
                }
            }
            other => self.0.push(other),
        }
    }

    /// Merges adjacent literals, drops empty ones and collapses runs of `*`.
    pub(crate) fn normalized(self) -> SigmaStr {
        let mut out = SigmaStr::default();
        for t in self.0 {
            if let Tok::Lit(b) = &t
                && b.is_empty()
            {
                continue;
            }
            out.push(t);
        }
        out
    }

    /// The literal bytes when the string holds no wildcard.
    fn plain_bytes(&self, modifier: &str) -> Result<Vec<u8>, RuleError> {
        let mut out = Vec::new();
        for t in &self.0 {
            match t {
                Tok::Lit(b) => out.extend_from_slice(b),
                _ => {
                    return Err(RuleError::Modifier(format!(
                        "{modifier} cannot be applied to a value with wildcards"
                    )));
                }
            }
        }
        Ok(out)
    }

    /// `contains`/`startswith`/`endswith`: wraps the value in `*`.
    pub(crate) fn wrap(mut self, before: bool, after: bool) -> SigmaStr {
        if before {
            self.0.insert(0, Tok::Star);
        }
        if after {
            self.0.push(Tok::Star);
        }
        self.normalized()
    }

    /// `wide` / `utf16le` / `utf16be` / `utf16`: re-encodes the literal parts.
    pub(crate) fn utf16(&self, big_endian: bool, bom: bool) -> Result<SigmaStr, RuleError> {
        let mut out = SigmaStr::default();
        if bom {
            out.push_bytes(if big_endian {
                &[0xfe, 0xff]
            } else {
                &[0xff, 0xfe]
            });
        }
        for t in &self.0 {
            match t {
                Tok::Lit(b) => {
                    let s = std::str::from_utf8(b).map_err(|_| {
                        RuleError::Modifier("utf16 applied twice or to non-text".into())
                    })?;
                    let mut bytes = Vec::with_capacity(b.len() * 2);
                    for u in s.encode_utf16() {
                        if big_endian {
                            bytes.extend_from_slice(&u.to_be_bytes());
                        } else {
                            bytes.extend_from_slice(&u.to_le_bytes());
                        }
                    }
                    out.push_bytes(&bytes);
                }
                other => out.push(other.clone()),
            }
        }
        Ok(out)
    }

    /// `base64`: the base64 encoding of the value.
    pub(crate) fn base64(&self) -> Result<SigmaStr, RuleError> {
        let raw = self.plain_bytes("base64")?;
        Ok(SigmaStr::literal(&STANDARD.encode(raw)))
    }

    /// `base64offset`: the three encodings of the value at byte offsets 0, 1 and 2 of a
    /// longer base64 text, with the unstable leading/trailing characters cut off.
    pub(crate) fn base64offset(&self) -> Result<Vec<SigmaStr>, RuleError> {
        let raw = self.plain_bytes("base64offset")?;
        const START: [usize; 3] = [0, 2, 3];
        const END_CUT: [usize; 3] = [0, 3, 2];
        let mut out = Vec::with_capacity(3);
        for i in 0..3 {
            let mut data = vec![b' '; i];
            data.extend_from_slice(&raw);
            let enc = STANDARD.encode(&data);
            let cut = END_CUT[(raw.len() + i) % 3];
            let end = enc.len().saturating_sub(cut);
            let start = START[i].min(end);
            out.push(SigmaStr::literal(&enc[start..end]));
        }
        Ok(out)
    }

    /// `windash`: every `-` or `/` that starts a word (preceded by a non-word character or the
    /// start, followed by a word character) may be any of [`WINDASH`]. Up to three such
    /// positions are expanded into alternatives; beyond that they become [`Tok::Dash`].
    pub(crate) fn windash(&self) -> Vec<SigmaStr> {
        // Positions: (token index, byte offset in the literal).
        let mut positions = Vec::new();
        let mut prev_word = false;
        for (ti, t) in self.0.iter().enumerate() {
            match t {
                Tok::Lit(b) => {
                    let Ok(s) = std::str::from_utf8(b) else {
                        prev_word = false;
                        continue;
                    };
                    let mut it = s.char_indices().peekable();
                    while let Some((off, c)) = it.next() {
                        let next_word = it.peek().is_some_and(|&(_, n)| is_word(n));
                        if (c == '-' || c == '/') && !prev_word && next_word {
                            positions.push((ti, off));
                        }
                        prev_word = is_word(c);
                    }
                }
                _ => prev_word = false,
            }
        }
        if positions.is_empty() {
            return vec![self.clone()];
        }
        if positions.len() > 3 {
            return vec![self.replace_dashes(&positions, None)];
        }
        let combos = WINDASH.len().pow(positions.len() as u32);
        (0..combos)
            .map(|mut n| {
                let mut choice = Vec::with_capacity(positions.len());
                for _ in 0..positions.len() {
                    choice.push(WINDASH[n % WINDASH.len()]);
                    n /= WINDASH.len();
                }
                self.replace_dashes(&positions, Some(&choice))
            })
            .collect()
    }

    fn replace_dashes(&self, positions: &[(usize, usize)], choice: Option<&[char]>) -> SigmaStr {
        let mut out = SigmaStr::default();
        let mut k = 0;
        for (ti, t) in self.0.iter().enumerate() {
            match t {
                Tok::Lit(b) => {
                    let mut last = 0;
                    while k < positions.len() && positions[k].0 == ti {
                        let off = positions[k].1;
                        out.push_bytes(&b[last..off]);
                        match choice {
                            Some(c) => out.push_char(c[k]),
                            None => out.push(Tok::Dash),
                        }
                        last = off + 1; // '-' and '/' are one byte
                        k += 1;
                    }
                    out.push_bytes(&b[last..]);
                }
                other => out.push(other.clone()),
            }
        }
        out.normalized()
    }

    /// The value as text (None when it has wildcards or is not UTF-8).
    #[cfg(test)]
    pub(crate) fn as_text(&self) -> Option<String> {
        let b = self.plain_bytes("").ok()?;
        String::from_utf8(b).ok()
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Case-folds a haystack for case-insensitive matching: ASCII text is used as is (matchers
/// compare ASCII-case-insensitively); other text is lowercased (one allocation).
pub(crate) fn fold(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

/// Lowercases a needle the way [`fold`] treats haystacks.
pub(crate) fn fold_needle(b: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_lowercase().into_bytes(),
        Err(_) => b.to_ascii_lowercase(),
    }
}

fn eq_bytes(a: &[u8], b: &[u8], ci: bool) -> bool {
    if ci {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

/// How common a byte is in log text (higher = more common), for picking the byte of a needle
/// whose occurrences are the fewest to check. Letters by English frequency, separators and
/// digits of paths and command lines as very common, everything else as rare.
fn commonness(b: u8) -> u8 {
    const LETTERS: &[u8; 26] = b"zqjxkvbpygfwmucldrhsnioate";
    match b.to_ascii_lowercase() {
        c @ b'a'..=b'z' => {
            let rank = LETTERS.iter().position(|&l| l == c).unwrap_or(0) as u8;
            100 + rank * 4
        }
        b' ' | b'\\' | b'.' | b'/' | b'-' | b':' | b'_' | b'"' | b'=' => 250,
        b'0'..=b'9' => 180,
        0x80.. => 40,
        _ => 60,
    }
}

/// One literal searched in a value: ASCII-case-insensitively (the needle folded, see [`fold`])
/// or exactly. Cheap to build: thousands of rule values each have one. Candidates are the
/// positions of the needle's least common byte (in either case when case-insensitive), each
/// then compared whole.
#[derive(Clone, Debug)]
pub(crate) struct Finder {
    needle: Box<[u8]>,
    /// Index of the least common byte of the needle (0 for an empty needle).
    anchor: usize,
    ci: bool,
}

impl Finder {
    /// A finder of `needle` (already folded when `ci`).
    pub(crate) fn new(needle: &[u8], ci: bool) -> Finder {
        let anchor = (0..needle.len())
            .min_by_key(|&i| commonness(needle[i]))
            .unwrap_or(0);
        Finder {
            needle: needle.into(),
            anchor,
            ci: ci && needle.iter().any(u8::is_ascii_alphabetic),
        }
    }

    /// (start, end) of the first occurrence in `h`.
    pub(crate) fn find(&self, h: &[u8]) -> Option<(usize, usize)> {
        let needle = &self.needle[..];
        let n = needle.len();
        if n == 0 {
            return Some((0, 0));
        }
        if h.len() < n {
            return None;
        }
        let a = self.anchor;
        let b = needle[a];
        // The anchor byte can only sit where a whole needle fits around it; a candidate at
        // index `p` of this window is a needle starting at `p` in `h`.
        let window = &h[a..h.len() - (n - 1 - a)];
        let at = |p: usize| {
            let hay = &h[p..p + n];
            let hit = if self.ci {
                hay.eq_ignore_ascii_case(needle)
            } else {
                hay == needle
            };
            hit.then_some((p, p + n))
        };
        if self.ci && b.is_ascii_alphabetic() {
            memchr::memchr2_iter(b, b.to_ascii_uppercase(), window).find_map(at)
        } else {
            memchr::memchr_iter(b, window).find_map(at)
        }
    }

    /// Whether `h` contains the needle.
    pub(crate) fn is_match(&self, h: &[u8]) -> bool {
        self.find(h).is_some()
    }
}

/// Any of several literals: a few are searched one by one (nothing to build), many through
/// one automaton.
#[derive(Clone, Debug)]
pub(crate) enum AnyOf {
    Few(Vec<Finder>),
    Many(AhoCorasick),
}

/// Up to this many literals are searched one by one.
const FEW_NEEDLES: usize = 8;

impl AnyOf {
    /// A searcher of `needles` (already folded when `ci`).
    pub(crate) fn new(needles: &[Vec<u8>], ci: bool) -> Result<AnyOf, RuleError> {
        if needles.len() <= FEW_NEEDLES {
            Ok(AnyOf::Few(
                needles.iter().map(|n| Finder::new(n, ci)).collect(),
            ))
        } else {
            searcher(needles, ci).map(AnyOf::Many)
        }
    }

    /// Whether `h` contains one of the literals.
    pub(crate) fn is_match(&self, h: &[u8]) -> bool {
        match self {
            AnyOf::Few(fs) => fs.iter().any(|f| f.is_match(h)),
            AnyOf::Many(ac) => ac.is_match(h),
        }
    }
}

/// Builds a multi-pattern substring searcher.
fn searcher(needles: &[Vec<u8>], ci: bool) -> Result<AhoCorasick, RuleError> {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(ci)
        .match_kind(MatchKind::LeftmostFirst)
        // A contiguous NFA builds much faster than a DFA (thousands of rules are compiled at
        // load) and searches nearly as fast; the prefilters do most of the work anyway.
        .kind(Some(AhoCorasickKind::ContiguousNFA))
        .build(needles)
        .map_err(|e| RuleError::Modifier(format!("cannot build substring searcher: {e}")))
}

/// How a compiled string pattern matches.
#[derive(Clone, Debug)]
enum Shape {
    /// Whole string equals.
    Exact(Vec<u8>),
    /// Starts with.
    Prefix(Vec<u8>),
    /// Ends with.
    Suffix(Vec<u8>),
    /// Contains.
    Contains(Finder),
    /// `*` alone: any value.
    Any,
    /// `first*mid*...*last` (only `*` wildcards).
    Glob {
        first: Vec<u8>,
        mids: Vec<Finder>,
        last: Vec<u8>,
        min_len: usize,
    },
    /// Anything with `?` or switch-character classes.
    Regex(regex::Regex),
}

/// A compiled string pattern (case-insensitive unless `cased`).
#[derive(Clone, Debug)]
pub(crate) struct StrMatcher {
    shape: Shape,
    /// Case-insensitive: needles are folded and the haystack must be passed through [`fold`].
    pub(crate) ci: bool,
    /// The longest literal part, folded: every matching value contains it (case-insensitively).
    pub(crate) needle: Option<Vec<u8>>,
}

/// What a simple pattern is, for grouping many `contains` needles into one automaton.
pub(crate) enum Simple {
    /// `*lit*` with the folded needle.
    Contains(Vec<u8>),
    /// Anything else.
    Other,
}

impl StrMatcher {
    /// Compiles a Sigma string.
    pub(crate) fn new(s: &SigmaStr, cased: bool) -> Result<StrMatcher, RuleError> {
        let ci = !cased;
        let s = s.clone().normalized();
        let lit = |b: &Vec<u8>| if ci { fold_needle(b) } else { b.clone() };
        let toks = &s.0;
        let needs_regex = toks.iter().any(|t| matches!(t, Tok::One | Tok::Dash));
        let shape = if needs_regex {
            Shape::Regex(to_regex(&s, ci)?)
        } else {
            match toks.as_slice() {
                [] => Shape::Exact(Vec::new()),
                [Tok::Lit(a)] => Shape::Exact(lit(a)),
                [Tok::Star] => Shape::Any,
                [Tok::Lit(a), Tok::Star] => Shape::Prefix(lit(a)),
                [Tok::Star, Tok::Lit(a)] => Shape::Suffix(lit(a)),
                [Tok::Star, Tok::Lit(a), Tok::Star] => Shape::Contains(Finder::new(&lit(a), ci)),
                _ => {
                    let mut first = Vec::new();
                    let mut last = Vec::new();
                    let mut parts: &[Tok] = toks;
                    if let [Tok::Lit(a), rest @ ..] = parts {
                        first = lit(a);
                        parts = rest;
                    }
                    if let [rest @ .., Tok::Lit(z)] = parts {
                        last = lit(z);
                        parts = rest;
                    }
                    let mut mids = Vec::new();
                    let mut min_len = first.len() + last.len();
                    for t in parts {
                        if let Tok::Lit(m) = t {
                            let m = lit(m);
                            min_len += m.len();
                            mids.push(Finder::new(&m, ci));
                        }
                    }
                    Shape::Glob {
                        first,
                        mids,
                        last,
                        min_len,
                    }
                }
            }
        };
        let needle = toks
            .iter()
            .filter_map(|t| match t {
                Tok::Lit(b) if !b.is_empty() => Some(b),
                _ => None,
            })
            .max_by_key(|b| b.len())
            .map(|b| fold_needle(b));
        Ok(StrMatcher { shape, ci, needle })
    }

    /// The folded needle when this is a plain `contains` (for multi-needle grouping).
    pub(crate) fn simple(s: &SigmaStr, cased: bool) -> Simple {
        let s = s.clone().normalized();
        match s.0.as_slice() {
            [Tok::Star, Tok::Lit(a), Tok::Star] => {
                Simple::Contains(if cased { a.clone() } else { fold_needle(a) })
            }
            _ => Simple::Other,
        }
    }

    /// Matches `hay`, which must already be folded when the matcher is case-insensitive.
    pub(crate) fn is_match(&self, hay: &str) -> bool {
        let h = hay.as_bytes();
        let ci = self.ci;
        match &self.shape {
            Shape::Exact(n) => h.len() == n.len() && eq_bytes(h, n, ci),
            Shape::Prefix(n) => h.len() >= n.len() && eq_bytes(&h[..n.len()], n, ci),
            Shape::Suffix(n) => h.len() >= n.len() && eq_bytes(&h[h.len() - n.len()..], n, ci),
            Shape::Contains(f) => f.is_match(h),
            Shape::Any => true,
            Shape::Glob {
                first,
                mids,
                last,
                min_len,
            } => {
                if h.len() < *min_len
                    || !eq_bytes(&h[..first.len()], first, ci)
                    || !eq_bytes(&h[h.len() - last.len()..], last, ci)
                {
                    return false;
                }
                let mut pos = first.len();
                let end = h.len() - last.len();
                for m in mids {
                    if pos > end {
                        return false;
                    }
                    match m.find(&h[pos..end]) {
                        Some((_, found_end)) => pos += found_end,
                        None => return false,
                    }
                }
                pos <= end
            }
            Shape::Regex(re) => re.is_match(hay),
        }
    }
}

/// How a case-insensitive literal pattern compares with a whole value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Affix {
    /// The whole value.
    Exact,
    /// The value starts with it.
    Prefix,
    /// The value ends with it.
    Suffix,
}

impl StrMatcher {
    /// The folded literal of a case-insensitive whole-value, `startswith` or `endswith`
    /// pattern (None for anything else).
    pub(crate) fn affix(&self) -> Option<(Affix, &[u8])> {
        if !self.ci {
            return None;
        }
        match &self.shape {
            Shape::Exact(n) => Some((Affix::Exact, n)),
            Shape::Prefix(n) => Some((Affix::Prefix, n)),
            Shape::Suffix(n) => Some((Affix::Suffix, n)),
            _ => None,
        }
    }
}

/// Hasher of [`AffixSet`]: keys are bytes of the rules' literals, fixed at load.
type FixedState = foldhash::fast::FixedState;

/// Literals of one kind ([`Affix`]) hashed by their first (whole value, prefix) or last
/// (suffix) `key` bytes, ASCII-lowercased; `key` is the length of the shortest, at most 8.
#[derive(Clone, Default)]
struct Keyed {
    key: usize,
    map: std::collections::HashMap<u64, Vec<Box<[u8]>>, FixedState>,
}

/// Up to 8 bytes, ASCII-lowercased, as one number.
fn key_of(b: &[u8]) -> u64 {
    b.iter()
        .fold(0u64, |k, &c| (k << 8) | u64::from(c.to_ascii_lowercase()))
}

/// Many case-insensitive whole-value, `startswith` and `endswith` literals of one detection
/// item (a list of hundreds of DLL names, say), tested at once: one hash lookup per kind
/// finds the few literals that share the value's first or last bytes, which are then
/// compared as [`StrMatcher`] would, instead of comparing every literal in turn. Same answer
/// as the OR of the matchers it replaces.
#[derive(Clone)]
pub(crate) struct AffixSet {
    kinds: [Keyed; 3],
}

impl AffixSet {
    /// A set of (kind, folded literal); literals must not be empty.
    pub(crate) fn new(items: &[(Affix, Vec<u8>)]) -> AffixSet {
        let mut kinds: [Keyed; 3] = Default::default();
        for (ki, kind) in [Affix::Exact, Affix::Prefix, Affix::Suffix]
            .into_iter()
            .enumerate()
        {
            let lits: Vec<&[u8]> = items
                .iter()
                .filter(|(k, n)| *k == kind && !n.is_empty())
                .map(|(_, n)| &n[..])
                .collect();
            let Some(key) = lits.iter().map(|n| n.len().min(8)).min() else {
                continue;
            };
            let keyed = &mut kinds[ki];
            keyed.key = key;
            for n in lits {
                let part = if kind == Affix::Suffix {
                    &n[n.len() - key..]
                } else {
                    &n[..key]
                };
                let list = keyed.map.entry(key_of(part)).or_default();
                if !list.iter().any(|x| **x == *n) {
                    list.push(n.into());
                }
            }
        }
        AffixSet { kinds }
    }

    /// The literals (for the engine's prefilter: a matching value contains one).
    pub(crate) fn literals(&self) -> impl Iterator<Item = &[u8]> {
        self.kinds
            .iter()
            .flat_map(|k| k.map.values().flatten().map(|n| &n[..]))
    }

    /// Whether `h` (folded, see [`fold`]) equals, starts with or ends with one of the
    /// literals, ASCII-case-insensitively.
    pub(crate) fn is_match(&self, h: &[u8]) -> bool {
        let kinds = [Affix::Exact, Affix::Prefix, Affix::Suffix];
        self.kinds.iter().zip(kinds).any(|(keyed, kind)| {
            let k = keyed.key;
            if keyed.map.is_empty() || h.len() < k {
                return false;
            }
            let part = if kind == Affix::Suffix {
                &h[h.len() - k..]
            } else {
                &h[..k]
            };
            let Some(list) = keyed.map.get(&key_of(part)) else {
                return false;
            };
            list.iter().any(|n| {
                let n = &n[..];
                match kind {
                    Affix::Exact => h.len() == n.len() && h.eq_ignore_ascii_case(n),
                    Affix::Prefix => h.len() >= n.len() && h[..n.len()].eq_ignore_ascii_case(n),
                    Affix::Suffix => {
                        h.len() >= n.len() && h[h.len() - n.len()..].eq_ignore_ascii_case(n)
                    }
                }
            })
        })
    }
}

impl std::fmt::Debug for AffixSet {
    /// The literals of each kind, sorted (the hash map's order must not reach the rule-set
    /// fingerprint, which hashes the compiled rules' `Debug` text).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("AffixSet");
        for (keyed, name) in self.kinds.iter().zip(["exact", "prefix", "suffix"]) {
            let mut lits: Vec<String> = keyed
                .map
                .values()
                .flatten()
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .collect();
            lits.sort_unstable();
            d.field(name, &lits);
        }
        d.finish()
    }
}

/// Translates a wildcard pattern into an anchored regular expression.
fn to_regex(s: &SigmaStr, ci: bool) -> Result<regex::Regex, RuleError> {
    let mut re = String::from(if ci { "(?si)^" } else { "(?s)^" });
    for t in &s.0 {
        match t {
            Tok::Lit(b) => {
                let text = String::from_utf8_lossy(b);
                re.push_str(&regex::escape(&text));
            }
            Tok::Star => re.push_str(".*"),
            Tok::One => re.push('.'),
            Tok::Dash => {
                re.push('[');
                for c in WINDASH {
                    re.push_str(&regex::escape(&c.to_string()));
                }
                re.push(']');
            }
        }
    }
    re.push('$');
    regex::RegexBuilder::new(&re)
        .size_limit(crate::value::REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| RuleError::Regex {
            pattern: re.clone(),
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An affix set answers like the OR of the matchers it stands for.
    #[test]
    fn affix_set_agrees_with_its_matchers() {
        let pats = [
            "*\\cmd.exe",
            "*\\aclui.dll",
            "*.DLL",
            "*x",
            "C:\\Windows\\*",
            "c:\\program files\\*",
            "System",
            "registry",
            "MemCompression",
            "ΟΣ*",
            "*straße",
        ];
        let matchers: Vec<StrMatcher> = pats
            .iter()
            .filter_map(|p| StrMatcher::new(&SigmaStr::parse(p), false).ok())
            .collect();
        let items: Vec<(Affix, Vec<u8>)> = matchers
            .iter()
            .filter_map(|m| m.affix().map(|(k, n)| (k, n.to_vec())))
            .collect();
        assert_eq!(items.len(), pats.len());
        let set = AffixSet::new(&items);
        let values = [
            "C:\\WINDOWS\\System32\\CMD.EXE",
            "c:\\windows",
            "C:\\Windows\\",
            "d:\\x\\ACLUI.dll",
            "aclui.dll",
            "SYSTEM",
            "systems",
            "Registry",
            "memcompression",
            "ax",
            "X",
            "",
            "οσ und so",
            "Die STRASSE",
            "die straße",
            "C:\\Program Files\\a",
        ];
        for v in values {
            let folded = fold(v);
            let want = matchers.iter().any(|m| m.is_match(&folded));
            assert_eq!(set.is_match(folded.as_bytes()), want, "{v}");
        }
    }

    fn m(pat: &str, hay: &str) -> bool {
        let s = SigmaStr::parse(pat);
        let Ok(matcher) = StrMatcher::new(&s, false) else {
            panic!("compile {pat}")
        };
        matcher.is_match(&fold(hay))
    }

    #[test]
    fn escapes() {
        assert_eq!(SigmaStr::parse(r"a\*b").0, vec![Tok::Lit(b"a*b".to_vec())]);
        assert_eq!(SigmaStr::parse(r"a\\b").0, vec![Tok::Lit(b"a\\b".to_vec())]);
        assert_eq!(
            SigmaStr::parse(r"C:\Windows\").0,
            vec![Tok::Lit(b"C:\\Windows\\".to_vec())]
        );
        assert_eq!(
            SigmaStr::parse(r"a\\*").0,
            vec![Tok::Lit(b"a\\".to_vec()), Tok::Star]
        );
        assert!(m(r"what\?", "WHAT?"));
        assert!(!m(r"what\?", "whatx"));
        assert!(m(r"star\*", "star*"));
        assert!(!m(r"star\*", "starry"));
        assert!(m(r"C:\\Windows\\*", r"c:\windows\system32"));
    }

    #[test]
    fn wildcards() {
        assert!(m("abc", "ABC"));
        assert!(!m("abc", "abcd"));
        assert!(m("ab*", "ABcdef"));
        assert!(m("*ef", "abcdEF"));
        assert!(m("*cd*", "abCDef"));
        assert!(m("a*c*e", "abcde"));
        assert!(m("a*c*e", "ace"));
        assert!(!m("a*c*e", "ae"));
        assert!(!m("ab*ba", "aba"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "abbc"));
        assert!(m("*", ""));
        assert!(m("", ""));
        assert!(!m("", "x"));
        assert!(m("ÄBC*", "äbcdef"));
        assert!(m("*straße*", "DIE STRAßE"));
    }

    /// The finders answer like an Aho-Corasick searcher over the same needles.
    #[test]
    fn finders_agree_with_aho_corasick() {
        let hays = [
            "",
            "a",
            "C:\\Windows\\System32\\CMD.EXE /c whoami",
            "xx-EncodedCommand yy",
            "ÄBC straße",
            "aaaaab",
            "PowerShell.exe -nop -w hidden",
            "..\\..\\",
        ];
        let needles = [
            "",
            "a",
            "ab",
            "b",
            "cmd.exe",
            "\\system32\\",
            "-enc",
            "straße",
            "äbc",
            "hidden",
            "..\\",
            "powershell",
            "aaab",
            "zzz",
            "/c ",
        ];
        for ci in [true, false] {
            for n in needles {
                let needle = if ci {
                    fold_needle(n.as_bytes())
                } else {
                    n.as_bytes().to_vec()
                };
                let f = Finder::new(&needle, ci);
                let Ok(ac) = searcher(std::slice::from_ref(&needle), ci) else {
                    panic!("automaton for {n}")
                };
                for h in hays {
                    let h = if ci { fold(h) } else { Cow::Borrowed(h) };
                    let want = ac.find(h.as_bytes()).map(|m| (m.start(), m.end()));
                    assert_eq!(f.find(h.as_bytes()), want, "{n:?} in {h:?} (ci {ci})");
                }
            }
            let many: Vec<Vec<u8>> = needles[1..]
                .iter()
                .map(|n| fold_needle(n.as_bytes()))
                .collect();
            for k in [2, many.len()] {
                let Ok(any) = AnyOf::new(&many[..k], ci) else {
                    panic!("any of {k}")
                };
                for h in hays {
                    let h = fold(h);
                    let want = many[..k]
                        .iter()
                        .any(|n| Finder::new(n, ci).is_match(h.as_bytes()));
                    assert_eq!(any.is_match(h.as_bytes()), want, "{h:?}");
                }
            }
        }
    }

    #[test]
    fn windash_expansion() {
        let s = SigmaStr::parse(" -enc ");
        let variants = s.windash();
        assert_eq!(variants.len(), 5);
        assert!(variants.contains(&SigmaStr::literal(" /enc ")));
        assert!(variants.contains(&SigmaStr::literal(" \u{2013}enc ")));
        // A dash inside a word is not a switch.
        assert_eq!(SigmaStr::parse("foo-bar").windash().len(), 1);
    }

    #[test]
    fn base64offset_matches_pysigma() {
        let s = SigmaStr::parse("/bin/bash");
        let v = s.base64offset().unwrap_or_default();
        let texts: Vec<String> = v.iter().filter_map(|x| x.as_text()).collect();
        assert_eq!(texts, vec!["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]);
        assert_eq!(
            SigmaStr::parse("abc")
                .base64()
                .ok()
                .and_then(|x| x.as_text()),
            Some("YWJj".to_string())
        );
    }

    #[test]
    fn wide() {
        let s = SigmaStr::parse("ab").utf16(false, false).ok();
        assert_eq!(s, Some(SigmaStr(vec![Tok::Lit(b"a\0b\0".to_vec())])));
        let s = SigmaStr::parse("a").utf16(false, true).ok();
        assert_eq!(s, Some(SigmaStr(vec![Tok::Lit(vec![0xff, 0xfe, b'a', 0])])));
    }
}
