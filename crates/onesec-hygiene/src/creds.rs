//! Vendor default logins (the DefaultCreds cheat sheet format: `productvendor,username,password`).
//!
//! The `productvendor` cell names the vendor, often with the service in parentheses
//! (`Axis (web)`, `hikvision (ssh)`, `Lenel OnGuard (mssql)`); it is normalised with
//! [`crate::vendor::vendor_key`], so `Axis`, `Axis Communications` and `Axis camera (web)` are
//! one vendor. `<blank>` is an empty user name or password; rows whose password is a
//! placeholder (`<create by default>`, `(none)`) count for the user name only.

use crate::error::{HygieneError, RowError, read_text};
use crate::vendor::vendor_key;
use std::collections::HashMap;
use std::path::Path;

/// One vendor default login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultLogin {
    /// The `productvendor` cell as written.
    pub product: String,
    /// User name (empty for `<blank>`).
    pub username: String,
    /// Password (empty for `<blank>`; `None` for a placeholder).
    pub password: Option<String>,
}

/// Default logins by normalised vendor.
#[derive(Debug, Clone, Default)]
pub struct DefaultCreds {
    by_vendor: HashMap<String, Vec<DefaultLogin>>,
    /// Rows that could not be read.
    pub errors: Vec<RowError>,
}

fn cell(text: &str) -> Option<String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("<blank>") {
        return Some(String::new());
    }
    if t.starts_with('<') && t.ends_with('>') || t.starts_with('(') && t.ends_with(')') {
        return None;
    }
    Some(t.to_string())
}

impl DefaultCreds {
    /// Reads a cheat-sheet CSV file.
    pub fn load(path: &Path) -> Result<DefaultCreds, HygieneError> {
        let text = read_text(path)?;
        DefaultCreds::from_csv(&path.display().to_string(), &text)
    }

    /// Reads cheat-sheet CSV text.
    pub fn from_csv(name: &str, text: &str) -> Result<DefaultCreds, HygieneError> {
        let (mut reader, headers) = crate::read::csv_with_header(name, text, false)?;
        let col = |n: &str| headers.iter().position(|h| h == n);
        let (Some(pv), Some(us), Some(pw)) =
            (col("productvendor"), col("username"), col("password"))
        else {
            return Err(HygieneError::Format {
                file: name.into(),
                line: Some(1),
                column: None,
                reason: format!(
                    "expected the header productvendor,username,password (found {})",
                    headers.join(",")
                ),
            });
        };
        let mut creds = DefaultCreds::default();
        for record in reader.records() {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    creds.errors.push(RowError {
                        file: name.into(),
                        line: e.position().map_or(0, |p| p.line()),
                        column: None,
                        field: None,
                        reason: e.to_string(),
                    });
                    continue;
                }
            };
            let get = |i: usize| record.get(i).unwrap_or("");
            let product = get(pv).trim().to_string();
            let key = vendor_key(&product);
            let Some(username) = cell(get(us)) else {
                continue;
            };
            if key.is_empty() {
                continue;
            }
            creds.by_vendor.entry(key).or_default().push(DefaultLogin {
                product,
                username,
                password: cell(get(pw)),
            });
        }
        Ok(creds)
    }

    /// The default logins of a normalised vendor.
    pub fn for_vendor(&self, vendor_key: &str) -> &[DefaultLogin] {
        self.by_vendor.get(vendor_key).map_or(&[], Vec::as_slice)
    }

    /// The default login that `username` / `password` equals (user names compared
    /// case-insensitively, passwords exactly).
    pub fn login_match(
        &self,
        vendor_key: &str,
        username: &str,
        password: &str,
    ) -> Option<&DefaultLogin> {
        self.for_vendor(vendor_key).iter().find(|l| {
            l.username.eq_ignore_ascii_case(username.trim())
                && l.password.as_deref() == Some(password)
        })
    }

    /// A default login whose user name equals `username`.
    pub fn username_match(&self, vendor_key: &str, username: &str) -> Option<&DefaultLogin> {
        self.for_vendor(vendor_key)
            .iter()
            .find(|l| !l.username.is_empty() && l.username.eq_ignore_ascii_case(username.trim()))
    }

    /// Number of vendors with at least one default login.
    pub fn vendors(&self) -> usize {
        self.by_vendor.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cheat_sheet_rows_by_vendor() {
        let csv = "productvendor,username,password\n\
                   Axis (web),root,pass\n\
                   Axis Communications,root,pass\n\
                   hikvision (ssh),admin,12345\n\
                   Hanwha,admin,<create by default>\n\
                   Foscam,admin,<blank>\n";
        let c = DefaultCreds::from_csv("c.csv", csv).unwrap();
        assert_eq!(c.for_vendor("axis").len(), 2);
        assert!(c.login_match("hikvision", "Admin", "12345").is_some());
        assert!(c.login_match("hikvision", "admin", "123456").is_none());
        assert!(c.login_match("hanwha", "admin", "").is_none());
        assert!(c.username_match("hanwha", "admin").is_some());
        assert!(c.login_match("foscam", "admin", "").is_some());
        let e = DefaultCreds::from_csv("c.csv", "vendor,user\nx,y\n").unwrap_err();
        assert!(e.to_string().contains("productvendor"), "{e}");
    }

    #[test]
    fn the_real_cheat_sheet() {
        let Some(path) = onesec_testdata::shared("data/default-creds/DefaultCreds-Cheat-Sheet.csv")
        else {
            return;
        };
        let c = DefaultCreds::load(&path).unwrap();
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        assert!(c.login_match("hikvision", "admin", "12345").is_some());
        assert!(c.login_match("dahua", "admin", "admin").is_some());
        assert!(c.login_match("axis", "root", "pass").is_some());
        assert!(c.login_match("mobotix", "admin", "meinsm").is_some());
        assert!(c.login_match("lenels2", "LENEL", "MULTIMEDIA").is_some());
        assert!(
            c.login_match("hanwha", "admin", "1111111").is_some(),
            "Samsung Techwin rows"
        );
        assert!(c.username_match("pelco", "admin").is_some());
        assert!(c.vendors() > 500);
    }
}
