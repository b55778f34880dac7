//! Who may do what.
//!
//! * **Users** have a role, an optional list of sites they are limited to, and an Argon2id
//!   password hash. **API tokens** (for machines and scripts) carry a role and sites too; they
//!   are shown once and kept only as SHA-256 hashes (they are 256-bit random, so a fast hash is
//!   enough). **Sessions** come from a password login and expire.
//! * There is no default password: the first start creates a one-time **setup token**
//!   ([`AuthStore::open`] returns it, `onesec up` prints it and keeps it in
//!   `<data>/auth/setup-token`, mode 0600) that creates the first admin, then stops working.
//! * Failed logins are limited per user name and per client: after
//!   [`AuthConfig::max_failures`] failures in [`AuthConfig::lockout_ms`], further attempts are
//!   refused until that time has passed, whether or not the password is right.
//!
//! The store is one SQLite file (`<data>/auth/auth.db`); sessions live in memory (a restart
//! logs everyone out).

mod role;

pub use role::{Permission, Role, permission_table};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Why an authentication step failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The user database cannot be opened with the keys given (encryption at rest).
    #[error("auth store: {0}")]
    Key(#[from] onesec_keys::sqlite::SqliteKeyError),
    /// The auth database refused an operation.
    #[error("auth store: {action}: {source}")]
    Database {
        /// What was being done.
        action: &'static str,
        /// The error.
        #[source]
        source: rusqlite::Error,
    },
    /// A file could not be written.
    #[error("auth store: {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Wrong user, password, token or setup token (deliberately not saying which).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Too many failures; try again later.
    #[error("too many failed logins; try again in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until attempts are accepted again.
        retry_after_secs: u64,
    },
    /// A request that cannot be honoured (existing user, weak password, unknown role...).
    #[error("{0}")]
    Invalid(String),
}

fn db(action: &'static str) -> impl FnOnce(rusqlite::Error) -> AuthError {
    move |source| AuthError::Database { action, source }
}

/// Limits and lifetimes.
#[derive(Debug, Clone, Copy)]
pub struct AuthConfig {
    /// Session lifetime.
    pub session_ms: i64,
    /// Failed logins allowed per user or client within `lockout_ms`.
    pub max_failures: usize,
    /// Window and lockout duration for failed logins.
    pub lockout_ms: i64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            session_ms: 8 * 3600 * 1000,
            max_failures: 5,
            lockout_ms: 5 * 60 * 1000,
        }
    }
}

/// Who is calling, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// User name, or `token:<name>` for an API token.
    pub name: String,
    /// The role.
    pub role: Role,
    /// Sites this caller is limited to; empty: every site.
    pub sites: Vec<String>,
}

impl Principal {
    /// Whether the caller may do `p`.
    pub fn may(&self, p: Permission) -> bool {
        self.role.may(p)
    }

    /// Whether the caller sees something at `site` (unplaced things only when unrestricted).
    pub fn sees_site(&self, site: Option<&str>) -> bool {
        self.sites.is_empty() || site.is_some_and(|s| self.sites.iter().any(|own| own == s))
    }

    /// Whether the caller sees something that concerns any of `sites`.
    pub fn sees_any_site<'a>(&self, mut sites: impl Iterator<Item = &'a str>) -> bool {
        self.sites.is_empty() || sites.any(|s| self.sites.iter().any(|own| own == s))
    }
}

/// A user as listed (no hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Sites the user is limited to; empty: every site.
    #[serde(default)]
    pub sites: Vec<String>,
}

struct Session {
    principal: Principal,
    expires_ms: i64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    sites TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    sites TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER
);
CREATE TABLE IF NOT EXISTS setup (hash TEXT NOT NULL, created_ms INTEGER NOT NULL);
";

/// Users, tokens, sessions and the login limiter.
pub struct AuthStore {
    conn: Connection,
    config: AuthConfig,
    sessions: HashMap<String, Session>,
    failures: HashMap<String, Vec<i64>>,
    /// Verified against when the user does not exist, so timing does not tell.
    dummy_hash: String,
    /// The folder (`<data>/auth`), whose `setup-token` file goes once it is used.
    dir: std::path::PathBuf,
}

/// A fresh 256-bit secret, hex.
fn new_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.trim().as_bytes()))
}

fn sites_json(sites: &[String]) -> String {
    serde_json::to_string(sites).unwrap_or_else(|_| "[]".into())
}

