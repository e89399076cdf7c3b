//! Canonical encodings of M31 elements: integers in `[0, p)`. STWO's own `Deserialize` for
//! `M31` accepts any `u32`, so every public type of this crate (de)serialises its field elements
//! through this module and rejects values `>= p`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Error as _, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserializer, Serializer};
use stwo::core::fields::m31::{M31, P};

use crate::error::Error;

/// Parses a canonical M31 element.
pub fn m31_from_u32(value: u32) -> Result<M31, Error> {
    if value < P {
        Ok(M31(value))
    } else {
        Err(Error::NonCanonical { value })
    }
}

/// Little-endian bytes of the canonical integers, 4 per element.
pub fn m31s_to_le_bytes(values: &[M31]) -> Vec<u8> {
    values.iter().flat_map(|x| x.0.to_le_bytes()).collect()
}

/// Serde `with` module for `[M31; N]`: a tuple of `N` canonical `u32`s.
pub mod m31_array {
    use super::*;

    pub fn serialize<S: Serializer, const N: usize>(
        values: &[M31; N],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(N)?;
        for x in values {
            tuple.serialize_element(&x.0)?;
        }
        tuple.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        deserializer: D,
    ) -> Result<[M31; N], D::Error> {
        deserializer.deserialize_tuple(N, ArrayVisitor::<N>(PhantomData))
    }

    struct ArrayVisitor<const N: usize>(PhantomData<[M31; N]>);

    impl<'de, const N: usize> Visitor<'de> for ArrayVisitor<N> {
        type Value = [M31; N];

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{N} canonical M31 elements")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = [M31(0); N];
            for (i, slot) in out.iter_mut().enumerate() {
                let value: u32 = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(i, &self))?;
                *slot = m31_from_u32(value).map_err(A::Error::custom)?;
            }
            if seq.next_element::<u32>()?.is_some() {
                return Err(A::Error::invalid_length(N + 1, &self));
            }
            Ok(out)
        }
    }
}

/// Serde `with` module for `[[M31; 8]; N]` (Merkle paths, frontiers): a flat tuple of `8·N`
/// canonical `u32`s.
pub mod digest_array {
    use super::*;
    use crate::sponge::{Digest, DIGEST_LEN};

    pub fn serialize<S: Serializer, const N: usize>(
        values: &[Digest; N],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(N * DIGEST_LEN)?;
        for x in values.iter().flatten() {
            tuple.serialize_element(&x.0)?;
        }
        tuple.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        deserializer: D,
    ) -> Result<[Digest; N], D::Error> {
        deserializer.deserialize_tuple(N * DIGEST_LEN, DigestsVisitor::<N>(PhantomData))
    }

    struct DigestsVisitor<const N: usize>(PhantomData<[Digest; N]>);

    impl<'de, const N: usize> Visitor<'de> for DigestsVisitor<N> {
        type Value = [Digest; N];

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{} canonical M31 elements", N * DIGEST_LEN)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = [[M31(0); DIGEST_LEN]; N];
            for (i, slot) in out.iter_mut().flatten().enumerate() {
                let value: u32 = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(i, &self))?;
                *slot = m31_from_u32(value).map_err(A::Error::custom)?;
            }
            if seq.next_element::<u32>()?.is_some() {
                return Err(A::Error::invalid_length(N * DIGEST_LEN + 1, &self));
            }
            Ok(out)
        }
    }
}

/// Serde `with` module for a single `M31`.
pub mod m31 {
    use super::*;
    use serde::Deserialize;

    pub fn serialize<S: Serializer>(value: &M31, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(value.0)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<M31, D::Error> {
        m31_from_u32(u32::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Wrapper(
        #[serde(with = "m31_array")] [M31; 3],
        #[serde(with = "m31")] M31,
    );

    #[test]
    fn canonical_round_trip_works() {
        let w = Wrapper([M31(0), M31(1), M31(P - 1)], M31(7));
        let json = serde_json::to_string(&w).unwrap();
        assert_eq!(serde_json::from_str::<Wrapper>(&json).unwrap(), w);
        let bytes = bincode::serialize(&w).unwrap();
        assert_eq!(bincode::deserialize::<Wrapper>(&bytes).unwrap(), w);
    }

    #[test]
    fn non_canonical_fails() {
        assert!(serde_json::from_str::<Wrapper>(&format!("[[0,1,{P}],7]")).is_err());
        assert!(serde_json::from_str::<Wrapper>(&format!("[[0,1,2],{}]", u32::MAX)).is_err());
        assert!(serde_json::from_str::<Wrapper>("[[0,1],7]").is_err());
        assert!(serde_json::from_str::<Wrapper>("[[0,1,2,3],7]").is_err());
        assert_eq!(m31_from_u32(P), Err(Error::NonCanonical { value: P }));
    }
}
