//! Building, proving and submitting transactions: deposit, transfer (a spend) and withdraw,
//! with coin selection over the scanned, unspent notes.
//!
//! Selected notes are reserved in the store before proving (so two processes never pick the
//! same note), marked spent once the node accepts, and released if it refuses.

use rand::{CryptoRng, RngCore};
use stwo::core::fields::m31::M31;
use vm31::tx::{
    prove_deposit, prove_spend, prove_withdraw, DepositStatement, ExternalData, SpendInput,
    SpendStatement, SpendWitness, WithdrawStatement, WithdrawWitness,
};
use vm31::{ciphertext_hash, encrypt, Address, Note};
use vm31_api::{CiphertextHex, Receipt, Submission};

use crate::client::NodeClient;
use crate::store::OwnedNoteRecord;
use crate::wallet::{Wallet, WalletError};

/// Who relays a transaction and what it is paid.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relay {
    pub relayer: [u8; 32],
    pub fee: u64,
}

/// An accepted transaction.
#[derive(Clone, Debug)]
pub struct Sent {
    pub receipt: Receipt,
    /// Input notes consumed (their positions).
    pub spent: Vec<u64>,
    /// Change kept by the wallet (arrives with the next scan).
    pub change: u64,
}

/// The notes to spend for `need` of `asset`: the smallest single note that covers it, else the
/// pair with the smallest sum that does.
pub fn select(
    notes: &[OwnedNoteRecord],
    asset: u32,
    need: u128,
) -> Result<Vec<OwnedNoteRecord>, WalletError> {
    let have: u128 = notes.iter().map(|n| u128::from(n.note.amount)).sum();
    if have < need {
        return Err(WalletError::InsufficientFunds { asset, need, have });
    }
    // `notes` is sorted by amount, smallest first.
    if let Some(one) = notes.iter().find(|n| u128::from(n.note.amount) >= need) {
        return Ok(vec![one.clone()]);
    }
    let top: Vec<&OwnedNoteRecord> = notes.iter().rev().take(256).collect();
    let mut best: Option<(u128, usize, usize)> = None;
    for i in 0..top.len() {
        for j in i + 1..top.len() {
            let sum = u128::from(top[i].note.amount) + u128::from(top[j].note.amount);
            if sum >= need && best.is_none_or(|(b, _, _)| sum < b) {
                best = Some((sum, i, j));
            }
        }
    }
    match best {
        Some((_, i, j)) => Ok(vec![top[i].clone(), top[j].clone()]),
        None => Err(WalletError::TooFragmented {
            asset,
            need,
            largest_two: top.iter().take(2).map(|n| u128::from(n.note.amount)).sum(),
        }),
    }
}

fn to_u64(x: u128, what: &str) -> Result<u64, WalletError> {
    u64::try_from(x).map_err(|_| WalletError::Invalid(format!("{what} exceeds 2^64 - 1")))
}

fn proof_hex(bytes: Result<Vec<u8>, vm31::stark::ProofError>) -> Result<String, WalletError> {
    Ok(hex::encode(bytes?))
}

impl Wallet {
    /// Deposits `amount` of `asset` from the public account `from` into a note of this wallet.
    pub fn deposit<R: RngCore + CryptoRng>(
        &mut self,
        client: &NodeClient,
        amount: u64,
        asset: u32,
        from: [u8; 32],
        rng: &mut R,
    ) -> Result<Sent, WalletError> {
        let deployment = self.deployment(client)?;
        let me = self.address();
        let note = Note::new(me.public_key, M31(asset), amount, rng);
        let ct = encrypt(&note, &me.encryption_key, rng)
            .map_err(|e| WalletError::Invalid(e.to_string()))?;
        let statement = DepositStatement {
            amount,
            asset_id: note.asset_id,
            commitment: note.commitment(),
            ciphertext_hash: ciphertext_hash(&ct),
            external: ExternalData {
                recipient: from,
                ..ExternalData::default()
            },
        };
        let proof = prove_deposit(&statement, &deployment, &note, rng)?;
        let submission = Submission::Deposit {
            statement,
            ciphertext: CiphertextHex::from(&ct),
            proof: proof_hex(proof.to_bytes())?,
        };
        let receipt = client.call("pool_submit", &submission)?;
        Ok(Sent {
            receipt,
            spent: Vec::new(),
            change: 0,
        })
    }

