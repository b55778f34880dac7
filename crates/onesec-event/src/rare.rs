//! [`Rare`]: a part of an event that most events leave empty, kept out of line.
//!
//! Why: an [`Event`](crate::Event) was 912 bytes, over half of them the resolver's
//! [`Resolved`](crate::Resolved) and the [`Physical`](crate::Physical) details, which a
//! decoder of cyber events never writes. A decoded body of 8 MiB held 16 MiB of `Event`s alone,
//! and moving and writing them cost more than a third of decoding a JSON record
//! (`docs/benchmarks.md`, "Decoders, session 10"). Empty, such a part is one null pointer; it is
//! allocated on the first write.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::ops::{Deref, DerefMut};

/// A type with one empty value that lives for the whole program, which [`Rare`] lends while it
/// holds nothing.
pub trait Empty: Default + PartialEq + 'static {
    /// The empty value (equal to `Default::default()`).
    fn empty() -> &'static Self;
}

/// A `T` that is usually empty: `None` until first written through [`DerefMut`], then boxed.
/// Reads see [`Empty::empty`] while nothing was written, so it reads, compares and serialises
/// exactly as a plain `T` would.
#[derive(Clone, Default)]
pub struct Rare<T>(Option<Box<T>>);

impl<T: Empty> Rare<T> {
    /// Whether it holds the empty value (never written, or written back to empty).
    pub fn is_empty(&self) -> bool {
        self.0.as_deref().is_none_or(|value| value == T::empty())
    }

    /// Makes it empty again, freeing what it held.
    pub fn clear(&mut self) {
        self.0 = None;
    }
}

impl<T: Empty> Deref for Rare<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.0.as_deref().unwrap_or_else(|| T::empty())
    }
}

impl<T: Empty> DerefMut for Rare<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.get_or_insert_with(Box::default)
    }
}

impl<T: Empty> From<T> for Rare<T> {
    fn from(value: T) -> Rare<T> {
        if &value == T::empty() {
            Rare(None)
        } else {
            Rare(Some(Box::new(value)))
        }
    }
}

impl<T: Empty> PartialEq for Rare<T> {
    fn eq(&self, other: &Rare<T>) -> bool {
        **self == **other
    }
}

impl<T: Empty + Eq> Eq for Rare<T> {}

impl<T: Empty + fmt::Debug> fmt::Debug for Rare<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: Empty + Serialize> Serialize for Rare<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

impl<'de, T: Empty + Deserialize<'de>> Deserialize<'de> for Rare<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Rare<T>, D::Error> {
        T::deserialize(deserializer).map(Rare::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    struct Part {
        name: Option<String>,
    }

    impl Empty for Part {
        fn empty() -> &'static Part {
            static EMPTY: Part = Part { name: None };
            &EMPTY
        }
    }

    #[test]
    fn reads_as_empty_until_written_and_allocates_only_then() {
        let mut part: Rare<Part> = Rare::default();
        assert!(part.is_empty() && part.0.is_none());
        assert_eq!(part.name, None);
        assert_eq!(part, Rare::from(Part::default()));
        part.name = Some("door 7".into());
        assert!(!part.is_empty() && part.0.is_some());
        assert_eq!(part.name.as_deref(), Some("door 7"));
        assert_ne!(part, Rare::default());
        part.name = None;
        assert!(part.is_empty(), "written back to empty is empty");
        assert_eq!(part, Rare::default(), "and equal to never written");
        part.name = Some("x".into());
        part.clear();
        assert!(part.0.is_none());
    }

    #[test]
    fn serialises_as_the_plain_value() {
        let mut part: Rare<Part> = Rare::default();
        assert_eq!(serde_json::to_string(&part).unwrap(), r#"{"name":null}"#);
        part.name = Some("cam 2".into());
        let json = serde_json::to_string(&part).unwrap();
        assert_eq!(json, serde_json::to_string(&*part).unwrap());
        let back: Rare<Part> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, part);
        let empty: Rare<Part> = serde_json::from_str(r#"{"name":null}"#).unwrap();
        assert!(
            empty.0.is_none(),
            "an empty value read back allocates nothing"
        );
    }
}
