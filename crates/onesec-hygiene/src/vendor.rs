//! Vendor and product name normalisation (documented in `docs/hygiene.md`).
//!
//! The same maker is written many ways: `Hikvision`, `HIKVISION Digital Technology Co., Ltd.`,
//! `Hangzhou Hikvision`; `HID Mercury`, `Mercury Security`; `Samsung Techwin`, `Hanwha Vision`,
//! `Wisenet`. [`vendor_key`] turns any of them into one short key (`hikvision`, `mercury`,
//! `hanwha`) so that inventory rows, KEV entries, advisories and default-credential rows meet.
//!
//! Steps: lower case; every character that is not a letter or digit becomes a space;
//! parenthesised parts are dropped (`Axis (web)` → `axis`); the whole text is looked up in the
//! alias table; then again without corporate and generic words (`inc`, `ltd`, `co`, `corp`,
//! `technology`, `communications`, `systems`, `security`, `digital`, `global`, `vision`, ...);
//! then each word and each pair of adjacent words is looked up (`Hangzhou Hikvision` →
//! `hikvision`). A name that matches no alias keeps its cleaned form joined with `-`
//! (`Acme Cams Ltd` → `acme-cams`), so unknown vendors still match themselves.

/// Canonical key and the names (already cleaned: lower case, words separated by one space)
/// that mean it. Order matters only for readability.
const ALIASES: &[(&str, &[&str])] = &[
    (
        "hikvision",
        &[
            "hikvision",
            "hik vision",
            "hikvision digital",
            "hangzhou hikvision",
            "hik",
        ],
    ),
    (
        "dahua",
        &[
            "dahua",
            "zhejiang dahua",
            "dahua technology",
            "dahuasecurity",
        ],
    ),
    ("axis", &["axis", "axis communications", "axis ab"]),
    (
        "mercury",
        &[
            "mercury",
            "hid mercury",
            "mercury security",
            "mercury security products",
        ],
    ),
    (
        "hid",
        &[
            "hid",
            "hid global",
            "assa abloy hid",
            "hid signo",
            "hid iclass",
        ],
    ),
    (
        "lenels2",
        &[
            "lenel",
            "lenels2",
            "lenel s2",
            "s2",
            "s2 security",
            "onguard",
            "lenel onguard",
            "carrier lenels2",
            "utc lenel",
        ],
    ),
    (
        "hanwha",
        &[
            "hanwha",
            "hanwha vision",
            "hanwha techwin",
            "samsung techwin",
            "techwin",
            "wisenet",
            "samsung wisenet",
        ],
    ),
    (
        "milestone",
        &["milestone", "milestone xprotect", "xprotect"],
    ),
    ("genetec", &["genetec", "genetec security center"]),
    ("bosch", &["bosch", "bosch security", "robert bosch"]),
    ("honeywell", &["honeywell"]),
    (
        "avigilon",
        &[
            "avigilon",
            "motorola avigilon",
            "motorola solutions avigilon",
        ],
    ),
    ("pelco", &["pelco", "schneider pelco", "motorola pelco"]),
    ("vivotek", &["vivotek"]),
    ("mobotix", &["mobotix"]),
    ("uniview", &["uniview", "unv", "zhejiang uniview"]),
    ("geovision", &["geovision", "geo vision"]),
    ("nuuo", &["nuuo"]),
    ("reolink", &["reolink"]),
    ("zkteco", &["zkteco", "zk teco", "zkaccess", "zk"]),
    ("amcrest", &["amcrest"]),
    ("tvt", &["tvt", "shenzhen tvt", "tvt digital"]),
    ("ptzoptics", &["ptzoptics", "ptz optics"]),
    ("edimax", &["edimax"]),
    (
        "nice",
        &[
            "nice",
            "nice linear",
            "linear",
            "nortek",
            "nortek security control",
            "nice north america",
        ],
    ),
    ("gallagher", &["gallagher"]),
    ("paxton", &["paxton"]),
    ("suprema", &["suprema", "biostar"]),
    ("brivo", &["brivo"]),
    ("verkada", &["verkada"]),
    (
        "software-house",
        &["software house", "tyco software house", "c cure", "ccure"],
    ),
    ("johnson-controls", &["johnson controls", "jci", "tyco"]),
    ("siemens", &["siemens"]),
    ("cisco", &["cisco", "cisco systems"]),
    ("ubiquiti", &["ubiquiti", "ubnt", "unifi"]),
    ("foscam", &["foscam"]),
    ("arecont", &["arecont", "arecont vision"]),
    ("acti", &["acti"]),
    ("mercury-interactive", &["mercury interactive"]),
];

