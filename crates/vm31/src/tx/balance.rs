//! Filling the value columns of a span of notes (spend and withdraw share it).

#[cfg(feature = "prover")]
use {
    crate::note::{amount_to_limbs, Note},
    crate::stark::value::carry_bits,
    crate::stark::{RowWitness, Schedule, ValueRole, ValueWitness},
    stwo::core::fields::m31::{M31, P},
};

/// Fills the value columns row by row: each value row takes the next note's asset, amount bits
/// and updated balance; kept rows copy the previous row; the final row gets the carry bits of
/// `balance − public_out` (zero if the notes do not balance, which the final row refuses).
#[cfg(feature = "prover")]
pub(crate) fn fill_values<'a>(
    schedule: &Schedule,
    rows: &mut [RowWitness],
    mut notes: impl Iterator<Item = &'a Note>,
    public_out: u64,
) {
    let mut current = ValueWitness::default();
    let mut balance = [0i64; 3];
    for (kind, row) in schedule.rows.iter().zip(rows.iter_mut()) {
        let value_note = kind.value.and_then(|role| Some((role, notes.next()?)));
        if let Some((role, note)) = value_note {
            let limbs = amount_to_limbs(note.amount).map(|l| i64::from(l.0));
            let sign = if role == ValueRole::Out { -1 } else { 1 };
            if role == ValueRole::First {
                balance = [0; 3];
            }
            for (b, l) in balance.iter_mut().zip(limbs) {
                *b += sign * l;
            }
            current = ValueWitness {
                asset: note.asset_id,
                balance: balance.map(signed_m31),
                bits: note.amount,
            };
            row.value = current;
        } else if kind.keep_balance {
            row.value = ValueWitness { bits: 0, ..current };
        }
        if kind.balance_final {
            let out = amount_to_limbs(public_out).map(|l| i64::from(l.0));
            row.value.bits = carry_bits(balance, out).unwrap_or(0);
        }
    }
}

#[cfg(feature = "prover")]
fn signed_m31(x: i64) -> M31 {
    M31(x.rem_euclid(i64::from(P)) as u32)
}
