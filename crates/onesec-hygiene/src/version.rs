//! Firmware versions as vendors write them, and version ranges.
//!
//! Real firmware strings are not semver: `V5.5.0 build 170725` (Hikvision), `10.12.114` (Axis),
//! `2.800.0000000.16.R` (Dahua), `4.30.7`, `2023 R2` (Milestone), `8.0 Update 3`. A
//! [`Version`] reads any of them as a list of parts:
//!
//! * the text is split at every character that is not a letter or digit, and where digits and
//!   letters meet (`5.5.0build170725` → `5 5 0 build 170725`);
//! * **noise words** are dropped: `v`, `version`, `ver`, `firmware`, `fw`, `build`,
//!   `release`, `rel`, `r`, `final`, `ga`, `stable`, `lts`, `update`, `sp`, `patch`, `hotfix`;
//!   so `V5.5.0 build 170725` is `5.5.0.170725` and `2023 R2` is `2023.2`;
//! * numbers compare as numbers of any length (`0000000` = `0`; `10` > `9`);
//! * **pre-release words** (`alpha`, `beta`, `rc`, `pre`, `preview`, `dev`, `snapshot`,
//!   `test`) sort below everything, including the end of the version
//!   (`2.0 rc1` < `2.0`);
//! * any other word sorts above the end of the version and below a number
//!   (`1.0.3a` > `1.0.3`, `1.0.3a` < `1.0.4`), words among themselves alphabetically;
//! * a missing part is the end of the version, which equals `0` (`5.5` = `5.5.0`).
//!
//! A [`Range`] is a list of constraints that must all hold (`>= 5.4.0, < 5.5.800`); an
//! advisory can give several ranges (any may hold).

use serde::Serialize;
use std::cmp::Ordering;
use std::fmt;

/// One part of a version.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// Digits without leading zeros (`"0"` for zero).
    Number(String),
    /// A pre-release word (sorts below the end).
    Pre(String),
    /// Any other word (sorts above the end, below numbers).
    Word(String),
}

const NOISE: &[&str] = &[
    "v", "version", "ver", "firmware", "fw", "build", "release", "rel", "r", "final", "ga",
    "stable", "lts", "update", "sp", "patch", "hotfix",
];

const PRE: &[&str] = &[
    "alpha", "beta", "rc", "pre", "preview", "dev", "snapshot", "test",
];

/// A parsed firmware version (see the module comment for the rules). Two versions are equal
/// when they compare equal (`5.5` = `5.5.0` = `V5.5.0`), whatever their text.
#[derive(Debug, Clone, Serialize)]
#[serde(into = "String")]
pub struct Version {
    text: String,
    #[serde(skip)]
    parts: Vec<Part>,
}

impl From<Version> for String {
    fn from(v: Version) -> String {
        v.text
    }
}

