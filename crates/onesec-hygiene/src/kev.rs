//! The CISA Known Exploited Vulnerabilities catalogue (KEV) and matching devices to it.
//!
//! KEV names a vendor and a product for each CVE, never a version range. A device matches an
//! entry when its normalised vendor equals the entry's ([`crate::vendor::vendor_key`]) and its
//! product fits the entry's product text, read in one of three ways:
//!
//! * **a model**: the product names something specific (`RLC-410W IP Camera`, `NVRmini2
//!   Devices`, `Linear eMerge E3-Series`, `BioTime`). After dropping generic words (`ip`,
//!   `camera`, `devices`, `firmware`, `series`, `multiple`...) and the vendor's own name, the
//!   remaining words must appear in the device's model (letters and digits compared, case and
//!   punctuation ignored): either all of them together (`rlc410w`), or every word that has a
//!   digit and at least three characters (`pt30x` of `PT30X-SDI/NDI`).
//! * **a class of devices**: only generic words (`IP Camera Firmware`, `Security cameras web
//!   server`, `Cameras and Network Video Recorder (NVR)`): the device kind must be in the class
//!   (cameras: camera, ptz, encoder; recorders: nvr, dvr, vms, recorder; access control:
//!   controller, reader, panel).
//! * **anything of the vendor**: `Multiple Devices`, `Multiple Products`.
//!
//! A match says "this product has a known exploited vulnerability: check the firmware"; an
//! advisory with a version range (see [`crate::advisory`]) is what makes it precise.

use crate::error::{HygieneError, read_text};
use crate::inventory::Device;
use crate::vendor::{clean, squash, vendor_key};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// How an entry's product is matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "by", content = "value")]
pub enum ProductMatch {
    /// Model words (squashed), all of which appear together or whose digit words all appear.
    Model(Vec<String>),
    /// Device kinds.
    Class(Vec<&'static str>),
    /// Every product of the vendor.
    Any,
}

/// One KEV entry.
#[derive(Debug, Clone, Serialize)]
pub struct KevEntry {
    /// `CVE-2021-36260`.
    pub cve: String,
    /// Vendor as written in KEV.
    pub vendor_project: String,
    /// Product as written in KEV.
    pub product: String,
    /// Name of the vulnerability.
    pub name: String,
    /// Date added to the catalogue.
    pub date_added: String,
    /// Due date for US federal agencies.
    pub due_date: String,
    /// Known use in ransomware campaigns.
    pub ransomware: bool,
    /// What CISA asks to do.
    pub required_action: String,
    /// Normalised vendor.
    pub vendor_key: String,
    /// How the product is matched.
    pub matcher: ProductMatch,
}

impl KevEntry {
    /// Whether `device` is this entry's product (vendor already equal).
    pub fn matches_product(&self, device: &Device) -> bool {
        let kind = device.kind.as_str();
        match &self.matcher {
            ProductMatch::Any => true,
            ProductMatch::Class(kinds) => kinds.contains(&kind),
            ProductMatch::Model(words) => {
                let Some(model) = device.model.as_deref().map(squash) else {
                    return false;
                };
                if model.is_empty() {
                    return false;
                }
                if model.contains(&words.concat()) {
                    return true;
                }
                let mut digits = words
                    .iter()
                    .filter(|w| w.len() >= 3 && w.chars().any(|c| c.is_ascii_digit()))
                    .peekable();
                digits.peek().is_some() && digits.all(|w| model.contains(w.as_str()))
            }
        }
    }
}

/// The catalogue, indexed by normalised vendor.
#[derive(Debug, Clone, Default)]
pub struct KevCatalog {
    /// `catalogVersion`.
    pub version: String,
    /// Every entry.
    pub entries: Vec<KevEntry>,
    by_vendor: HashMap<String, Vec<usize>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCatalog {
    #[serde(default)]
    catalog_version: String,
    vulnerabilities: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    #[serde(rename = "cveID")]
    cve_id: String,
    vendor_project: String,
    product: String,
    #[serde(default)]
    vulnerability_name: String,
    #[serde(default)]
    date_added: String,
    #[serde(default)]
    due_date: String,
    #[serde(default)]
    known_ransomware_campaign_use: String,
    #[serde(default)]
    required_action: String,
}

const CAMERAS: &[&str] = &["camera", "ptz", "encoder"];
const RECORDERS: &[&str] = &["nvr", "dvr", "vms", "recorder"];
const ACCESS: &[&str] = &["controller", "reader", "panel"];

/// Words that say what kind of thing a product is, not which one.
const GENERIC: &[&str] = &[
    "multiple",
    "devices",
    "device",
    "products",
    "product",
    "ip",
    "camera",
    "cameras",
    "firmware",
    "web",
    "server",
    "security",
    "network",
    "video",
    "recorder",
    "recorders",
    "nvr",
    "dvr",
    "and",
    "or",
    "the",
    "series",
    "system",
    "systems",
    "software",
    "interface",
    "management",
    "access",
    "control",
    "controller",
    "controllers",
    "webcam",
    "ipc",
];

fn classes(word: &str) -> &'static [&'static str] {
    match word {
        "camera" | "cameras" | "ipc" | "webcam" => CAMERAS,
        "nvr" | "dvr" | "recorder" | "recorders" => RECORDERS,
        "controller" | "controllers" | "access" => ACCESS,
        _ => &[],
    }
}

/// Reads a KEV product text for a vendor (see the module comment).
pub fn product_match(vendor_key_of_entry: &str, product: &str) -> ProductMatch {
    let cleaned = clean(product);
    let words: Vec<&str> = cleaned
        .split(' ')
        .filter(|w| !w.is_empty() && vendor_key(w) != vendor_key_of_entry)
        .collect();
    let mut kinds: Vec<&'static str> = Vec::new();
    for w in &words {
        for k in classes(w) {
            if !kinds.contains(k) {
                kinds.push(k);
            }
        }
    }
    let significant: Vec<String> = words
        .iter()
        .filter(|w| !GENERIC.contains(w))
        .map(|w| squash(w))
        .collect();
    if !significant.is_empty() {
        ProductMatch::Model(significant)
    } else if kinds.is_empty() {
        ProductMatch::Any
    } else {
        ProductMatch::Class(kinds)
    }
}

impl KevCatalog {
    /// Reads a KEV JSON file (the CISA format: `catalogVersion`, `vulnerabilities[]`).
    pub fn load(path: &Path) -> Result<KevCatalog, HygieneError> {
        let text = read_text(path)?;
        KevCatalog::from_json(&path.display().to_string(), &text)
    }