    /// Pays `amount` of `asset` to `to` (a spend of one or two notes, change to self).
    pub fn transfer<R: RngCore + CryptoRng>(
        &mut self,
        client: &NodeClient,
        to: &Address,
        amount: u64,
        asset: u32,
        relay: Relay,
        rng: &mut R,
    ) -> Result<Sent, WalletError> {
        let deployment = self.deployment(client)?;
        let need = u128::from(amount) + u128::from(relay.fee);
        let inputs = select(&self.store.spendable(asset)?, asset, need)?;
        let total: u128 = inputs.iter().map(|n| u128::from(n.note.amount)).sum();
        let change = to_u64(total - need, "change")?;
        let me = self.address();
        let outputs = [
            Note::new(to.public_key, M31(asset), amount, rng),
            Note::new(me.public_key, M31(asset), change, rng),
        ];
        let cts = [
            encrypt(&outputs[0], &to.encryption_key, rng),
            encrypt(&outputs[1], &me.encryption_key, rng),
        ];
        let [ct0, ct1] = cts;
        let cts = [ct0, ct1].map(|c| c.map_err(|e| WalletError::Invalid(e.to_string())));
        let [ct0, ct1] = cts;
        let (ct0, ct1) = (ct0?, ct1?);
        let root = inputs[0].witness.root();
        let real = |n: &OwnedNoteRecord| SpendInput {
            spending_key: self.spending_key.clone(),
            note: n.note,
            index: n.witness.position(),
            path: n.witness.path(),
            dummy: false,
        };
        // One note pays with a dummy beside it, in random order: the proof does not tell.
        let spend_inputs = match inputs.as_slice() {
            [one] => {
                let dummy = SpendInput::dummy(&self.spending_key, M31(asset), rng);
                if rng.next_u32() & 1 == 0 {
                    [real(one), dummy]
                } else {
                    [dummy, real(one)]
                }
            }
            [a, b] => [real(a), real(b)],
            _ => return Err(WalletError::Invalid("coin selection gave no notes".into())),
        };
        let statement = SpendStatement {
            root,
            nullifiers: [spend_inputs[0].nullifier(), spend_inputs[1].nullifier()],
            output_commitments: outputs.map(|n| n.commitment()),
            ciphertext_hashes: [ciphertext_hash(&ct0), ciphertext_hash(&ct1)],
            external: ExternalData {
                recipient: [0; 32],
                relayer: relay.relayer,
                fee: relay.fee,
                fee_asset: M31(asset),
            },
        };
        let witness = SpendWitness {
            inputs: spend_inputs,
            outputs,
        };
        let positions: Vec<u64> = inputs.iter().map(|n| n.position).collect();
        let tag = hex::encode(rng.next_u64().to_le_bytes());
        self.store.reserve(&positions, &tag)?;
        let sent = (|| {
            let proof = prove_spend(&statement, &deployment, &witness, rng)?;
            let submission = Submission::Spend {
                statement: statement.clone(),
                ciphertexts: [CiphertextHex::from(&ct0), CiphertextHex::from(&ct1)],
                proof: proof_hex(proof.to_bytes())?,
            };
            Ok::<Receipt, WalletError>(client.call("pool_submit", &submission)?)
        })();
        let spent: Vec<_> = inputs.iter().map(|n| n.nullifier).collect();
        self.settle(sent, &tag, &spent, positions, change)
    }

    /// Withdraws `amount` of `asset` to the public account `recipient` from one note; the rest
    /// (less the relayer's fee) stays in the pool as change.
    pub fn withdraw<R: RngCore + CryptoRng>(
        &mut self,
        client: &NodeClient,
        amount: u64,
        asset: u32,
        recipient: [u8; 32],
        relay: Relay,
        rng: &mut R,
    ) -> Result<Sent, WalletError> {
        let deployment = self.deployment(client)?;
        let need = u128::from(amount) + u128::from(relay.fee);
        let notes = self.store.spendable(asset)?;
        let Some(input) = notes.iter().find(|n| u128::from(n.note.amount) >= need) else {
            let have: u128 = notes.iter().map(|n| u128::from(n.note.amount)).sum();
            if have < need {
                return Err(WalletError::InsufficientFunds { asset, need, have });
            }
            let largest = notes.last().map_or(0, |n| n.note.amount);
            return Err(WalletError::Invalid(format!(
                "a withdrawal spends one note and the largest holds {largest} of the {need} needed; transfer to yourself first to merge notes"
            )));
        };
        let change_amount = to_u64(u128::from(input.note.amount) - need, "change")?;
        let me = self.address();
        let change = Note::new(me.public_key, M31(asset), change_amount, rng);
        let ct = encrypt(&change, &me.encryption_key, rng)
            .map_err(|e| WalletError::Invalid(e.to_string()))?;
        let statement = WithdrawStatement {
            root: input.witness.root(),
            nullifier: input.nullifier,
            asset_id: M31(asset),
            amount,
            change_commitment: change.commitment(),
            change_ciphertext_hash: ciphertext_hash(&ct),
            external: ExternalData {
                recipient,
                relayer: relay.relayer,
                fee: relay.fee,
                fee_asset: M31(asset),
            },
        };
        let witness = WithdrawWitness {
            spending_key: self.spending_key.clone(),
            note: input.note,
            index: input.witness.position(),
            path: input.witness.path(),
            change,
        };
        let tag = hex::encode(rng.next_u64().to_le_bytes());
        self.store.reserve(&[input.position], &tag)?;
        let sent = (|| {
            let proof = prove_withdraw(&statement, &deployment, &witness, rng)?;
            let submission = Submission::Withdraw {
                statement,
                ciphertext: CiphertextHex::from(&ct),
                proof: proof_hex(proof.to_bytes())?,
            };
            Ok::<Receipt, WalletError>(client.call("pool_submit", &submission)?)
        })();
        self.settle(
            sent,
            &tag,
            &[input.nullifier],
            vec![input.position],
            change_amount,
        )
    }

    /// Marks the inputs spent if the node accepted, releases them otherwise.
    fn settle(
        &mut self,
        sent: Result<Receipt, WalletError>,
        tag: &str,
        nullifiers: &[vm31::Nullifier],
        positions: Vec<u64>,
        change: u64,
    ) -> Result<Sent, WalletError> {
        match sent {
            Ok(receipt) => {
                self.store.mark_spent_by_nullifiers(nullifiers)?;
                Ok(Sent {
                    receipt,
                    spent: positions,
                    change,
                })
            }
            Err(e) => {
                self.store.release(tag)?;
                Err(e)
            }
        }
    }
}
