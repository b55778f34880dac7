//! Merkle tree hashing, inclusion and consistency proofs exactly as RFC 9162 §2.1 (the same as
//! RFC 6962 §2.1): leaves hashed as `SHA-256(0x00 || data)`, interior nodes as
//! `SHA-256(0x01 || left || right)`, a tree of `n` leaves split at the largest power of two
//! smaller than `n`.

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The hash of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// MTH over leaf hashes.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The audit path of leaf `index` in the tree of `leaves` (`index < leaves.len()`).
pub fn inclusion_path(index: usize, leaves: &[Hash]) -> Vec<Hash> {
    let mut path = Vec::new();
    inclusion_into(index, leaves, &mut path);
    path
}

fn inclusion_into(index: usize, leaves: &[Hash], path: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if index < k {
        inclusion_into(index, &leaves[..k], path);
        path.push(root(&leaves[k..]));
    } else {
        inclusion_into(index - k, &leaves[k..], path);
        path.push(root(&leaves[..k]));
    }
}

/// Checks an audit path (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    tree_size: u64,
    path: &[Hash],
    root: &Hash,
) -> bool {
    if index >= tree_size {
        return false;
    }
    let (mut fn_, mut sn) = (index, tree_size - 1);
    let mut r = *leaf;
    for p in path {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && r == *root
}

/// The consistency proof from the tree of the first `old_size` leaves to the tree of all of
/// `leaves` (`0 < old_size <= leaves.len()`).
pub fn consistency_proof(old_size: usize, leaves: &[Hash]) -> Vec<Hash> {
    let mut proof = Vec::new();
    if old_size > 0 && old_size <= leaves.len() {
        subproof(old_size, leaves, true, &mut proof);
    }
    proof
}

fn subproof(m: usize, leaves: &[Hash], whole: bool, proof: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !whole {
            proof.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &leaves[..k], whole, proof);
        proof.push(root(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, proof);
        proof.push(root(&leaves[..k]));
    }
}

/// Checks a consistency proof (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size == 0 || old_size > new_size {
        return false;
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && fr == *old_root && sr == *new_root
}

/// The roots of the perfect subtrees a growing log has completed, for an O(log n) root
/// after each append.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    /// (height, hash), heights strictly decreasing.
    peaks: Vec<(u32, Hash)>,
    size: u64,
}

impl Frontier {
    /// Adds a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut node = (0u32, leaf);
        while let Some(&(height, left)) = self.peaks.last() {
            if height != node.0 {
                break;
            }
            self.peaks.pop();
            node = (height + 1, node_hash(&left, &node.1));
        }
        self.peaks.push(node);
        self.size += 1;
    }

    /// Leaves so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree head: equal to [`root`] over the same leaves.
    pub fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        let Some(&(_, mut acc)) = peaks.next() else {
            return empty_root();
        };
        for (_, left) in peaks {
            acc = node_hash(left, &acc);
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect()
    }

    /// RFC 6962 test vectors (certificate-transparency-go `merkle/testonly`): the roots of the
    /// trees over the first 1..=8 of these leaves.
    #[test]
    fn roots_match_the_certificate_transparency_vectors() {
        let data: [&[u8]; 8] = [
            b"",
            &[0x00],
            &[0x10],
            &[0x20, 0x21],
            &[0x30, 0x31],
            &[0x40, 0x41, 0x42, 0x43],
            &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
            &[
                0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,
                0x6e, 0x6f,
            ],
        ];
        let expected = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let hashes: Vec<Hash> = data.iter().map(|d| leaf_hash(d)).collect();
        let mut frontier = Frontier::default();
        for (n, want) in expected.iter().enumerate() {
            frontier.push(hashes[n]);
            assert_eq!(hex::encode(root(&hashes[..=n])), *want, "tree of {}", n + 1);
            assert_eq!(hex::encode(frontier.root()), *want);
        }
    }

    #[test]
    fn every_inclusion_path_verifies_and_a_wrong_one_does_not() {
        for n in 1..=33 {
            let all = leaves(n);
            let head = root(&all);
            for i in 0..n {
                let path = inclusion_path(i, &all);
                assert!(verify_inclusion(&all[i], i as u64, n as u64, &path, &head));
                let other = leaf_hash(b"not in the tree");
                assert!(!verify_inclusion(&other, i as u64, n as u64, &path, &head));
                // (Another tree size can accept the same path and root: a root is only
                // meaningful with the size it is signed with, as checkpoints are.)
                if n > 1 {
                    let other_index = ((i + 1) % n) as u64;
                    assert!(!verify_inclusion(
                        &all[i],
                        other_index,
                        n as u64,
                        &path,
                        &head
                    ));
                }
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_a_changed_history_does_not() {
        for n in 1..=33 {
            let all = leaves(n);
            let new_root = root(&all);
            for m in 1..=n {
                let old_root = root(&all[..m]);
                let proof = consistency_proof(m, &all);
                assert!(
                    verify_consistency(m as u64, n as u64, &old_root, &new_root, &proof),
                    "{m} -> {n}"
                );
                let mut changed = all.clone();
                changed[m - 1] = leaf_hash(b"rewritten");
                let forged = consistency_proof(m, &changed);
                assert!(
                    !verify_consistency(m as u64, n as u64, &old_root, &root(&changed), &forged),
                    "a rewritten leaf {m} of {n} is caught"
                );
            }
        }
    }
}