fn sites_from(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

impl AuthStore {
    /// Opens `<dir>/auth.db`. When there is no user yet, returns a new one-time setup token too,
    /// written to `<dir>/setup-token` (mode 0600).
    pub fn open(
        dir: &Path,
        config: AuthConfig,
        now_ms: i64,
    ) -> Result<(AuthStore, Option<String>), AuthError> {
        std::fs::create_dir_all(dir).map_err(|source| AuthError::Io {
            action: "create",
            path: dir.to_path_buf(),
            source,
        })?;
        // Encrypted with the process's key ring when encryption at rest is on.
        let conn = onesec_keys::sqlite::open(&dir.join("auth.db"), None)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db("set busy timeout"))?;
        conn.execute_batch(SCHEMA).map_err(db("create schema"))?;
        let store = AuthStore {
            conn,
            config,
            sessions: HashMap::new(),
            failures: HashMap::new(),
            dummy_hash: hash_password(&new_secret())?,
            dir: dir.to_path_buf(),
        };
        let setup = if store.user_count()? == 0 {
            Some(store.new_setup_token(dir, now_ms)?)
        } else {
            None
        };
        Ok((store, setup))
    }

    fn user_count(&self) -> Result<i64, AuthError> {
        self.conn
            .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
            .map_err(db("count users"))
    }

    fn new_setup_token(&self, dir: &Path, now_ms: i64) -> Result<String, AuthError> {
        let token = new_secret();
        self.conn
            .execute("DELETE FROM setup", [])
            .map_err(db("replace setup token"))?;
        self.conn
            .execute(
                "INSERT INTO setup (hash, created_ms) VALUES (?1, ?2)",
                params![secret_hash(&token), now_ms],
            )
            .map_err(db("store setup token"))?;
        write_private(&dir.join("setup-token"), &format!("{token}\n"))?;
        Ok(token)
    }

    /// Creates the first admin with the one-time setup token, which then stops working.
    pub fn setup(
        &mut self,
        setup_token: &str,
        user: &str,
        password: &str,
        now_ms: i64,
    ) -> Result<User, AuthError> {
        let stored: Option<String> = self
            .conn
            .query_row("SELECT hash FROM setup", [], |r| r.get(0))
            .optional()
            .map_err(db("read setup token"))?;
        if stored.as_deref() != Some(secret_hash(setup_token).as_str()) || self.user_count()? > 0 {
            return Err(AuthError::InvalidCredentials);
        }
        let admin = User {
            name: user.to_string(),
            role: Role::Admin,
            sites: Vec::new(),
        };
        self.create_user(&admin, password, now_ms)?;
        self.conn
            .execute("DELETE FROM setup", [])
            .map_err(db("consume setup token"))?;
        // The token no longer works; its file goes too, so no copy of it lingers.
        let file = self.dir.join("setup-token");
        if let Err(error) = std::fs::remove_file(&file)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(%error, file = %file.display(), "used setup token file not removed");
        }
        Ok(admin)
    }

    /// Adds a user with an Argon2id password hash.
    pub fn create_user(
        &mut self,
        user: &User,
        password: &str,
        now_ms: i64,
    ) -> Result<(), AuthError> {
        check_name(&user.name)?;
        if password.chars().count() < 12 {
            return Err(AuthError::Invalid(
                "passwords need at least 12 characters".into(),
            ));
        }
        let hash = hash_password(password)?;
        let inserted = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO users (name, role, sites, password_hash, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    user.name,
                    user.role.as_str(),
                    sites_json(&user.sites),
                    hash,
                    now_ms
                ],
            )
            .map_err(db("insert user"))?;
        if inserted == 0 {
            return Err(AuthError::Invalid(format!("user {} exists", user.name)));
        }
        Ok(())
    }

    /// Every user.
    pub fn users(&self) -> Result<Vec<User>, AuthError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, role, sites FROM users ORDER BY name")
            .map_err(db("prepare user list"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(db("list users"))?;
        let mut users = Vec::new();
        for row in rows {
            let (name, role, sites) = row.map_err(db("read user"))?;
            if let Some(role) = Role::parse(&role) {
                users.push(User {
                    name,
                    role,
                    sites: sites_from(&sites),
                });
            }
        }
        Ok(users)
    }

    /// Checks a password and opens a session; `client` (e.g. the peer address) is limited too.
    pub fn login(
        &mut self,
        user: &str,
        password: &str,
        client: &str,
        now_ms: i64,
    ) -> Result<(String, Principal), AuthError> {
        let keys = [format!("user:{user}"), format!("client:{client}")];
        for key in &keys {
            self.check_not_locked(key, now_ms)?;
        }
        let Some(principal) = self.check_password(user, password)? else {
            for key in keys {
                self.failures.entry(key).or_default().push(now_ms);
            }
            return Err(AuthError::InvalidCredentials);
        };
        let token = new_secret();
        self.sessions.insert(
            secret_hash(&token),
            Session {
                principal: principal.clone(),
                expires_ms: now_ms + self.config.session_ms,
            },
        );
        Ok((token, principal))
    }

    fn check_not_locked(&mut self, key: &str, now_ms: i64) -> Result<(), AuthError> {
        let window = self.config.lockout_ms;
        let recent = self.failures.entry(key.to_string()).or_default();
        recent.retain(|t| now_ms - t < window);
        if recent.len() < self.config.max_failures {
            return Ok(());
        }
        let oldest = recent.iter().min().copied().unwrap_or(now_ms);
        let retry_after_secs =
            u64::try_from((oldest + window - now_ms).max(0) / 1000).unwrap_or(0) + 1;
        Err(AuthError::RateLimited { retry_after_secs })
    }

    fn check_password(&self, user: &str, password: &str) -> Result<Option<Principal>, AuthError> {
        let row: Option<(String, String, String)> = self
            .conn
            .query_row(
                "SELECT role, sites, password_hash FROM users WHERE name = ?1",
                [user],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(db("read user"))?;
        let Some((role, sites, hash)) = row else {
            // Verify anyway, so a missing user takes as long as a wrong password.
            let _ = verify(&self.dummy_hash, password);
            return Ok(None);
        };
        Ok(verify(&hash, password).then(|| Principal {
            name: user.to_string(),
            role: Role::parse(&role).unwrap_or(Role::Auditor),
            sites: sites_from(&sites),
        }))
    }

    /// Ends a session.
    pub fn logout(&mut self, session: &str) {
        self.sessions.remove(&secret_hash(session));
    }

    /// Issues an API token (returned once; only its hash is kept).
    pub fn create_token(
        &mut self,
        name: &str,
        role: Role,
        sites: &[String],
        created_by: &str,
        expires_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<String, AuthError> {
        check_name(name)?;
        let token = new_secret();
        self.conn
            .execute(
                "INSERT INTO tokens (hash, name, role, sites, created_by, created_ms, expires_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    secret_hash(&token),
                    name,
                    role.as_str(),
                    sites_json(sites),
                    created_by,
                    now_ms,
                    expires_ms
                ],
            )
            .map_err(db("insert token"))?;
        Ok(token)
    }

    /// Removes every token of that name; returns how many.
    pub fn revoke_token(&mut self, name: &str) -> Result<usize, AuthError> {
        self.conn
            .execute("DELETE FROM tokens WHERE name = ?1", [name])
            .map_err(db("revoke token"))
    }

    /// The principal behind a bearer secret (a session or an API token), if it is valid now.
    pub fn authenticate(
        &mut self,
        bearer: &str,
        now_ms: i64,
    ) -> Result<Option<Principal>, AuthError> {
        let hash = secret_hash(bearer);
        if let Some(session) = self.sessions.get(&hash) {
            if session.expires_ms > now_ms {
                return Ok(Some(session.principal.clone()));
            }
            self.sessions.remove(&hash);
            return Ok(None);
        }
        let row: Option<(String, String, String, Option<i64>)> = self
            .conn
            .query_row(
                "SELECT name, role, sites, expires_ms FROM tokens WHERE hash = ?1",
                [&hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(db("read token"))?;
        Ok(row.and_then(|(name, role, sites, expires)| {
            if expires.is_some_and(|e| e <= now_ms) {
                return None;
            }
            Some(Principal {
                name: format!("token:{name}"),
                role: Role::parse(&role)?,
                sites: sites_from(&sites),
            })
        }))
    }
}

fn verify(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// An Argon2id PHC string of `password` with a random salt.
fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| AuthError::Invalid(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Invalid(format!("hashing failed: {e}")))
}

fn check_name(name: &str) -> Result<(), AuthError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(AuthError::Invalid(format!(
            "name {name:?}: use 1-64 letters, digits, '.', '_', '-' or '@'"
        )))
    }
}

/// Creates (or replaces) a file readable and writable by its owner only.
fn write_private(path: &Path, text: &str) -> Result<(), AuthError> {
    use std::io::Write;
    let io = |action| {
        let path = path.to_path_buf();
        move |source| AuthError::Io {
            action,
            path,
            source,
        }
    };
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io("create"))?;
    file.write_all(text.as_bytes()).map_err(io("write"))
}

#[cfg(test)]
mod tests;
