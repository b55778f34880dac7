//! A small stable hash (FNV-1a, 128 bit) for deterministic alert ids.
//!
//! Alert ids must be identical across runs and processes (the journal is replayed after a
//! crash and alerts are upserted by id), so std's randomly keyed hasher cannot be used.

const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

/// Incremental FNV-1a 128-bit hasher.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StableHash(u128);

impl StableHash {
    /// A fresh hasher.
    pub(crate) fn new() -> Self {
        StableHash(OFFSET)
    }

    /// Feeds bytes.
    pub(crate) fn bytes(mut self, data: &[u8]) -> Self {
        for b in data {
            self.0 ^= u128::from(*b);
            self.0 = self.0.wrapping_mul(PRIME);
        }
        self
    }

    /// Feeds a string followed by a separator (so `("ab","c")` differs from `("a","bc")`).
    pub(crate) fn str(self, s: &str) -> Self {
        self.bytes(s.as_bytes()).bytes(&[0xff])
    }

    /// Feeds a number.
    pub(crate) fn u64(self, n: u64) -> Self {
        self.bytes(&n.to_le_bytes())
    }

    /// The hash value.
    pub(crate) fn raw(self) -> u128 {
        self.0
    }

    /// The hash as 32 lowercase hex digits.
    pub(crate) fn hex(self) -> String {
        format!("{:032x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_values() {
        // FNV-1a 128 of the empty input is the offset basis.
        assert_eq!(StableHash::new().hex(), "6c62272e07bb014262b821756295c58d");
        // Known FNV-1a 128 test vector for "a".
        assert_eq!(
            StableHash::new().bytes(b"a").hex(),
            "d228cb696f1a8caf78912b704e4a8964"
        );
        assert_ne!(
            StableHash::new().str("ab").str("c").hex(),
            StableHash::new().str("a").str("bc").hex()
        );
    }
}
