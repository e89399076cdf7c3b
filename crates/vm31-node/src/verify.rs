//! Checking a submission before it reaches the writer: decoding, the ciphertexts against the
//! statement's hashes, the pool's policy, the root window, then the STARK. What comes out is a
//! [`Verified`] transaction: everything the store needs, nothing it has to trust.

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest as _};
use vm31::stark::{ProofError, TxProof};
use vm31::tx::{
    verify_deposit, verify_spend, verify_withdraw, Deployment, DepositProof, SpendProof,
    WithdrawProof,
};
use vm31::{ciphertext_hash, Ciphertext, Commitment, Digest, Nullifier, RootWindow};

use crate::api::{code, CiphertextHex, RpcError, Submission};

/// The pool's rules beyond the proofs.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Assets a spend may pay a fee in (a relayer is paid from the pool's supply of it).
    pub fee_assets: Vec<u32>,
    /// Smallest deposit.
    pub min_deposit: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            fee_assets: vec![0],
            min_deposit: 1,
        }
    }
}

/// A public movement of an asset into or out of the pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerEntry {
    pub asset: u32,
    /// `deposit` (into the pool), `withdraw` or `relayer_fee` (out of it).
    pub role: &'static str,
    pub account: [u8; 32],
    pub amount: u64,
}

/// A submission whose proof verified.
#[derive(Clone, Debug)]
pub struct Verified {
    pub tx_id: [u8; 32],
    pub kind: &'static str,
    /// The canonical submission, kept for audit and re-verification.
    pub submission: Vec<u8>,
    /// The root the proof refers to (deposits have none).
    pub anchor: Option<Digest>,
    pub nullifiers: Vec<Nullifier>,
    pub leaves: Vec<(Commitment, Ciphertext)>,
    pub ledger: Vec<LedgerEntry>,
}

fn invalid(message: impl Into<String>) -> RpcError {
    RpcError::new(code::INVALID_PARAMS, message)
}

fn policy(message: impl Into<String>) -> RpcError {
    RpcError::new(code::POLICY, message)
}

/// How a proof error reads over JSON-RPC.
pub fn proof_error(e: ProofError) -> RpcError {
    match e {
        ProofError::UnsupportedVersion { .. } => {
            RpcError::new(code::UNSUPPORTED_VERSION, e.to_string())
        }
        ProofError::UnknownRoot { .. } => RpcError::new(
            code::UNKNOWN_ROOT,
            "unknown root: not among the sealed roots of the window",
        ),
        ProofError::InvalidPublicInput { what } => invalid(format!("invalid statement: {what}")),
        other => RpcError::new(code::PROOF_REJECTED, "proof rejected")
            .with_data(serde_json::json!({ "reason": other.to_string() })),
    }
}

fn proof_bytes(hex_proof: &str) -> Result<TxProof, RpcError> {
    let bytes = hex::decode(hex_proof).map_err(|e| invalid(format!("proof is not hex: {e}")))?;
    TxProof::from_bytes(&bytes).map_err(proof_error)
}

fn ciphertext(ct: &CiphertextHex, expected: &Digest) -> Result<Ciphertext, RpcError> {
    let ct = ct.decode().map_err(invalid)?;
    if ciphertext_hash(&ct) != *expected {
        return Err(invalid(
            "a ciphertext does not match the hash in the statement",
        ));
    }
    Ok(ct)
}

/// Checks `submission` for `deployment` against `window`, under `rules`.
pub fn verify_submission(
    submission: &Submission,
    deployment: &Deployment,
    window: &RootWindow,
    rules: &Policy,
) -> Result<Verified, RpcError> {
    let canonical = serde_json::to_vec(submission).map_err(|e| invalid(e.to_string()))?;
    let mut h = Blake2b::<U32>::new();
    h.update(b"vm31.tx.v2");
    h.update(&canonical);
    let tx_id: [u8; 32] = h.finalize().into();
    let verified = |anchor, nullifiers, leaves, ledger| Verified {
        tx_id,
        kind: submission.kind(),
        submission: canonical.clone(),
        anchor,
        nullifiers,
        leaves,
        ledger,
    };
    match submission {
        Submission::Deposit {
            statement,
            ciphertext: ct,
            proof,
        } => {
            let ext = &statement.external;
            if ext.fee != 0 || ext.relayer != [0; 32] {
                return Err(policy("a deposit pays no fee and has no relayer"));
            }
            if statement.amount < rules.min_deposit {
                return Err(policy(format!(
                    "deposit below the minimum of {}",
                    rules.min_deposit
                )));
            }
            let ct = ciphertext(ct, &statement.ciphertext_hash)?;
            verify_deposit(statement, &DepositProof(proof_bytes(proof)?), deployment)
                .map_err(proof_error)?;
            let ledger = vec![LedgerEntry {
                asset: statement.asset_id.0,
                role: "deposit",
                account: ext.recipient,
                amount: statement.amount,
            }];
            Ok(verified(
                None,
                vec![],
                vec![(statement.commitment, ct)],
                ledger,
            ))
        }
        Submission::Withdraw {
            statement,
            ciphertext: ct,
            proof,
        } => {
            if statement.amount == 0 {
                return Err(policy("a withdrawal pays out a positive amount"));
            }
            let ct = ciphertext(ct, &statement.change_ciphertext_hash)?;
            verify_withdraw(
                statement,
                &WithdrawProof(proof_bytes(proof)?),
                deployment,
                window,
            )
            .map_err(proof_error)?;
            let ext = &statement.external;
            let asset = statement.asset_id.0;
            let mut ledger = vec![LedgerEntry {
                asset,
                role: "withdraw",
                account: ext.recipient,
                amount: statement.amount,
            }];
            if ext.fee > 0 {
                ledger.push(LedgerEntry {
                    asset,
                    role: "relayer_fee",
                    account: ext.relayer,
                    amount: ext.fee,
                });
            }
            let leaves = vec![(statement.change_commitment, ct)];
            Ok(verified(
                Some(statement.root),
                vec![statement.nullifier],
                leaves,
                ledger,
            ))
        }
        Submission::Spend {
            statement,
            ciphertexts,
            proof,
        } => {
            let ext = &statement.external;
            if ext.fee > 0 && !rules.fee_assets.contains(&ext.fee_asset.0) {
                return Err(policy(format!(
                    "fees are not accepted in asset {} (accepted: {:?})",
                    ext.fee_asset.0, rules.fee_assets
                )));
            }
            let cts = [0, 1].map(|j| ciphertext(&ciphertexts[j], &statement.ciphertext_hashes[j]));
            let [ct0, ct1] = cts;
            let (ct0, ct1) = (ct0?, ct1?);
            verify_spend(
                statement,
                &SpendProof(proof_bytes(proof)?),
                deployment,
                window,
            )
            .map_err(proof_error)?;
            let mut ledger = Vec::new();
            if ext.fee > 0 {
                ledger.push(LedgerEntry {
                    asset: ext.fee_asset.0,
                    role: "relayer_fee",
                    account: ext.relayer,
                    amount: ext.fee,
                });
            }
            let [c0, c1] = statement.output_commitments;
            Ok(verified(
                Some(statement.root),
                statement.nullifiers.to_vec(),
                vec![(c0, ct0), (c1, ct1)],
                ledger,
            ))
        }
    }
}