    /// Replaces the catalogue file `out` with `text` (fetched from `name`) only if `text` is a
    /// KEV catalogue that lists at least one vulnerability: written beside, then renamed, so
    /// a reader sees the old file or the new one, never a half-written one.
    pub fn replace_file(
        name: &str,
        text: &str,
        out: &std::path::Path,
    ) -> Result<KevCatalog, HygieneError> {
        let catalog = KevCatalog::from_json(name, text)?;
        if catalog.entries.is_empty() {
            return Err(HygieneError::format(
                name,
                format!("lists no vulnerability; {} left as it was", out.display()),
            ));
        }
        let temp = out.with_extension("json.partial");
        let write = |file: &std::path::Path| {
            let file = file.to_path_buf();
            move |source| HygieneError::Write { file, source }
        };
        std::fs::write(&temp, text).map_err(write(&temp))?;
        std::fs::rename(&temp, out).map_err(write(out))?;
        Ok(catalog)
    }

    /// Reads KEV JSON text (`name` is used in messages).
    pub fn from_json(name: &str, text: &str) -> Result<KevCatalog, HygieneError> {
        let raw: RawCatalog =
            serde_json::from_str(text).map_err(|e| HygieneError::json(name, &e))?;
        let mut catalog = KevCatalog {
            version: raw.catalog_version,
            ..KevCatalog::default()
        };
        for e in raw.vulnerabilities {
            let key = vendor_key(&e.vendor_project);
            let matcher = product_match(&key, &e.product);
            catalog
                .by_vendor
                .entry(key.clone())
                .or_default()
                .push(catalog.entries.len());
            catalog.entries.push(KevEntry {
                cve: e.cve_id.trim().to_string(),
                vendor_project: e.vendor_project,
                product: e.product,
                name: e.vulnerability_name,
                date_added: e.date_added,
                due_date: e.due_date,
                ransomware: e
                    .known_ransomware_campaign_use
                    .eq_ignore_ascii_case("known"),
                required_action: e.required_action,
                vendor_key: key,
                matcher,
            });
        }
        Ok(catalog)
    }

    /// Entries whose vendor and product fit `device`.
    pub fn matches<'a>(&'a self, device: &'a Device) -> impl Iterator<Item = &'a KevEntry> {
        self.by_vendor
            .get(&device.vendor_key)
            .into_iter()
            .flatten()
            .map(|&i| &self.entries[i])
            .filter(move |e| e.matches_product(device))
    }

    /// The entry of a CVE.
    pub fn entry(&self, cve: &str) -> Option<&KevEntry> {
        self.entries
            .iter()
            .find(|e| e.cve.eq_ignore_ascii_case(cve))
    }