impl Version {
    /// Parses `text`; `None` when it holds no digit at all (`unknown`, `latest`, empty).
    pub fn parse(text: &str) -> Option<Version> {
        if !text.chars().any(|c| c.is_ascii_digit()) {
            return None;
        }
        let mut parts = Vec::new();
        let mut token = String::new();
        let flush = |token: &mut String, parts: &mut Vec<Part>| {
            if token.is_empty() {
                return;
            }
            let t = std::mem::take(token);
            if t.as_bytes()[0].is_ascii_digit() {
                let trimmed = t.trim_start_matches('0');
                parts.push(Part::Number(if trimmed.is_empty() {
                    "0".into()
                } else {
                    trimmed.into()
                }));
            } else {
                let word = t.to_lowercase();
                if NOISE.contains(&word.as_str()) {
                } else if PRE.contains(&word.as_str()) {
                    parts.push(Part::Pre(word));
                } else {
                    parts.push(Part::Word(word));
                }
            }
        };
        for c in text.chars() {
            if !c.is_alphanumeric() {
                flush(&mut token, &mut parts);
                continue;
            }
            let switch = token
                .chars()
                .last()
                .is_some_and(|last| last.is_ascii_digit() != c.is_ascii_digit());
            if switch {
                flush(&mut token, &mut parts);
            }
            token.push(c);
        }
        flush(&mut token, &mut parts);
        Some(Version {
            text: text.trim().to_string(),
            parts,
        })
    }

    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn rank(part: Option<&Part>) -> u8 {
    match part {
        Some(Part::Pre(_)) => 0,
        None => 1,
        Some(Part::Word(_)) => 2,
        Some(Part::Number(n)) if n == "0" => 1,
        Some(Part::Number(_)) => 3,
    }
}

fn compare_parts(a: Option<&Part>, b: Option<&Part>) -> Ordering {
    match (a, b) {
        (Some(Part::Number(x)), Some(Part::Number(y))) => {
            x.len().cmp(&y.len()).then_with(|| x.cmp(y))
        }
        (Some(Part::Word(x)), Some(Part::Word(y))) | (Some(Part::Pre(x)), Some(Part::Pre(y))) => {
            x.cmp(y)
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.parts.len().max(other.parts.len());
        for i in 0..n {
            let ord = compare_parts(self.parts.get(i), other.parts.get(i));
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A comparison operator of a range constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

/// Constraints that must all hold, e.g. `>= 5.4.0, < 5.5.800` (also `|`-free `vers:` bodies
/// such as `>=5.4.0|<5.5.800`, see [`Range::parse_vers`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    text: String,
    constraints: Vec<(Op, Version)>,
}

impl Range {
    /// Parses `>= 1.2, < 1.4` (comma or whitespace separated constraints; a bare version means
    /// `=`; `*` or `all` means every version).
    pub fn parse(text: &str) -> Result<Range, String> {
        let trimmed = text.trim();
        if trimmed == "*" || trimmed.eq_ignore_ascii_case("all") {
            return Ok(Range {
                text: trimmed.into(),
                constraints: Vec::new(),
            });
        }
        let mut constraints = Vec::new();
        for piece in trimmed.split([',', '&']) {
            let piece = piece.trim();
            if piece.is_empty() {
                continue;
            }
            constraints.push(constraint(piece)?);
        }
        if constraints.is_empty() {
            return Err(format!("empty version range `{text}`"));
        }
        Ok(Range {
            text: trimmed.into(),
            constraints,
        })
    }

    /// Parses the body of a `vers:` URI (CSAF `product_version_range`), e.g.
    /// `vers:generic/>=5.4.0|<5.5.800`: the `|`-separated constraints of one interval. A
    /// single `=` version or a list of `=` versions becomes several ranges.
    pub fn parse_vers(text: &str) -> Result<Vec<Range>, String> {
        let body = text
            .trim()
            .strip_prefix("vers:")
            .and_then(|rest| rest.split_once('/').map(|(_, b)| b))
            .ok_or_else(|| {
                format!("`{text}` is not a vers: range (vers:<scheme>/<constraints>)")
            })?;
        if body.trim() == "*" {
            return Ok(vec![Range::parse("*")?]);
        }
        let mut ranges = Vec::new();
        let mut open: Vec<(Op, Version)> = Vec::new();
        for piece in body.split('|') {
            let (op, version) = constraint(piece.trim())?;
            match op {
                Op::Eq => ranges.push(Range {
                    text: piece.trim().into(),
                    constraints: vec![(op, version)],
                }),
                Op::Gt | Op::Ge => {
                    open = vec![(op, version)];
                }
                Op::Lt | Op::Le => {
                    open.push((op, version));
                    ranges.push(Range {
                        text: body.to_string(),
                        constraints: std::mem::take(&mut open),
                    });
                }
            }
        }
        if !open.is_empty() {
            ranges.push(Range {
                text: body.to_string(),
                constraints: open,
            });
        }
        Ok(ranges)
    }

    /// A range `< fixed` (everything before the fixed version).
    pub fn before(fixed: &Version) -> Range {
        Range {
            text: format!("< {fixed}"),
            constraints: vec![(Op::Lt, fixed.clone())],
        }
    }

    /// Whether `version` lies in the range.
    pub fn contains(&self, version: &Version) -> bool {
        self.constraints.iter().all(|(op, bound)| {
            let ord = version.cmp(bound);
            match op {
                Op::Lt => ord == Ordering::Less,
                Op::Le => ord != Ordering::Greater,
                Op::Gt => ord == Ordering::Greater,
                Op::Ge => ord != Ordering::Less,
                Op::Eq => ord == Ordering::Equal,
            }
        })
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn constraint(piece: &str) -> Result<(Op, Version), String> {
    let (op, rest) = if let Some(r) = piece.strip_prefix(">=") {
        (Op::Ge, r)
    } else if let Some(r) = piece.strip_prefix("<=") {
        (Op::Le, r)
    } else if let Some(r) = piece.strip_prefix('>') {
        (Op::Gt, r)
    } else if let Some(r) = piece.strip_prefix('<') {
        (Op::Lt, r)
    } else if let Some(r) = piece.strip_prefix("==") {
        (Op::Eq, r)
    } else if let Some(r) = piece.strip_prefix('=') {
        (Op::Eq, r)
    } else {
        (Op::Eq, piece)
    };
    let version = Version::parse(rest.trim()).ok_or_else(|| {
        format!("`{piece}`: expected an operator (<, <=, >, >=, =) and a version with digits")
    })?;
    Ok((op, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap_or_else(|| panic!("{text} parses"))
    }

    #[test]
    fn real_firmware_strings_order() {
        let ordered = [
            "V5.4.5 build 170124",
            "V5.5.0",
            "V5.5.0 build 170725",
            "V5.5.0build180101",
            "5.5.800",
            "5.5.800 build 210628",
            "V5.7.3",
        ];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert!(v("9.80.1") < v("10.12.114"));
        assert!(v("4.30.7") < v("4.30.10"));
        assert_eq!(v("5.5"), v("5.5.0"));
        assert_eq!(v("2.800.0000000.16.R"), v("2.800.0.16"));
        assert!(v("2.800.0000000.16.R") < v("2.800.0000000.17.R"));
        assert!(v("2023 R2") < v("2023 R3"));
        assert!(v("2.0 rc1") < v("2.0"));
        assert!(v("1.0.3a") > v("1.0.3"));
        assert!(v("1.0.3a") < v("1.0.4"));
        assert!(v("8.0 Update 3") > v("8.0"));
        assert!(v("123456789012345678901234567890") > v("99"));
        assert!(Version::parse("unknown").is_none());
        assert!(Version::parse("").is_none());
    }

    #[test]
    fn ranges() {
        let r = Range::parse(">= 5.4.0, < 5.5.800").unwrap();
        assert!(r.contains(&v("V5.5.0 build 170725")));
        assert!(!r.contains(&v("V5.5.800")));
        assert!(!r.contains(&v("5.3.9")));
        assert!(Range::parse("*").unwrap().contains(&v("1")));
        assert!(Range::parse("= 1.29.1").unwrap().contains(&v("1.29.1")));
        assert!(Range::parse("1.29.1").unwrap().contains(&v("1.29.1")));
        assert!(Range::parse(">= nothing").is_err());
        assert!(Range::parse(" ").is_err());
        assert!(Range::before(&v("10.12.114")).contains(&v("9.80.1")));
    }

    #[test]
    fn vers_ranges() {
        let ranges = Range::parse_vers("vers:generic/>=5.4.0|<5.5.800|>=5.6.0|<5.6.2").unwrap();
        assert_eq!(ranges.len(), 2);
        let hit = |x: &str| ranges.iter().any(|r| r.contains(&v(x)));
        assert!(hit("5.5.0") && hit("5.6.1"));
        assert!(!hit("5.5.900") && !hit("5.6.2"));
        let eq = Range::parse_vers("vers:generic/1.0|1.1").unwrap();
        assert_eq!(eq.len(), 2);
        assert!(Range::parse_vers("5.0").is_err());
    }
}
