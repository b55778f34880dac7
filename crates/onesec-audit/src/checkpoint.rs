//! Signed checkpoints (tree heads) and the Ed25519 key that signs them.
//!
//! A checkpoint signs exactly these bytes (UTF-8, each line ending in `\n`):
//!
//! ```text
//! onesec-audit-checkpoint/v1
//! <size, decimal>
//! <root hash, 64 lowercase hex digits>
//! <time, UTC milliseconds, decimal>
//! ```
//!
//! and is stored as one JSON line in `checkpoints.jsonl`:
//! `{"size":N,"root":"<hex>","time_ms":T,"signature":"<128 hex digits>"}`.
//! The key is a 32-byte Ed25519 seed, kept as hex in `signing.key` (mode 0600); the public key is
//! `signing.pub` (hex), which is all a third party needs to check checkpoints and proofs.

use crate::error::AuditError;
use crate::merkle::Hash;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::path::Path;

/// File name of the secret signing key.
pub const KEY_FILE: &str = "signing.key";
/// File name of the public key.
pub const PUBLIC_KEY_FILE: &str = "signing.pub";

/// A signed tree head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Leaves covered.
    pub size: u64,
    /// Root hash of the tree of the first `size` leaves (hex).
    pub root: String,
    /// When it was signed (UTC ms).
    pub time_ms: i64,
    /// Ed25519 signature over [`Checkpoint::signed_bytes`] (hex).
    pub signature: String,
}

impl Checkpoint {
    /// The exact bytes that are signed.
    pub fn signed_bytes(size: u64, root: &Hash, time_ms: i64) -> Vec<u8> {
        format!(
            "onesec-audit-checkpoint/v1\n{size}\n{}\n{time_ms}\n",
            hex::encode(root)
        )
        .into_bytes()
    }

    /// Signs a tree head.
    pub fn sign(key: &SigningKey, size: u64, root: &Hash, time_ms: i64) -> Checkpoint {
        let signature = key.sign(&Self::signed_bytes(size, root, time_ms));
        Checkpoint {
            size,
            root: hex::encode(root),
            time_ms,
            signature: hex::encode(signature.to_bytes()),
        }
    }

    /// The root as bytes, if it is 64 hex digits.
    pub fn root_hash(&self) -> Option<Hash> {
        parse_hash(&self.root)
    }

    /// Checks the signature with a public key.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), String> {
        let root = self
            .root_hash()
            .ok_or_else(|| format!("root {:?} is not a SHA-256 hash in hex", self.root))?;
        let bytes: [u8; 64] = hex::decode(&self.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("signature is not 64 bytes of hex")?;
        key.verify(
            &Self::signed_bytes(self.size, &root, self.time_ms),
            &Signature::from_bytes(&bytes),
        )
        .map_err(|_| "signature does not verify with the public key".to_string())
    }
}

/// 64 hex digits as a hash.
pub fn parse_hash(text: &str) -> Option<Hash> {
    hex::decode(text).ok()?.try_into().ok()
}

/// The signing key of an audit folder, created with restrictive permissions on first use.
pub fn load_or_create_key(dir: &Path) -> Result<SigningKey, AuditError> {
    let path = dir.join(KEY_FILE);
    if path.exists() {
        let text = fs::read_to_string(&path).map_err(AuditError::io("read", &path))?;
        let seed: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| AuditError::BadKey {
                path: path.clone(),
                reason: "expected 64 hex digits (an Ed25519 seed)".into(),
            })?;
        return Ok(SigningKey::from_bytes(&seed));
    }
    let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    write_private(&path, &format!("{}\n", hex::encode(key.to_bytes())))?;
    let public = dir.join(PUBLIC_KEY_FILE);
    let text = format!("{}\n", hex::encode(key.verifying_key().to_bytes()));
    fs::write(&public, text).map_err(AuditError::io("write", &public))?;
    Ok(key)
}

/// Creates a file readable and writable by its owner only.
fn write_private(path: &Path, text: &str) -> Result<(), AuditError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(AuditError::io("create", path))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(AuditError::io("write", path))
}

/// Reads a public key file (hex).
pub fn load_public_key(path: &Path) -> Result<VerifyingKey, AuditError> {
    let text = fs::read_to_string(path).map_err(AuditError::io("read", path))?;
    parse_public_key(text.trim()).map_err(|reason| AuditError::BadKey {
        path: path.to_path_buf(),
        reason,
    })
}

/// A public key from hex.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] = hex::decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("expected 64 hex digits (an Ed25519 public key)")?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("not an Ed25519 public key: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_verify_and_any_change_breaks_them() {
        let dir = tempfile::tempdir().unwrap();
        let key = load_or_create_key(dir.path()).unwrap();
        let again = load_or_create_key(dir.path()).unwrap();
        assert_eq!(key.to_bytes(), again.to_bytes(), "the key is kept");
        let public = load_public_key(&dir.path().join(PUBLIC_KEY_FILE)).unwrap();
        let cp = Checkpoint::sign(&key, 7, &[9; 32], 1000);
        assert_eq!(cp.verify(&public), Ok(()));
        for changed in [
            Checkpoint {
                size: 8,
                ..cp.clone()
            },
            Checkpoint {
                time_ms: 1001,
                ..cp.clone()
            },
            Checkpoint {
                root: hex::encode([8; 32]),
                ..cp.clone()
            },
        ] {
            assert!(changed.verify(&public).is_err());
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
