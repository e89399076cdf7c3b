//! Packing many power-of-two tables into one multilinear polynomial, and cutting that into
//! several committed polynomials when it is larger than one may be ([`Chunks`]).
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
        Self::with_late(item_vars, &[])
    }

    /// [`Self::new`], with the items flagged in `late` placed after all the others (in
    /// decreasing size too, each at an offset aligned to its size: at most its own size of
    /// padding before the first), so that they land in the table's last chunk.
    pub fn with_late(item_vars: &[u32], late: &[bool]) -> Self {
        let mut order: Vec<usize> = (0..item_vars.len()).collect();
        let is_late = |i: usize| late.get(i).copied().unwrap_or(false);
        order.sort_by_key(|&i| (is_late(i), std::cmp::Reverse(item_vars[i])));
        let mut items = vec![(0usize, 0u32); item_vars.len()];
        let mut offset = 0usize;
        for i in order {
            let size = 1usize << item_vars[i];
            offset = offset.next_multiple_of(size);
            items[i] = (offset, item_vars[i]);
            offset += size;
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

impl Packing {
    /// Entries up to the end of the last item (the rest is padding).
    pub fn used(&self) -> usize {
        self.items
            .iter()
            .map(|&(offset, n)| offset + (1usize << n))
            .max()
            .unwrap_or(0)
    }

    /// The packed table's chunk `k` (of `chunks`), zero-padded to its size.
    pub fn chunk_of(packed: &[M31], chunks: &Chunks, k: usize) -> Vec<M31> {
        let start = (k << chunks.chunk_vars).min(packed.len());
        let len = 1usize << chunks.vars[k];
        let mut out = packed[start..(start + len).min(packed.len())].to_vec();
        out.resize(len, M31::from_u32_unchecked(0));
        out
    }

    /// Splits the packed table into polynomials of at most `2^max_vars` entries, or `None`
    /// if an item is larger than that.
    pub fn chunks(&self, max_vars: u32) -> Option<Chunks> {
        if self.items.iter().any(|&(_, n)| n > max_vars) {
            return None;
        }
        let chunk_vars = max_vars.min(self.n_vars);
        let size = 1usize << chunk_vars;
        let used = self.used().max(1);
        let n_chunks = used.div_ceil(size);
        let vars = (0..n_chunks)
            .map(|k| {
                let len = (used - k * size).min(size);
                len.max(2).next_power_of_two().ilog2()
            })
            .collect();
        Some(Chunks {
            total_vars: self.n_vars,
            chunk_vars,
            vars,
        })
    }
}

impl Packing {
    /// The chunks to commit: chunk size `2^c` for `c` among `m`, `m - 1`, `m - 2` (`m` the
    /// smaller of the packed table's variables and `max_vars`, `c` at least the largest
    /// item's), the one committing the fewest entries, counting `2^(m-3)` more per chunk for
    /// its decommitment paths. A table just over a power of two is committed as one full
    /// chunk and a small trimmed one instead of being padded to twice its size. `None` if an
    /// item is larger than `2^max_vars`.
    pub fn trimmed_chunks(&self, max_vars: u32) -> Option<Chunks> {
        let top = self.n_vars.min(max_vars);
        let largest = self.items.iter().map(|&(_, v)| v).max().unwrap_or(1);
        let per_chunk = 1usize << top.saturating_sub(3);
        let mut best: Option<(usize, Chunks)> = None;
        for c in (top.saturating_sub(2).max(largest).max(1)..=top).rev() {
            let Some(chunks) = self.chunks(c) else {
                continue;
            };
            let cost: usize = chunks.vars.iter().map(|&v| (1usize << v) + per_chunk).sum();
            if best.as_ref().is_none_or(|(b, _)| cost < *b) {
                best = Some((cost, chunks));
            }
        }
        best.map(|(_, c)| c)
    }
}

/// A packed table cut along its top index bits into polynomials committed one by one: chunk
/// `k` holds entries `[k 2^c, (k + 1) 2^c)`, the last one trimmed to the power of two that
/// covers its items, chunks of padding only dropped. Items are aligned and at most `2^c`, so
/// each lies inside one chunk, and a claim on the packed table at a point whose first
/// coordinates are the item's slot bits is a claim on one chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunks {
    /// Variables of the whole packed table.
    pub total_vars: u32,
    /// `c`: variables of every chunk but possibly the last.
    pub chunk_vars: u32,
    /// Variables of each chunk.
    pub vars: Vec<u32>,
}

impl Chunks {
    /// `(chunk, offset inside it)` of a packed-table offset.
    pub fn locate(&self, offset: usize) -> (usize, usize) {
        (
            offset >> self.chunk_vars,
            offset & ((1 << self.chunk_vars) - 1),
        )
    }

    /// The claim on the packed table as a claim on one chunk; `None` if its point does not
    /// start with slot bits of a kept chunk (not a lifted item claim).
    pub fn route(&self, claim: &Claim) -> Option<(usize, Claim)> {
        let prefix = (self.total_vars - self.chunk_vars) as usize;
        if claim.point.len() != self.total_vars as usize {
            return None;
        }
        let bit = |v: &QM31| {
            if *v == QM31::from(M31::from_u32_unchecked(0)) {
                Some(0usize)
            } else if *v == QM31::from(M31::from_u32_unchecked(1)) {
                Some(1)
            } else {
                None
            }
        };
        let mut chunk = 0usize;
        for v in &claim.point[..prefix] {
            chunk = (chunk << 1) | bit(v)?;
        }
        let vars = *self.vars.get(chunk)? as usize;
        // A trimmed chunk: the dropped top coordinates must be zero.
        let skip = prefix + self.chunk_vars as usize - vars;
        if claim.point[prefix..skip].iter().any(|v| bit(v) != Some(0)) {
            return None;
        }
        Some((chunk, Claim::new(claim.point[skip..].to_vec(), claim.value)))
    }
}

/// Sorts claims on a packed table (weights or advice) into per-chunk claims; a claim that is
/// not on one chunk means the circuit is inconsistent.
pub fn route_claims(
    chunks: &Chunks,
    claims: Vec<Claim>,
) -> Result<Vec<Vec<Claim>>, crate::error::VerifyError> {
    let mut out = vec![Vec::new(); chunks.vars.len()];
    for c in &claims {
        let (k, routed) = chunks.route(c).ok_or_else(|| {
            crate::error::VerifyError::MalformedModel("a claim off its chunk".into())
        })?;
        out[k].push(routed);
    }
    Ok(out)
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

/// The opening's polynomials and claim lists, the same for prover and verifier: the weight
/// chunks, then the advice chunks, each only when some claim landed on it. `T` is a committed
/// polynomial (prover) or its commitment (verifier).
pub fn opening_lists<'a, T>(
    weights: (&Chunks, &'a [T], Vec<Claim>),
    advice: (&Chunks, &'a [T], Vec<Claim>),
) -> Result<(Vec<&'a T>, Vec<Vec<pcs::Claim>>), crate::error::VerifyError> {
    let mut polys = Vec::new();
    let mut lists = Vec::new();
    for (chunks, items, claims) in [weights, advice] {
        for (item, claims) in items.iter().zip(route_claims(chunks, claims)?) {
            if !claims.is_empty() {
                polys.push(item);
                lists.push(pcs_claims(claims));
            }
        }
    }
    Ok((polys, lists))
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

    #[test]
    fn late_items_go_last_at_aligned_offsets() {
        let p = Packing::with_late(&[3, 4, 1, 2], &[false, true, false, false]);
        // 3 at 0, 2 at 8, 1 at 12, then the late 4 aligned to 16.
        assert_eq!(p.items, vec![(0, 3), (16, 4), (12, 1), (8, 2)]);
        assert_eq!(p.used(), 32);
        assert_eq!(
            Packing::with_late(&[3, 4], &[]).items,
            Packing::new(&[3, 4]).items
        );
    }

    #[test]
    fn routed_claims_hold_on_their_chunk() {
        let sizes = [3u32, 3, 2, 1, 1, 3];
        let p = Packing::new(&sizes);
        assert!(p.chunks(2).is_none(), "an item above the chunk size");
        let tables: Vec<Vec<M31>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                (0..1u32 << n)
                    .map(|j| M31::from(j * 7 + i as u32))
                    .collect()
            })
            .collect();
        let refs: Vec<&[M31]> = tables.iter().map(|t| t.as_slice()).collect();
        let packed = p.pack(&refs);
        let chunks = p.chunks(3).unwrap();
        // 8 + 8 + 8 + 4 + 2 + 2 = 32 entries: four chunks of 8, none trimmed.
        assert_eq!(chunks.vars, vec![3, 3, 3, 3]);
        let small = Packing::new(&[3, 1]).chunks(3).unwrap();
        assert_eq!(small.vars, vec![3, 1], "last chunk trimmed to its items");
        for (i, t) in tables.iter().enumerate() {
            let pt: Vec<QM31> = (0..sizes[i])
                .map(|j| QM31::from_u32_unchecked(j + 5, 1, 2, 3))
                .collect();
            let c = Claim::new(pt.clone(), eval_mle_base(t, &pt));
            let (k, routed) = chunks.route(&p.lift(i, &c)).unwrap();
            let (offset, _) = p.items[i];
            assert_eq!(chunks.locate(offset).0, k);
            let chunk = &packed[k << 3..(k + 1) << 3];
            assert_eq!(eval_mle_base(chunk, &routed.point), c.value);
        }
        // A point that is not an item's lifted claim is refused.
        let free = Claim::new(vec![QM31::from_u32_unchecked(9, 0, 0, 0); 5], c_zero());
        assert!(chunks.route(&free).is_none());
    }

    #[test]
    fn trimmed_chunks_drop_padding() {
        // 2^10 + 2^7 + 2^4 entries: one chunk of 2^10 and one of 2^8 instead of 2^11.
        let p = Packing::new(&[7, 10, 4]);
        assert_eq!(p.n_vars, 11);
        let chunks = p.trimmed_chunks(u32::MAX).unwrap();
        assert_eq!((chunks.chunk_vars, chunks.vars.clone()), (10, vec![10, 8]));
        let tables: Vec<Vec<M31>> = [7u32, 10, 4]
            .iter()
            .map(|&n| (0..1u32 << n).map(|j| M31::from(j * 3 + n)).collect())
            .collect();
        let refs: Vec<&[M31]> = tables.iter().map(|t| t.as_slice()).collect();
        let packed = p.pack(&refs);
        for (i, t) in tables.iter().enumerate() {
            let n = t.len().ilog2();
            let pt: Vec<QM31> = (0..n)
                .map(|j| QM31::from_u32_unchecked(j + 2, 7, 1, j))
                .collect();
            let c = Claim::new(pt.clone(), eval_mle_base(t, &pt));
            let (k, routed) = chunks.route(&p.lift(i, &c)).unwrap();
            let chunk = Packing::chunk_of(&packed, &chunks, k);
            assert_eq!(eval_mle_base(&chunk, &routed.point), c.value, "item {i}");
        }
        // A table that fills its power of two stays one chunk.
        let full = Packing::new(&[9, 9, 9, 9])
            .trimmed_chunks(u32::MAX)
            .unwrap();
        assert_eq!(full.vars, vec![11]);
        // Under a cap of 2^9 entries: four chunks of 2^9; an item above the cap is refused.
        let capped = Packing::new(&[9, 9, 9, 9]).trimmed_chunks(9).unwrap();
        assert_eq!(capped.vars, vec![9, 9, 9, 9]);
        assert!(Packing::new(&[10, 2]).trimmed_chunks(9).is_none());
    }

    fn c_zero() -> QM31 {
        QM31::from(M31::from_u32_unchecked(0))
    }
}