    /// Whether the catalogue lists a CVE.
    pub fn contains(&self, cve: &str) -> bool {
        self.entry(cve).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Inventory;

    fn device(kind: &str, vendor: &str, model: &str) -> Device {
        let csv = format!("id,kind,vendor,model\nD,{kind},{vendor},{model}\n");
        Inventory::from_csv("t.csv", &csv)
            .unwrap()
            .devices
            .remove(0)
    }

    #[test]
    fn product_texts_read_as_model_class_or_any() {
        assert_eq!(
            product_match("reolink", "RLC-410W IP Camera"),
            ProductMatch::Model(vec!["rlc".into(), "410w".into()])
        );
        assert_eq!(
            product_match("hikvision", "Security cameras web server"),
            ProductMatch::Class(CAMERAS.to_vec())
        );
        assert_eq!(
            product_match("amcrest", "Cameras and Network Video Recorder (NVR)"),
            ProductMatch::Class([CAMERAS, RECORDERS].concat())
        );
        assert_eq!(
            product_match("geovision", "Multiple Devices"),
            ProductMatch::Any
        );
        assert_eq!(
            product_match("nice", "Linear eMerge E3-Series"),
            ProductMatch::Model(vec!["emerge".into(), "e3".into()])
        );
    }

    #[test]
    fn real_physical_security_entries_match() {
        let Some(path) = onesec_testdata::shared("data/kev/known_exploited_vulnerabilities.json")
        else {
            return;
        };
        let kev = KevCatalog::load(&path).unwrap();
        assert_eq!(kev.version, "2025.08.25");
        assert_eq!(kev.entries.len(), 1404);
        let cves = |d: &Device| {
            let mut v: Vec<String> = kev.matches(d).map(|e| e.cve.clone()).collect();
            v.sort();
            v
        };
        let hik = device("camera", "HIKVISION Digital Technology", "DS-2CD2043G0-I");
        assert_eq!(cves(&hik), ["CVE-2021-36260"]);
        let dahua = device("camera", "Zhejiang Dahua", "IPC-HFW2431S");
        assert_eq!(cves(&dahua), ["CVE-2021-33044", "CVE-2021-33045"]);
        let dahua_nvr = device("nvr", "Dahua", "NVR4104");
        assert!(
            cves(&dahua_nvr).is_empty(),
            "KEV names Dahua IP cameras only"
        );
        let emerge = device("controller", "Nortek Security & Control", "eMerge E3 Elite");
        assert_eq!(cves(&emerge), ["CVE-2019-7256"]);
        let nuuo = device("nvr", "NUUO", "NVRmini2 NE-4160");
        assert_eq!(cves(&nuuo), ["CVE-2018-14933", "CVE-2022-23227"]);
        let reolink = device("camera", "Reolink", "RLC-410W");
        assert_eq!(cves(&reolink), ["CVE-2019-11001", "CVE-2021-40407"]);
        let reolink_other = device("camera", "Reolink", "E1 Zoom");
        assert_eq!(cves(&reolink_other), ["CVE-2019-11001"]);
        let ptz = device("camera", "PTZOptics", "PT30X-SDI");
        assert_eq!(cves(&ptz), ["CVE-2024-8956", "CVE-2024-8957"]);
        let zk = device("server", "ZKTeco", "ZKBioTime 8.0");
        assert_eq!(cves(&zk), ["CVE-2023-38950"]);
        let geo = device("camera", "GeoVision", "GV-BX1500");
        assert_eq!(cves(&geo), ["CVE-2024-11120", "CVE-2024-6047"]);
        let amcrest = device("nvr", "Amcrest", "NV4108E");
        assert_eq!(cves(&amcrest), ["CVE-2020-5735"]);
        let axis = device("camera", "Axis Communications", "P3245-LV");
        assert!(cves(&axis).is_empty());
        let mercury = device("controller", "HID Mercury", "LP1502");
        assert!(cves(&mercury).is_empty());
        let e = kev.entry("CVE-2021-36260").unwrap();
        assert_eq!((e.vendor_key.as_str(), e.ransomware), ("hikvision", false));
    }

    #[test]
    fn any_file_of_the_format_loads_and_bad_ones_say_where() {
        let text = r#"{"catalogVersion": "t", "dateReleased": "x", "count": 1, "vulnerabilities": [
            {"cveID": "CVE-2099-0001", "vendorProject": "Acme Cams", "product": "AC-100 IP Camera",
             "knownRansomwareCampaignUse": "Known"}]}"#;
        let kev = KevCatalog::from_json("k.json", text).unwrap();
        let d = device("camera", "ACME cams ltd", "AC-100");
        assert_eq!(kev.matches(&d).count(), 1);
        assert!(kev.entries[0].ransomware);
        let err =
            KevCatalog::from_json("k.json", "{\"vulnerabilities\": [{\"cveID\": 1}]}").unwrap_err();
        assert!(err.to_string().starts_with("k.json:1:"), "{err}");
    }
}
