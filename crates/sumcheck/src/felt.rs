//! Canonical serialisation of field elements.
//!
//! STWO's own `Deserialize` for `M31` accepts any `u32`, including values `>= p` that are not
//! canonical and compare unequal to their reduced form. Every field element that enters a proof
//! or a model file goes through these wrappers, which reject non-canonical encodings.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use stwo::core::fields::m31::{M31, P};
use stwo::core::fields::qm31::QM31;

/// Parses a `u32` as a canonical M31 element.
pub fn m31_from_u32(v: u32) -> Option<M31> {
    (v < P).then(|| M31::from_u32_unchecked(v))
}

/// Parses four `u32`s as a canonical QM31 element.
pub fn qm31_from_u32s(v: [u32; 4]) -> Option<QM31> {
    Some(QM31::from_m31(
        m31_from_u32(v[0])?,
        m31_from_u32(v[1])?,
        m31_from_u32(v[2])?,
        m31_from_u32(v[3])?,
    ))
}

/// The four coordinates of a QM31 element.
pub fn qm31_to_u32s(v: QM31) -> [u32; 4] {
    v.to_m31_array().map(|x| x.0)
}

/// Serde for a single `M31`.
pub mod m31 {
    use super::*;
    pub fn serialize<S: Serializer>(v: &M31, s: S) -> Result<S::Ok, S::Error> {
        v.0.serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<M31, D::Error> {
        let v = u32::deserialize(d)?;
        m31_from_u32(v).ok_or_else(|| D::Error::custom(format!("non-canonical M31 value {v}")))
    }
}

/// Serde for a single `QM31`.
pub mod qm31 {
    use super::*;
    pub fn serialize<S: Serializer>(v: &QM31, s: S) -> Result<S::Ok, S::Error> {
        qm31_to_u32s(*v).serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<QM31, D::Error> {
        let v = <[u32; 4]>::deserialize(d)?;
        qm31_from_u32s(v).ok_or_else(|| D::Error::custom("non-canonical QM31 value"))
    }
}

/// Serde for `Vec<M31>`.
pub mod m31_vec {
    use super::*;
    pub fn serialize<S: Serializer>(v: &[M31], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| x.0))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<M31>, D::Error> {
        let raw = Vec::<u32>::deserialize(d)?;
        raw.into_iter()
            .map(|v| {
                m31_from_u32(v).ok_or_else(|| D::Error::custom(format!("non-canonical M31 {v}")))
            })
            .collect()
    }
}

/// Serde for `Vec<QM31>`.
pub mod qm31_vec {
    use super::*;
    pub fn serialize<S: Serializer>(v: &[QM31], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| qm31_to_u32s(*x)))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<QM31>, D::Error> {
        let raw = Vec::<[u32; 4]>::deserialize(d)?;
        raw.into_iter()
            .map(|v| qm31_from_u32s(v).ok_or_else(|| D::Error::custom("non-canonical QM31 value")))
            .collect()
    }
}

/// Serde for `Vec<Vec<QM31>>`.
pub mod qm31_vec_vec {
    use super::*;
    pub fn serialize<S: Serializer>(v: &[Vec<QM31>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            v.iter()
                .map(|row| row.iter().map(|x| qm31_to_u32s(*x)).collect::<Vec<_>>()),
        )
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<QM31>>, D::Error> {
        let raw = Vec::<Vec<[u32; 4]>>::deserialize(d)?;
        raw.into_iter()
            .map(|row| {
                row.into_iter()
                    .map(|v| {
                        qm31_from_u32s(v)
                            .ok_or_else(|| D::Error::custom("non-canonical QM31 value"))
                    })
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Wrap {
        #[serde(with = "super::qm31")]
        a: QM31,
        #[serde(with = "super::m31_vec")]
        b: Vec<M31>,
    }

    #[test]
    fn roundtrip_works() {
        let w = Wrap {
            a: QM31::from_u32_unchecked(1, 2, 3, P - 1),
            b: vec![M31::from(5), M31::from(P - 1)],
        };
        let s = serde_json::to_string(&w).unwrap();
        assert_eq!(serde_json::from_str::<Wrap>(&s).unwrap(), w);
    }

    #[test]
    fn non_canonical_fails() {
        let s = format!("{{\"a\":[1,2,3,{P}],\"b\":[]}}");
        assert!(serde_json::from_str::<Wrap>(&s).is_err());
        let s = format!("{{\"a\":[1,2,3,4],\"b\":[{P}]}}");
        assert!(serde_json::from_str::<Wrap>(&s).is_err());
    }
}
