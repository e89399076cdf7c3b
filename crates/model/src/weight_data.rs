//! A weight's values, shared between the graphs built from one model, with the power-of-two
//! blocks a builder cuts it into ([`crate::split`]) cut once.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// A weight's values, shared: the graphs built from one model (a decoding session builds one
/// per step) and the model itself hold one copy, so cloning a weight or a graph copies no
/// values. Writing through it copies on the first write when shared. The power-of-two blocks
/// a graph builder cuts it into ([`WeightData::block`]) are cut once and shared too.
#[derive(Clone, Debug, Default)]
pub struct WeightData(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    values: Vec<i64>,
    /// Blocks cut from `values`, by `(row0, rows, col0, cols)`.
    blocks: Mutex<HashMap<(usize, usize, usize, usize), WeightData>>,
}

impl WeightData {
    /// The `rows x cols` block at `(row0, col0)` of these values read as a row-major matrix
    /// of `width` columns, cut on first use and shared afterwards.
    pub fn block(&self, width: usize, row0: usize, rows: usize, col0: usize, cols: usize) -> Self {
        let cut = || -> WeightData {
            (row0..row0 + rows)
                .flat_map(|r| {
                    self.0.values[r * width + col0..r * width + col0 + cols]
                        .iter()
                        .copied()
                })
                .collect()
        };
        let Ok(mut cache) = self.0.blocks.lock() else {
            return cut();
        };
        cache
            .entry((row0, rows, col0, cols))
            .or_insert_with(cut)
            .clone()
    }
}

impl PartialEq for WeightData {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.values == other.0.values
    }
}

impl Eq for WeightData {}

impl Deref for WeightData {
    type Target = Vec<i64>;
    fn deref(&self) -> &Vec<i64> {
        &self.0.values
    }
}

impl DerefMut for WeightData {
    fn deref_mut(&mut self) -> &mut Vec<i64> {
        if Arc::get_mut(&mut self.0).is_none() {
            self.0 = Arc::new(Shared {
                values: self.0.values.clone(),
                blocks: Mutex::default(),
            });
        }
        let Some(shared) = Arc::get_mut(&mut self.0) else {
            unreachable!("just made unique")
        };
        // The values may change: blocks cut from them are stale.
        shared.blocks = Mutex::default();
        &mut shared.values
    }
}

impl From<Vec<i64>> for WeightData {
    fn from(values: Vec<i64>) -> Self {
        Self(Arc::new(Shared {
            values,
            blocks: Mutex::default(),
        }))
    }
}

impl FromIterator<i64> for WeightData {
    fn from_iter<I: IntoIterator<Item = i64>>(iter: I) -> Self {
        Self::from(iter.into_iter().collect::<Vec<i64>>())
    }
}

impl Serialize for WeightData {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.values.as_slice().serialize(s)
    }
}

impl<'de> Deserialize<'de> for WeightData {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<i64>::deserialize(d).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_cut_once_and_writes_copy() {
        let w: WeightData = (0..12).collect(); // 3 x 4
        let b = w.block(4, 1, 2, 2, 2);
        assert_eq!(*b, vec![6, 7, 10, 11]);
        let again = w.block(4, 1, 2, 2, 2);
        assert!(Arc::ptr_eq(&b.0, &again.0), "the block is shared");
        // A write to a shared copy leaves the others (and their blocks) alone.
        let mut c = w.clone();
        c[6] = 100;
        assert_eq!(w[6], 6);
        assert_eq!(*c.block(4, 1, 2, 2, 2), vec![100, 7, 10, 11]);
        assert_eq!(*w.block(4, 1, 2, 2, 2), vec![6, 7, 10, 11]);
        // A write to a unique copy drops its stale blocks.
        let mut u: WeightData = (0..12).collect();
        let _ = u.block(4, 0, 1, 0, 4);
        u[0] = -1;
        assert_eq!(*u.block(4, 0, 1, 0, 4), vec![-1, 1, 2, 3]);
        assert_eq!(
            bincode::serialize(&u).unwrap(),
            bincode::serialize(&*u).unwrap()
        );
    }
}
