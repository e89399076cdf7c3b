//! The ggml tensor types this reader decodes, with their block layouts, and their decoding to
//! `f32`. A quantised type packs `block` consecutive values of a row (ggml's `ne[0]`
//! direction) into `bytes` bytes; all scales are little-endian `f16`.
//!
//! - `Q4_0`: `d`, then 16 bytes of nibbles; value `d * (q - 8)`.
//! - `Q4_1`: `d`, `m`, then 16 bytes of nibbles; value `d * q + m`.
//! - `Q8_0`: `d`, then 32 `i8`; value `d * q`.
//!
//! In the 4-bit types byte `j` holds value `j` in its low nibble and value `j + 16` in its
//! high nibble.

use half::f16;

/// A ggml tensor type (`ggml_type`) this reader decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GgmlType {
    F32,
    F16,
    Q4_0,
    Q4_1,
    Q8_0,
}

impl GgmlType {
    /// The type of ggml's id, `None` for one not decoded here.
    pub fn from_id(id: u32) -> Option<Self> {
        Some(match id {
            0 => Self::F32,
            1 => Self::F16,
            2 => Self::Q4_0,
            3 => Self::Q4_1,
            8 => Self::Q8_0,
            _ => return None,
        })
    }

    /// Values per block.
    pub fn block(self) -> usize {
        match self {
            Self::F32 | Self::F16 => 1,
            Self::Q4_0 | Self::Q4_1 | Self::Q8_0 => 32,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 => 2,
            Self::Q4_0 => 18,
            Self::Q4_1 => 20,
            Self::Q8_0 => 34,
        }
    }

    /// Bytes of `n` values, `None` if `n` is not whole blocks or the size overflows.
    pub fn size_of(self, n: u64) -> Option<u64> {
        let block = self.block() as u64;
        n.is_multiple_of(block).then_some(())?;
        (n / block).checked_mul(self.block_bytes() as u64)
    }
}

fn half_at(b: &[u8], i: usize) -> f32 {
    f16::from_le_bytes([b[i], b[i + 1]]).to_f32()
}

/// Decodes `bytes`, whole blocks of type `ty`, appending the values to `out`.
pub fn dequantise(ty: GgmlType, bytes: &[u8], out: &mut Vec<f32>) {
    let blocks = bytes.chunks_exact(ty.block_bytes());
    match ty {
        GgmlType::F32 => out.extend(blocks.map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))),
        GgmlType::F16 => out.extend(blocks.map(|c| half_at(c, 0))),
        GgmlType::Q4_0 => {
            for b in blocks {
                let d = half_at(b, 0);
                let qs = &b[2..18];
                out.extend(qs.iter().map(|q| d * (f32::from(q & 0x0f) - 8.0)));
                out.extend(qs.iter().map(|q| d * (f32::from(q >> 4) - 8.0)));
            }
        }
        GgmlType::Q4_1 => {
            for b in blocks {
                let (d, m) = (half_at(b, 0), half_at(b, 2));
                let qs = &b[4..20];
                out.extend(qs.iter().map(|q| d * f32::from(q & 0x0f) + m));
                out.extend(qs.iter().map(|q| d * f32::from(q >> 4) + m));
            }
        }
        GgmlType::Q8_0 => {
            for b in blocks {
                let d = half_at(b, 0);
                out.extend(b[2..34].iter().map(|&q| d * f32::from(q as i8)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: f32) -> [u8; 2] {
        f16::from_f32(v).to_le_bytes()
    }

    fn decode(ty: GgmlType, bytes: &[u8]) -> Vec<f32> {
        let mut out = Vec::new();
        dequantise(ty, bytes, &mut out);
        out
    }

    #[test]
    fn q4_1_block_works() {
        let mut b = Vec::new();
        b.extend(h(0.5));
        b.extend(h(-1.0));
        // byte j: low nibble j, high nibble 15 - j.
        b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
        let v = decode(GgmlType::Q4_1, &b);
        assert_eq!(v.len(), 32);
        for j in 0..16 {
            assert_eq!(v[j], 0.5 * j as f32 - 1.0);
            assert_eq!(v[j + 16], 0.5 * (15 - j) as f32 - 1.0);
        }
    }

    #[test]
    fn q4_0_block_works() {
        let mut b = h(2.0).to_vec();
        b.extend((0..16u8).map(|j| j | (j << 4)));
        let v = decode(GgmlType::Q4_0, &b);
        assert_eq!(v[0], -16.0);
        assert_eq!(v[15], 14.0);
        assert_eq!(v[16 + 8], 0.0);
    }

    #[test]
    fn q8_0_block_works() {
        let mut b = h(0.25).to_vec();
        b.extend((0..32i8).map(|j| (j - 16) as u8));
        let v = decode(GgmlType::Q8_0, &b);
        assert_eq!(v.len(), 32);
        for (j, x) in v.iter().enumerate() {
            assert_eq!(*x, 0.25 * (j as f32 - 16.0));
        }
    }

    #[test]
    fn plain_types_work() {
        let mut b = 1.5f32.to_le_bytes().to_vec();
        b.extend((-3.0f32).to_le_bytes());
        assert_eq!(decode(GgmlType::F32, &b), [1.5, -3.0]);
        let b = [h(0.5), h(-2.0)].concat();
        assert_eq!(decode(GgmlType::F16, &b), [0.5, -2.0]);
    }

    #[test]
    fn sizes_are_whole_blocks() {
        assert_eq!(GgmlType::Q4_1.size_of(64), Some(40));
        assert_eq!(GgmlType::Q8_0.size_of(33), None);
        assert_eq!(GgmlType::F32.size_of(u64::MAX), None);
        assert_eq!(GgmlType::from_id(14), None);
    }
}