/// Words dropped before the second lookup.
const NOISE: &[&str] = &[
    "inc",
    "incorporated",
    "ltd",
    "limited",
    "co",
    "company",
    "corp",
    "corporation",
    "llc",
    "gmbh",
    "ag",
    "ab",
    "sa",
    "bv",
    "plc",
    "technology",
    "technologies",
    "tech",
    "communications",
    "systems",
    "system",
    "security",
    "digital",
    "global",
    "vision",
    "electronics",
    "international",
    "group",
    "products",
    "solutions",
    "the",
    "and",
];

/// Lower case, letters and digits only, parenthesised parts dropped, one space between words.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            c if c.is_alphanumeric() => out.extend(c.to_lowercase()),
            _ => out.push(' '),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn lookup(cleaned: &str) -> Option<&'static str> {
    ALIASES
        .iter()
        .find(|(_, names)| names.contains(&cleaned))
        .map(|(key, _)| *key)
}

/// The canonical vendor key of any spelling of a vendor name (see the module comment).
/// Empty for a name with no letters or digits.
pub fn vendor_key(name: &str) -> String {
    let cleaned = clean(name);
    if let Some(key) = lookup(&cleaned) {
        return key.to_string();
    }
    let words: Vec<&str> = cleaned
        .split(' ')
        .filter(|w| !w.is_empty() && !NOISE.contains(w))
        .collect();
    let stripped = words.join(" ");
    if let Some(key) = lookup(&stripped) {
        return key.to_string();
    }
    for pair in words.windows(2) {
        if let Some(key) = lookup(&pair.join(" ")) {
            return key.to_string();
        }
    }
    for word in &words {
        // single short words such as `s2`, `zk`, `hik` only count as the whole name
        if word.len() >= 4
            && let Some(key) = lookup(word)
        {
            return key.to_string();
        }
    }
    words.join("-")
}

/// Letters and digits of `text`, lower case, nothing else (`DS-2CD2043G0-I` → `ds2cd2043g0i`):
/// the form model names are compared in.
pub fn squash(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_spellings_meet() {
        for (name, key) in [
            ("Hikvision", "hikvision"),
            ("HIKVISION Digital Technology Co., Ltd.", "hikvision"),
            ("Hangzhou Hikvision", "hikvision"),
            ("hikvision (ssh)", "hikvision"),
            ("Dahua Technology", "dahua"),
            ("Zhejiang Dahua Technology Co.", "dahua"),
            ("Axis Communications AB", "axis"),
            ("Axis camera (web)", "axis"),
            ("HID Mercury", "mercury"),
            ("Mercury Security", "mercury"),
            ("MERCURY", "mercury"),
            ("HID Global", "hid"),
            ("LenelS2", "lenels2"),
            ("Lenel OnGuard (mssql)", "lenels2"),
            ("S2 Security", "lenels2"),
            ("Samsung Techwin (IP-cam)", "hanwha"),
            ("Hanwha Vision", "hanwha"),
            ("Milestone Systems", "milestone"),
            ("Genetec Inc.", "genetec"),
            ("Nice", "nice"),
            ("Linear", "nice"),
            ("GeoVision", "geovision"),
            ("ZKTeco", "zkteco"),
            ("Mercury Interactive", "mercury-interactive"),
        ] {
            assert_eq!(vendor_key(name), key, "{name}");
        }
    }

    #[test]
    fn unknown_vendors_match_themselves() {
        assert_eq!(vendor_key("Acme Cams Ltd"), "acme-cams");
        assert_eq!(vendor_key("ACME cams"), "acme-cams");
        assert_eq!(vendor_key("  "), "");
        // a short word inside a longer name is not enough
        assert_eq!(vendor_key("S2 Netbox Partners"), "s2-netbox-partners");
    }

    #[test]
    fn models_squash() {
        assert_eq!(squash("DS-2CD2043G0-I"), "ds2cd2043g0i");
        assert_eq!(squash("PT30X-SDI/NDI"), "pt30xsdindi");
    }
}
