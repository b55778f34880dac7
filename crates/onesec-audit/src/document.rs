//! Documents signed with the audit key (an exported incident bundle).
//!
//! The signature is Ed25519, with the key that signs the checkpoints, over exactly these bytes
//! (UTF-8, each line ending in `\n`):
//!
//! ```text
//! onesec-signed-document/v1
//! <SHA-256 of the document bytes, 64 lowercase hex digits>
//! ```
//!
//! The prefix keeps a document signature from ever being taken for a checkpoint signature.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

/// The exact bytes signed for a document.
pub fn document_signed_bytes(document: &[u8]) -> Vec<u8> {
    format!(
        "onesec-signed-document/v1\n{}\n",
        hex::encode(Sha256::digest(document))
    )
    .into_bytes()
}

/// Signs a document; the signature in hex (128 digits).
pub fn sign_document(key: &SigningKey, document: &[u8]) -> String {
    hex::encode(key.sign(&document_signed_bytes(document)).to_bytes())
}

/// Checks a document signature made by [`sign_document`].
pub fn verify_document(
    key: &VerifyingKey,
    document: &[u8],
    signature_hex: &str,
) -> Result<(), String> {
    let bytes: [u8; 64] = hex::decode(signature_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("signature is not 64 bytes of hex")?;
    key.verify(
        &document_signed_bytes(document),
        &Signature::from_bytes(&bytes),
    )
    .map_err(|_| "the signature does not verify with the public key".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_document_verifies_and_any_change_breaks_it() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let public = key.verifying_key();
        let doc = br#"{"incident":{"id":"inc-1"}}"#;
        let signature = sign_document(&key, doc);
        assert_eq!(verify_document(&public, doc, &signature), Ok(()));
        assert!(verify_document(&public, br#"{"incident":{"id":"inc-2"}}"#, &signature).is_err());
        let other = SigningKey::from_bytes(&[8u8; 32]).verifying_key();
        assert!(verify_document(&other, doc, &signature).is_err());
        assert!(verify_document(&public, doc, "00").is_err());
        // Not interchangeable with a checkpoint signature over the same hash.
        assert_ne!(
            document_signed_bytes(doc)[..26],
            b"onesec-audit-checkpoint/v1"[..]
        );
    }
}
