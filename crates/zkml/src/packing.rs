//! Packing many power-of-two tables into one multilinear polynomial.
//!
//! Items are placed in decreasing size at aligned offsets, so item `i` with `n_i` variables is
//! the sub-cube of the packed polynomial whose top `N - n_i` index bits equal `slot_i`; a claim
//! `item_i(r) = v` is the claim `packed(bits(slot_i), r) = v`.

use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;

use gkr::Claim;

/// Where each item lives in the packed table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packing {
    /// Variables of the packed polynomial.
    pub n_vars: u32,
    /// Per item: offset in the packed table and its number of variables.
    pub items: Vec<(usize, u32)>,
}

impl Packing {
    /// Lays out items with the given numbers of variables.
    pub fn new(item_vars: &[u32]) -> Self {
        let mut order: Vec<usize> = (0..item_vars.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(item_vars[i]));
        let mut items = vec![(0usize, 0u32); item_vars.len()];
        let mut offset = 0usize;
        for i in order {
            items[i] = (offset, item_vars[i]);
            offset += 1usize << item_vars[i];
        }
        let n_vars = offset.max(2).next_power_of_two().ilog2();
        Self { n_vars, items }
    }

    /// Copies the items into one zero-padded table.
    ///
    /// # Panics
    /// Panics if an item's length differs from the layout (a caller bug).
    pub fn pack(&self, tables: &[&[M31]]) -> Vec<M31> {
        let mut out = vec![M31::from_u32_unchecked(0); 1 << self.n_vars];
        for (&(offset, n), t) in self.items.iter().zip(tables) {
            assert_eq!(t.len(), 1 << n, "packed item length");
            out[offset..offset + t.len()].copy_from_slice(t);
        }
        out
    }

    /// The item's table inside a packed table.
    pub fn slice<'a>(&self, packed: &'a [M31], item: usize) -> &'a [M31] {
        let (offset, n) = self.items[item];
        &packed[offset..offset + (1 << n)]
    }

    /// Lifts a claim on item `item` to a claim on the packed polynomial.
    pub fn lift(&self, item: usize, claim: &Claim) -> Claim {
        let (offset, n) = self.items[item];
        let prefix_len = (self.n_vars - n) as usize;
        let slot = offset >> n;
        let mut point: Vec<QM31> = (0..prefix_len)
            .map(|j| {
                let bit = (slot >> (prefix_len - 1 - j)) & 1;
                QM31::from(M31::from_u32_unchecked(bit as u32))
            })
            .collect();
        point.extend_from_slice(&claim.point);
        Claim::new(point, claim.value)
    }
}

/// Converts claims to the commitment scheme's claim type.
pub fn pcs_claims(claims: Vec<Claim>) -> Vec<pcs::Claim> {
    claims
        .into_iter()
        .map(|c| pcs::Claim {
            point: c.point,
            value: c.value,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sumcheck::eval_mle_base;

    #[test]
    fn lifted_claims_hold() {
        let sizes = [2u32, 4, 1, 3];
        let tables: Vec<Vec<M31>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                (0..1u32 << n)
                    .map(|j| M31::from(j * 3 + i as u32 + 1))
                    .collect()
            })
            .collect();
        let p = Packing::new(&sizes);
        let refs: Vec<&[M31]> = tables.iter().map(|t| t.as_slice()).collect();
        let packed = p.pack(&refs);
        for (i, t) in tables.iter().enumerate() {
            assert_eq!(p.slice(&packed, i), t.as_slice());
            let pt: Vec<QM31> = (0..sizes[i])
                .map(|j| QM31::from_u32_unchecked(j + 9, 2, 3, 4))
                .collect();
            let c = Claim::new(pt.clone(), eval_mle_base(t, &pt));
            let l = p.lift(i, &c);
            assert_eq!(eval_mle_base(&packed, &l.point), l.value);
        }
    }
}
