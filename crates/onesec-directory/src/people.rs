//! `people.csv`: one person per row, with their accounts and badges.

use crate::error::DirectoryError;
use crate::model::{Person, PersonStatus};
use crate::table;
use std::path::Path;

/// Columns every `people.csv` must have.
pub(crate) const REQUIRED: &[&str] = &[
    "person_id",
    "name",
    "department",
    "status",
    "accounts",
    "badges",
    "home_site",
];

/// Columns read into [`Person`] fields; any other column is kept in `extra`.
const KNOWN: &[&str] = &[
    "person_id",
    "name",
    "department",
    "status",
    "accounts",
    "badges",
    "home_site",
    "email",
    "emails",
];

/// Parses the rows of `people.csv` (checks of duplicates across rows are done later).
pub(crate) fn parse(file: &Path, text: &str) -> Result<Vec<Person>, DirectoryError> {
    let mut people = Vec::new();
    table::read(file, text, REQUIRED, |row| {
        let id = row.get("person_id");
        if id.is_empty() {
            return Err(row.invalid(file, "person_id", "a non-empty person id"));
        }
        let name = row.get("name");
        if name.is_empty() {
            return Err(row.invalid(file, "name", "a non-empty display name"));
        }
        let status = PersonStatus::parse(row.get("status"))
            .ok_or_else(|| row.invalid(file, "status", PersonStatus::EXPECTED))?;
        let mut emails = table::list(row.get("email"));
        emails.extend(table::list(row.get("emails")));
        people.push(Person {
            id: id.to_string(),
            name: name.to_string(),
            department: row.get("department").to_string(),
            status,
            accounts: table::list(row.get("accounts")),
            badges: table::list(row.get("badges")),
            emails,
            home_site: row.get("home_site").to_string(),
            extra: row.extras(KNOWN),
            line: row.line,
        });
        Ok(())
    })?;
    Ok(people)
}
