//! The control catalogue (`compliance/controls.toml`) and the one spelling of a control id.
//!
//! Rules (Sigma tags), hygiene checks and playbook steps name controls in slightly different
//! ways (`iso27001.7.2`, `ISO/IEC 27001:2022` + `A.8.8`, `nis2.21.2.b`); [`canonical_id`] turns
//! each into the catalogue's id so that one control is counted once whoever names it.

use serde::{Deserialize, Serialize};

/// The catalogue shipped with onesec.
const BUILTIN: &str = include_str!("../../../compliance/controls.toml");

/// A body of requirements a control belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Framework {
    /// ISO/IEC 27001:2022 Annex A.
    Iso27001,
    /// The NIS2 Directive (EU) 2022/2555.
    Nis2,
    /// The GDPR (EU) 2016/679.
    Gdpr,
}

impl Framework {
    /// The framework a canonical id belongs to, from its prefix.
    pub fn of(id: &str) -> Option<Framework> {
        match id.split('.').next()? {
            "iso27001" => Some(Framework::Iso27001),
            "nis2" => Some(Framework::Nis2),
            "gdpr" => Some(Framework::Gdpr),
            _ => None,
        }
    }

    /// How people write its name.
    pub fn label(self) -> &'static str {
        match self {
            Framework::Iso27001 => "ISO/IEC 27001:2022",
            Framework::Nis2 => "NIS2",
            Framework::Gdpr => "GDPR",
        }
    }
}

/// One control of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    /// Canonical id (`iso27001.7.2`).
    pub id: String,
    /// How the standard numbers it (`A.7.2`, `Art. 21(2)(b)`).
    pub reference: String,
    /// What it asks, in our words.
    pub title: String,
    /// Its framework (derived from the id).
    #[serde(default = "iso")]
    pub framework: Framework,
}

fn iso() -> Framework {
    Framework::Iso27001
}

/// A catalogue that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// The TOML is malformed.
    #[error("control catalogue {source_name}: {reason}")]
    Parse {
        /// File or `builtin`.
        source_name: String,
        /// What the parser said.
        reason: String,
    },
    /// A control id is not canonical or not of a known framework.
    #[error(
        "control catalogue {source_name}: control {id:?} is not a canonical id of ISO/IEC 27001, NIS2 or GDPR (e.g. iso27001.7.2, nis2.21.2.b, gdpr.33)"
    )]
    BadId {
        /// File or `builtin`.
        source_name: String,
        /// The id.
        id: String,
    },
}

#[derive(Deserialize)]
struct CatalogueFile {
    control: Vec<Control>,
}

/// Every control evidence is sought for, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Catalogue {
    /// The controls.
    pub controls: Vec<Control>,
}

impl Catalogue {
    /// The catalogue shipped in `compliance/controls.toml`.
    pub fn builtin() -> Catalogue {
        // The shipped file is checked by a unit test; a broken one is a build defect.
        Catalogue::parse(BUILTIN, "builtin").unwrap_or(Catalogue {
            controls: Vec::new(),
        })
    }

    /// Reads a catalogue in the `controls.toml` format.
    pub fn parse(text: &str, source_name: &str) -> Result<Catalogue, CatalogueError> {
        let file: CatalogueFile = toml::from_str(text).map_err(|e| CatalogueError::Parse {
            source_name: source_name.to_string(),
            reason: e.to_string(),
        })?;
        let mut controls = file.control;
        for control in &mut controls {
            let canonical = canonical_id(&control.id);
            let framework = canonical.as_deref().and_then(Framework::of);
            match (canonical, framework) {
                (Some(id), Some(framework)) if id == control.id => control.framework = framework,
                _ => {
                    return Err(CatalogueError::BadId {
                        source_name: source_name.to_string(),
                        id: control.id.clone(),
                    });
                }
            }
        }
        Ok(Catalogue { controls })
    }

    /// The control with this id (any spelling [`canonical_id`] understands).
    pub fn get(&self, id: &str) -> Option<&Control> {
        let id = canonical_id(id)?;
        self.controls.iter().find(|c| c.id == id)
    }
}

