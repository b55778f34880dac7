//! Vendor advisories with version ranges: a simple documented format (TOML or JSON) and CSAF
//! 2.0 documents (their product tree and product status).
//!
//! The simple format (`advisories.toml`; the JSON form is `{"advisory": [ ...same keys... ]}`):
//!
//! ```toml
//! [[advisory]]
//! id = "HSRC-202109-01"                  # the vendor's advisory id (optional)
//! title = "Command injection in the web server"
//! cve = ["CVE-2021-36260"]               # one string or a list
//! vendor = "Hikvision"                   # any spelling (normalised)
//! products = ["DS-2CD*", "DS-2DE*"]      # model patterns, * and ?; case and punctuation ignored; absent: every model
//! kinds = ["camera"]                     # optional: only these device kinds
//! affected = [">= 5.4.0, < 5.5.800"]     # ranges (any may hold); absent: every version below `fixed`
//! fixed = "5.5.800"                      # first fixed version (optional when `affected` is given)
//! severity = "critical"                  # info, low, medium, high, critical (default high)
//! url = "https://www.hikvision.com/en/support/cybersecurity/security-advisory/"
//! ```
//!
//! Firmware versions are compared as described in [`crate::version`].

use crate::error::{HygieneError, read_text};
use crate::finding::Severity;
use crate::inventory::Device;
use crate::read::OneOrMany;
use crate::vendor::{squash, vendor_key};
use crate::version::{Range, Version};
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;

/// One advisory about one vendor's products.
#[derive(Debug, Clone)]
pub struct Advisory {
    /// Advisory id (vendor's, or the CSAF tracking id).
    pub id: String,
    /// Title.
    pub title: String,
    /// CVEs it fixes.
    pub cves: Vec<String>,
    /// Vendor as written.
    pub vendor: String,
    /// Normalised vendor.
    pub vendor_key: String,
    /// Model patterns (squashed, with `*` and `?`); empty: every model.
    pub products: Vec<String>,
    /// Device kinds; empty: every kind.
    pub kinds: Vec<String>,
    /// Affected ranges (any may hold).
    pub affected: Vec<Range>,
    /// First fixed version.
    pub fixed: Option<Version>,
    /// Severity of an affected device.
    pub severity: Severity,
    /// Where to read more.
    pub url: Option<String>,
    /// File it came from.
    pub source: String,
}

/// What an advisory says about a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The device's firmware is in this range.
    Affected(String),
    /// The device's firmware is outside every range.
    NotAffected,
    /// The product is covered but the firmware is missing or unreadable.
    Unknown,
}

/// `*` any run, `?` one character; both texts already squashed.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn squash_pattern(pattern: &str) -> String {
    pattern
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '*' || *c == '?')
        .flat_map(char::to_lowercase)
        .collect()
}

impl Advisory {
    /// Whether the advisory is about this device's product (vendor, kind, model).
    pub fn covers(&self, device: &Device) -> bool {
        if device.vendor_key != self.vendor_key {
            return false;
        }
        if !self.kinds.is_empty() && !self.kinds.contains(&device.kind) {
            return false;
        }
        if self.products.is_empty() {
            return true;
        }
        let Some(model) = device.model.as_deref().map(squash) else {
            return false;
        };
        self.products.iter().any(|p| glob(p, &model))
    }

