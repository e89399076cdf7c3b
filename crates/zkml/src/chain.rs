//! The chain of a batched stack ([`model::stack`]): its committed input `X` (every block's
//! input, stacked) must be `in, out_0, .., out_{N-2}` and its output `Y` (every block's
//! output) must be `out_0, .., out_{N-1}` with `out_{N-1}` the public output. Both say
//! `Y_b = X_{b+1}` (`b < N - 1`), `X_0 = in` and `Y_{N-1} = out`.
//!
//! After `X` is committed the verifier draws a point `xi` of one block's tensor; the prover
//! sends `h_b = X_b(xi)` for `b = 1 .. N-1` and the verifier sets `h_0 = in(xi)` itself. Then
//! - a claim on the output node: `Y(beta, xi) = sum_{b < N-1} eq(beta, b) h_{b+1} +
//!   eq(beta, N-1) out(xi)` for a fresh `beta`, which the GKR walk reduces to the input;
//! - a claim on the committed input: `X(gamma, xi) = sum_b eq(gamma, b) h_b` for a fresh
//!   `gamma`, proved by the opening.
//!
//! If some `h_b` is not `X_b(xi)` the second claim is a non-zero multilinear polynomial in
//! `gamma` evaluated at a random point (error `log N / |F|`); if `X_0 != in` then `h_0 != X_0(xi)`
//! except with probability `n_vars / |F|` over `xi`. With honest `h`, the first claim is the MLE
//! of the shifted chain at `(beta, xi)`, which the block-diagonal GKR walk then proves equal to
//! the MLE of the blocks applied to `X`: so `Y = shifted chain` except with the walk's error.

use gkr::Claim;
use num_traits::Zero;
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use sumcheck::{eq_evals, eval_mle_base};

/// The claims the chain puts on the stacked output and input nodes.
pub struct ChainClaims {
    pub output: Claim,
    pub input: Claim,
}

/// `log2` of the size of one block's padded tensor.
fn block_vars(stacked_len: usize, log_blocks: u32) -> usize {
    (stacked_len >> log_blocks).ilog2() as usize
}

/// The claims from `h = (in(xi), h_1, .., h_{N-1})`, after `h_1..` are mixed.
fn claims(
    h: &[QM31],
    out_eval: QM31,
    xi: Vec<QM31>,
    log_blocks: u32,
    channel: &mut Blake2sChannel,
) -> ChainClaims {
    let beta = channel.draw_secure_felts(log_blocks as usize);
    let eq_beta = eq_evals(&beta);
    let last = h.len() - 1;
    let out_value = (0..last)
        .map(|b| eq_beta[b] * h[b + 1])
        .fold(eq_beta[last] * out_eval, |acc, v| acc + v);
    let gamma = channel.draw_secure_felts(log_blocks as usize);
    let eq_gamma = eq_evals(&gamma);
    let in_value = h
        .iter()
        .zip(&eq_gamma)
        .fold(QM31::zero(), |acc, (&v, &e)| acc + e * v);
    ChainClaims {
        output: Claim::new([beta.as_slice(), &xi].concat(), out_value),
        input: Claim::new([gamma.as_slice(), &xi].concat(), in_value),
    }
}

/// Prover side: `stacked_input` is the committed input table (`N` padded blocks), `input` and
/// `output` the public tensors' padded tables. Returns `h_1 .. h_{N-1}` and the claims.
pub fn prove(
    stacked_input: &[M31],
    input: &[M31],
    output: &[M31],
    log_blocks: u32,
    channel: &mut Blake2sChannel,
) -> (Vec<QM31>, ChainClaims) {
    let vars = block_vars(stacked_input.len(), log_blocks);
    let xi = channel.draw_secure_felts(vars);
    let mut h = vec![eval_mle_base(input, &xi)];
    h.extend(
        stacked_input
            .chunks_exact(1 << vars)
            .skip(1)
            .map(|block| eval_mle_base(block, &xi)),
    );
    channel.mix_felts(&h[1..]);
    let out_eval = eval_mle_base(output, &xi);
    let claims = claims(&h, out_eval, xi, log_blocks, channel);
    (h[1..].to_vec(), claims)
}

/// Verifier side: `sent` are the prover's `h_1 .. h_{N-1}`; `None` if there are not `N - 1`.
pub fn verify(
    sent: &[QM31],
    input: &[M31],
    output: &[M31],
    log_blocks: u32,
    channel: &mut Blake2sChannel,
) -> Option<ChainClaims> {
    if sent.len() + 1 != 1 << log_blocks || input.len() != output.len() || input.is_empty() {
        return None;
    }
    let xi = channel.draw_secure_felts(input.len().ilog2() as usize);
    let mut h = vec![eval_mle_base(input, &xi)];
    h.extend_from_slice(sent);
    channel.mix_felts(sent);
    let out_eval = eval_mle_base(output, &xi);
    Some(claims(&h, out_eval, xi, log_blocks, channel))
}