/// The canonical id of a control named as a Sigma tag (`iso27001.7.2`, `iso27001.a.7.2`,
/// `nis2.21.2.b`, `gdpr.33`), a clause (`A.7.2` is taken as ISO/IEC 27001) or a framework-
/// qualified id (`iso27001:A.8.8`). `None` when it names no control of our frameworks
/// (`attack.t1078`, `onesec.physical`, IEC 62443 ones).
pub fn canonical_id(name: &str) -> Option<String> {
    let lower = name.trim().to_ascii_lowercase().replace(':', ".");
    let lower = lower.replace(' ', "");
    let (prefix, rest) = match lower.split_once('.') {
        Some((p, r)) if ["iso27001", "nis2", "gdpr"].contains(&p) => (p.to_string(), r.to_string()),
        Some(("a", _)) => ("iso27001".to_string(), lower.clone()),
        _ => return None,
    };
    let rest = rest.strip_prefix("a.").unwrap_or(&rest);
    let rest = rest.strip_prefix("art.").unwrap_or(rest);
    let well_formed = !rest.is_empty()
        && rest
            .split('.')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()));
    well_formed.then(|| format!("{prefix}.{rest}"))
}

/// The canonical id of a hygiene check's control (`ISO/IEC 27001:2022`, `A.8.8`), `None` for
/// frameworks outside the catalogue (IEC 62443).
pub fn hygiene_control_id(control: &onesec_hygiene::Control) -> Option<String> {
    if control.framework.starts_with("ISO/IEC 27001") {
        canonical_id(&format!("iso27001.{}", control.id))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_catalogue_reads_and_holds_what_the_issue_asks_for() {
        let catalogue = Catalogue::parse(BUILTIN, "builtin").expect("shipped catalogue");
        let required = [
            "iso27001.5.5",
            "iso27001.5.24",
            "iso27001.5.25",
            "iso27001.5.26",
            "iso27001.5.27",
            "iso27001.5.28",
            "iso27001.6.8",
            "iso27001.7.1",
            "iso27001.7.2",
            "iso27001.7.3",
            "iso27001.7.4",
            "iso27001.8.8",
            "iso27001.8.9",
            "iso27001.8.15",
            "iso27001.8.16",
            "iso27001.8.17",
            "iso27001.8.20",
            "iso27001.8.21",
            "iso27001.8.22",
            "nis2.23",
            "gdpr.32",
            "gdpr.33",
            "gdpr.34",
        ];
        for id in required {
            assert!(catalogue.get(id).is_some(), "{id} missing");
        }
        for point in 'a'..='j' {
            assert!(catalogue.get(&format!("nis2.21.2.{point}")).is_some());
        }
        assert_eq!(
            catalogue.get("gdpr.33").map(|c| c.framework),
            Some(Framework::Gdpr)
        );
    }

    #[test]
    fn every_spelling_of_a_control_becomes_one_id() {
        assert_eq!(
            canonical_id("iso27001.7.2").as_deref(),
            Some("iso27001.7.2")
        );
        assert_eq!(
            canonical_id("ISO27001.A.7.2").as_deref(),
            Some("iso27001.7.2")
        );
        assert_eq!(
            canonical_id("iso27001:A.8.15").as_deref(),
            Some("iso27001.8.15")
        );
        assert_eq!(canonical_id("A.8.8").as_deref(), Some("iso27001.8.8"));
        assert_eq!(canonical_id("nis2.21.2.b").as_deref(), Some("nis2.21.2.b"));
        assert_eq!(canonical_id("gdpr.art.33").as_deref(), Some("gdpr.33"));
        assert_eq!(canonical_id("attack.t1078"), None);
        assert_eq!(canonical_id("onesec.physical"), None);
        assert_eq!(canonical_id("iso27001."), None);
        let kev = onesec_hygiene::checks::VULN_KEV.controls[0];
        assert_eq!(hygiene_control_id(&kev).as_deref(), Some("iso27001.8.8"));
        let iec = onesec_hygiene::checks::VULN_KEV.controls[1];
        assert_eq!(hygiene_control_id(&iec), None);
    }

    #[test]
    fn a_catalogue_with_a_foreign_id_is_refused_with_the_id() {
        let text = "[[control]]\nid = \"pci.1.2\"\nreference = \"1.2\"\ntitle = \"x\"\n";
        let error = Catalogue::parse(text, "test.toml").unwrap_err().to_string();
        assert!(
            error.contains("pci.1.2") && error.contains("test.toml"),
            "{error}"
        );
    }
}