    /// What the advisory says about a device it covers.
    pub fn verdict(&self, device: &Device) -> Verdict {
        let Some(version) = device.firmware.as_deref().and_then(Version::parse) else {
            return Verdict::Unknown;
        };
        let before_fixed;
        let ranges: &[Range] = if self.affected.is_empty() {
            match &self.fixed {
                Some(fixed) => {
                    before_fixed = [Range::before(fixed)];
                    &before_fixed
                }
                None => return Verdict::Affected("every version".into()),
            }
        } else {
            &self.affected
        };
        match ranges.iter().find(|r| r.contains(&version)) {
            Some(r) => Verdict::Affected(r.to_string()),
            None => Verdict::NotAffected,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    advisory: Vec<RawAdvisory>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdvisory {
    id: Option<String>,
    title: Option<String>,
    cve: Option<OneOrMany>,
    vendor: String,
    products: Option<OneOrMany>,
    #[serde(default)]
    kinds: Vec<String>,
    affected: Option<OneOrMany>,
    fixed: Option<String>,
    severity: Option<String>,
    url: Option<String>,
}

/// Every advisory loaded from one or more files.
#[derive(Debug, Clone, Default)]
pub struct Advisories {
    /// The advisories.
    pub list: Vec<Advisory>,
}

impl Advisories {
    /// Reads a file: CSAF 2.0 JSON (has `document.csaf_version`), the simple format as JSON
    /// (`.json`), or the simple format as TOML (anything else).
    pub fn load(path: &Path) -> Result<Advisories, HygieneError> {
        let text = read_text(path)?;
        let name = path.display().to_string();
        let json = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if json || text.trim_start().starts_with('{') {
            let value: Value =
                serde_json::from_str(&text).map_err(|e| HygieneError::json(&name, &e))?;
            if value.pointer("/document/csaf_version").is_some() {
                return Advisories::from_csaf(&name, &value);
            }
            let raw: RawFile = serde_json::from_value(value)
                .map_err(|e| HygieneError::format(&name, e.to_string()))?;
            return Advisories::from_raw(&name, raw);
        }
        Advisories::from_toml(&name, &text)
    }

    /// Reads the simple format as TOML.
    pub fn from_toml(name: &str, text: &str) -> Result<Advisories, HygieneError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| HygieneError::toml(name, &e))?;
        Advisories::from_raw(name, raw)
    }

    fn from_raw(name: &str, raw: RawFile) -> Result<Advisories, HygieneError> {
        let mut list = Vec::new();
        for (i, a) in raw.advisory.into_iter().enumerate() {
            let at =
                |reason: String| HygieneError::format(name, format!("advisory[{i}]: {reason}"));
            let affected = a
                .affected
                .map(OneOrMany::into_vec)
                .unwrap_or_default()
                .iter()
                .map(|r| {
                    if r.trim_start().starts_with("vers:") {
                        Range::parse_vers(r)
                    } else {
                        Range::parse(r).map(|r| vec![r])
                    }
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|r| at(format!("affected: {r}")))?
                .into_iter()
                .flatten()
                .collect::<Vec<_>>();
            let fixed = match &a.fixed {
                None => None,
                Some(f) => Some(
                    Version::parse(f)
                        .ok_or_else(|| at(format!("fixed: `{f}` is not a version")))?,
                ),
            };
            if affected.is_empty() && fixed.is_none() {
                return Err(at(
                    "give `affected` ranges, a `fixed` version, or both".into()
                ));
            }
            let severity = match &a.severity {
                None => Severity::High,
                Some(s) => Severity::parse(s).ok_or_else(|| {
                    at(format!(
                        "severity `{s}`: expected info, low, medium, high or critical"
                    ))
                })?,
            };
            let cves = a.cve.map(OneOrMany::into_vec).unwrap_or_default();
            let products = a
                .products
                .map(OneOrMany::into_vec)
                .unwrap_or_default()
                .iter()
                .map(|p| squash_pattern(p))
                .filter(|p| p != "*")
                .collect();
            list.push(Advisory {
                id: a
                    .id
                    .or_else(|| cves.first().cloned())
                    .unwrap_or_else(|| format!("{name}#{i}")),
                title: a.title.unwrap_or_default(),
                vendor_key: vendor_key(&a.vendor),
                vendor: a.vendor,
                cves,
                products,
                kinds: a.kinds.iter().map(|k| k.to_lowercase()).collect(),
                affected,
                fixed,
                severity,
                url: a.url,
                source: name.to_string(),
            });
        }
        Ok(Advisories { list })
    }

    /// Reads a CSAF 2.0 document: every `known_affected` (and `first_affected` /
    /// `last_affected`) product of each vulnerability becomes an advisory for its branch's
    /// vendor and product name, with the branch's `product_version` (exact) or
    /// `product_version_range` (`vers:` or `>= a, < b`) as the affected range; a `fixed`
    /// product of the same vendor and product gives the fixed version. Products may also come
    /// from `full_product_names` (placed by their CPE) and from `relationships` (a firmware
    /// version or range installed on, or the default component of, a model).
    pub fn from_csaf(name: &str, doc: &Value) -> Result<Advisories, HygieneError> {
        let mut products: Vec<CsafProduct> = Vec::new();
        let tree = doc
            .get("product_tree")
            .ok_or_else(|| HygieneError::format(name, "CSAF document without product_tree"))?;
        if let Some(branches) = tree.get("branches").and_then(Value::as_array) {
            for b in branches {
                walk(b, &mut CsafProduct::default(), &mut products);
            }
        }
        let full_names = tree.get("full_product_names").and_then(Value::as_array);
        products.extend(full_names.into_iter().flatten().filter_map(from_full_name));
        let relationships = tree.get("relationships").and_then(Value::as_array);
        let combined: Vec<CsafProduct> = relationships
            .into_iter()
            .flatten()
            .filter_map(|r| from_relationship(r, &products))
            .collect();
        products.extend(combined);
        let tracking = doc
            .pointer("/document/tracking/id")
            .and_then(Value::as_str)
            .unwrap_or(name);
        let title = doc
            .pointer("/document/title")
            .and_then(Value::as_str)
            .unwrap_or("");
        let url = doc
            .pointer("/document/references/0/url")
            .and_then(Value::as_str)
            .map(str::to_string);
        let find = |id: &str| products.iter().find(|p| p.id == id);
        let mut list: Vec<Advisory> = Vec::new();
        let vulns = doc
            .get("vulnerabilities")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (vi, v) in vulns.iter().enumerate() {
            let cve = v.get("cve").and_then(Value::as_str).map(str::to_string);
            let severity = csaf_severity(v);
            let ids = |key: &str| {
                v.pointer(&format!("/product_status/{key}"))
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_else(Vec::<String>::new)
            };
            let affected_ids: Vec<String> = ["known_affected", "first_affected", "last_affected"]
                .iter()
                .flat_map(|k| ids(k))
                .collect();
            let fixed_ids = [ids("fixed"), ids("first_fixed")].concat();
            for pid in affected_ids {
                let Some(p) = find(&pid) else { continue };
                let range = match (&p.version, &p.range) {
                    (_, Some(r)) if r.trim_start().starts_with("vers:") => Range::parse_vers(r),
                    (_, Some(r)) => Range::parse(r).map(|r| vec![r]),
                    (Some(v), None) => Range::parse(&format!("= {v}")).map(|r| vec![r]),
                    (None, None) => Range::parse("*").map(|r| vec![r]),
                }
                .map_err(|r| {
                    HygieneError::format(name, format!("vulnerabilities[{vi}] product {pid}: {r}"))
                })?;
                let fixed = fixed_ids
                    .iter()
                    .filter_map(|f| find(f))
                    .filter(|f| f.vendor == p.vendor && f.product == p.product)
                    .filter_map(|f| f.version.as_deref().and_then(Version::parse))
                    .min();
                let key = vendor_key(&p.vendor);
                let product = squash_pattern(&p.product);
                let existing = list.iter_mut().find(|a| {
                    a.vendor_key == key
                        && a.products == [product.clone()]
                        && a.cves.first() == cve.as_ref()
                });
                match existing {
                    Some(a) => a.affected.extend(range),
                    None => list.push(Advisory {
                        id: tracking.to_string(),
                        title: title.to_string(),
                        cves: cve.iter().cloned().collect(),
                        vendor: p.vendor.clone(),
                        vendor_key: key,
                        products: vec![product],
                        kinds: Vec::new(),
                        affected: range,
                        fixed,
                        severity,
                        url: url.clone(),
                        source: name.to_string(),
                    }),
                }
            }
        }
        Ok(Advisories { list })
    }

    /// Adds the advisories of another file.
    pub fn extend(&mut self, other: Advisories) {
        self.list.extend(other.list);
    }
}

#[derive(Debug, Clone, Default)]
struct CsafProduct {
    id: String,
    vendor: String,
    product: String,
    version: Option<String>,
    range: Option<String>,
}

/// A product of `full_product_names` (or a relationship's): vendor, product and version come
/// from its CPE (`cpe:2.3:o:hikvision:ds-2cd2142fwd-i_firmware:5.4.0:...`, a `_firmware`
/// suffix dropped so the product is the model); without a CPE it cannot be placed and is left
/// out.
fn from_full_name(product: &Value) -> Option<CsafProduct> {
    let id = product.get("product_id").and_then(Value::as_str)?;
    let cpe = product
        .pointer("/product_identification_helper/cpe")
        .and_then(Value::as_str)?;
    let (vendor, name, version) = cpe_parts(cpe)?;
    Some(CsafProduct {
        id: id.to_string(),
        vendor,
        product: name,
        version,
        range: None,
    })
}

/// Vendor, product and version of a CPE 2.3 formatted string or a CPE 2.2 URI.
fn cpe_parts(cpe: &str) -> Option<(String, String, Option<String>)> {
    let rest = cpe
        .strip_prefix("cpe:2.3:")
        .or_else(|| cpe.strip_prefix("cpe:/"))?;
    let mut parts = rest.split(':');
    let _part = parts.next()?;
    let vendor = parts.next().filter(|v| !v.is_empty() && *v != "*")?;
    let product = parts.next().filter(|p| !p.is_empty() && *p != "*")?;
    let version = parts
        .next()
        .filter(|v| !v.is_empty() && *v != "*" && *v != "-")
        .map(|v| v.replace('\\', ""));
    let product = product.strip_suffix("_firmware").unwrap_or(product);
    Some((vendor.replace('_', " "), product.replace('\\', ""), version))
}

/// The product a relationship makes (firmware `installed_on` or `default_component_of` a
/// model): the model's vendor and name with the firmware's version or range, under the
/// relationship's own product id, which `product_status` lists.
fn from_relationship(relationship: &Value, known: &[CsafProduct]) -> Option<CsafProduct> {
    let id = relationship
        .pointer("/full_product_name/product_id")
        .and_then(Value::as_str)?;
    let find = |key: &str| {
        let wanted = relationship.get(key).and_then(Value::as_str)?;
        known.iter().find(|p| p.id == wanted)
    };
    let component = find("product_reference")?;
    let platform = find("relates_to_product_reference")?;
    let pick = |a: &String, b: &String| if a.is_empty() { b.clone() } else { a.clone() };
    Some(CsafProduct {
        id: id.to_string(),
        vendor: pick(&platform.vendor, &component.vendor),
        product: pick(&platform.product, &component.product),
        version: component
            .version
            .clone()
            .or_else(|| platform.version.clone()),
        range: component.range.clone().or_else(|| platform.range.clone()),
    })
}

fn walk(branch: &Value, path: &mut CsafProduct, out: &mut Vec<CsafProduct>) {
    let mut here = path.clone();
    let name = branch
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    match branch.get("category").and_then(Value::as_str).unwrap_or("") {
        "vendor" => here.vendor = name,
        "product_name" => here.product = name,
        "product_family" if here.product.is_empty() => here.product = format!("{name}*"),
        "product_version" => here.version = Some(name),
        "product_version_range" => here.range = Some(name),
        _ => {}
    }
    if let Some(id) = branch
        .pointer("/product/product_id")
        .and_then(Value::as_str)
    {
        let mut leaf = here.clone();
        leaf.id = id.to_string();
        out.push(leaf);
    }
    if let Some(children) = branch.get("branches").and_then(Value::as_array) {
        for c in children {
            walk(c, &mut here, out);
        }
    }
}

/// The highest CVSS v3 base severity of a CSAF vulnerability (high when none is given).
fn csaf_severity(v: &Value) -> Severity {
    v.get("scores")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.pointer("/cvss_v3/baseSeverity").and_then(Value::as_str))
        .filter_map(Severity::parse)
        .max()
        .unwrap_or(Severity::High)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Inventory;

    fn device(vendor: &str, model: &str, firmware: &str) -> Device {
        let csv = format!("id,kind,vendor,model,firmware\nD,camera,{vendor},{model},{firmware}\n");
        Inventory::from_csv("t.csv", &csv)
            .unwrap()
            .devices
            .remove(0)
    }

    const TOML: &str = r#"
[[advisory]]
id = "HSRC-202109-01"
cve = "CVE-2021-36260"
vendor = "Hikvision"
products = ["DS-2CD*", "DS-2DE*"]
affected = [">= 5.4.0, < 5.5.800"]
fixed = "5.5.800"
severity = "critical"

[[advisory]]
cve = ["CVE-2099-0002"]
vendor = "Axis Communications"
fixed = "10.12.114"
"#;

    #[test]
    fn simple_format_ranges_and_patterns() {
        let adv = Advisories::from_toml("a.toml", TOML).unwrap();
        let hik = &adv.list[0];
        let old = device("Hikvision", "DS-2CD2043G0-I", "V5.5.0 build 170725");
        assert!(hik.covers(&old));
        assert_eq!(
            hik.verdict(&old),
            Verdict::Affected(">= 5.4.0, < 5.5.800".into())
        );
        let new = device("hikvision", "DS-2CD2043G0-I", "V5.5.800 build 210628");
        assert_eq!(hik.verdict(&new), Verdict::NotAffected);
        let unknown = device("Hikvision", "DS-2CD2043G0-I", "");
        assert_eq!(hik.verdict(&unknown), Verdict::Unknown);
        assert!(!hik.covers(&device("Hikvision", "iDS-7208", "5.5.0")));
        let axis = &adv.list[1];
        assert_eq!(axis.id, "CVE-2099-0002");
        assert_eq!(axis.severity, Severity::High);
        let a = device("Axis", "P3245-LV", "9.80.1");
        assert!(axis.covers(&a));
        assert!(matches!(axis.verdict(&a), Verdict::Affected(_)));
        assert_eq!(
            axis.verdict(&device("Axis", "P3245-LV", "10.12.114")),
            Verdict::NotAffected
        );
    }

    #[test]
    fn bad_advisories_say_which() {
        let e = Advisories::from_toml("a.toml", "[[advisory]]\nvendor = \"Axis\"\n").unwrap_err();
        assert!(e.to_string().contains("advisory[0]"), "{e}");
        let e = Advisories::from_toml(
            "a.toml",
            "[[advisory]]\nvendor = \"Axis\"\naffected = [\"< banana\"]\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("affected"), "{e}");
    }

    #[test]
    fn glob_matches() {
        assert!(glob("ds2cd*", "ds2cd2043g0i"));
        assert!(glob("*2043*", "ds2cd2043g0i"));
        assert!(glob("lp15?2", "lp1502"));
        assert!(!glob("ds2de*", "ds2cd2043g0i"));
    }

    #[test]
    fn csaf_product_tree() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/csaf-dahua.json");
        let adv = Advisories::load(&path).unwrap();
        assert_eq!(adv.list.len(), 1);
        let a = &adv.list[0];
        assert_eq!(a.cves, ["CVE-2021-33044"]);
        assert_eq!(a.vendor_key, "dahua");
        assert_eq!(a.severity, Severity::Critical);
        assert_eq!(
            a.fixed.as_ref().map(|v| v.as_str()),
            Some("2.800.0000000.25.R")
        );
        let old = device("Dahua", "IPC-HFW2431S", "2.800.0000000.16.R");
        assert!(a.covers(&old));
        assert!(matches!(a.verdict(&old), Verdict::Affected(_)));
        let new = device("Dahua", "IPC-HFW2431S", "2.800.0000000.25.R");
        assert_eq!(a.verdict(&new), Verdict::NotAffected);
    }

    #[test]
    fn csaf_relationships_and_full_product_names() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/csaf-relationships.json");
        let adv = Advisories::load(&path).unwrap();
        // The Hikvision model through its firmware relationship, Axis through its CPE; the
        // product without a CPE cannot be placed.
        assert_eq!(adv.list.len(), 2, "{:#?}", adv.list);
        let hik = adv
            .list
            .iter()
            .find(|a| a.vendor_key == "hikvision")
            .unwrap();
        assert_eq!(
            hik.fixed.as_ref().map(|v| v.as_str()),
            Some("5.5.800"),
            "the fixed relationship names the same model"
        );
        let old = device("HIKVISION", "DS-2CD2142FWD-I", "V5.4.0 build 160530");
        assert!(matches!(hik.verdict(&old), Verdict::Affected(_)));
        let patched = device("Hikvision", "DS-2CD2142FWD-I", "5.5.800");
        assert_eq!(hik.verdict(&patched), Verdict::NotAffected);
        let other_model = device("Hikvision", "DS-2CD2043G0-I", "5.4.0");
        assert!(!hik.covers(&other_model));

        let axis = adv.list.iter().find(|a| a.vendor_key == "axis").unwrap();
        assert!(matches!(
            axis.verdict(&device("Axis Communications", "M3045-V", "9.80.1")),
            Verdict::Affected(_)
        ));
        assert_eq!(
            axis.verdict(&device("Axis", "M3045-V", "9.80.3")),
            Verdict::NotAffected
        );
    }

    #[test]
    fn cpe_names_are_split() {
        assert_eq!(
            cpe_parts("cpe:2.3:o:hikvision:ds-2cd2142fwd-i_firmware:5\\.4\\.0:*:*:*:*:*:*:*"),
            Some((
                "hikvision".into(),
                "ds-2cd2142fwd-i".into(),
                Some("5.4.0".into())
            ))
        );
        assert_eq!(
            cpe_parts("cpe:/h:axis:m3045-v:-"),
            Some(("axis".into(), "m3045-v".into(), None))
        );
        assert_eq!(cpe_parts("cpe:2.3:o:*:thing:1"), None);
        assert_eq!(cpe_parts("not a cpe"), None);
    }
}
