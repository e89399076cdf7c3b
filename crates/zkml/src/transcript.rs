//! The start of every proof's Fiat–Shamir transcript.

use model::Tensor;
use stwo::core::channel::{Blake2sChannel, Channel};

/// Domain separator of the inference protocol, version 1.
const DOMAIN: &[u8] = b"stwo-ml/inference/v1";

fn bytes_to_u32s(b: &[u8]) -> Vec<u32> {
    b.chunks(4)
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(w)
        })
        .collect()
}

fn mix_tensor(channel: &mut Blake2sChannel, t: &Tensor) {
    channel.mix_u64(t.shape.rows as u64);
    channel.mix_u64(t.shape.cols as u64);
    let words: Vec<u32> = t.data.iter().map(|&v| model::tensor::to_m31(v).0).collect();
    channel.mix_u32s(&words);
}

/// A channel that has absorbed the protocol tag, the model digest, the inputs (one per input
/// node, in order; their shapes delimit them) and the outputs (the main output, then, for a
/// model with several, their count and the others in order), before any challenge is drawn.
pub fn start(
    model_digest: &[u8; 32],
    inputs: &[Tensor],
    output: &Tensor,
    more_outputs: &[Tensor],
) -> Blake2sChannel {
    let mut channel = Blake2sChannel::default();
    channel.mix_u32s(&bytes_to_u32s(DOMAIN));
    channel.mix_u32s(&bytes_to_u32s(model_digest));
    if inputs.len() > 1 {
        channel.mix_u64(inputs.len() as u64);
    }
    for input in inputs {
        mix_tensor(&mut channel, input);
    }
    mix_tensor(&mut channel, output);
    if !more_outputs.is_empty() {
        channel.mix_u64(more_outputs.len() as u64 + 1);
        for t in more_outputs {
            mix_tensor(&mut channel, t);
        }
    }
    channel
}

/// Mixes a 32-byte commitment root.
pub fn mix_root(channel: &mut Blake2sChannel, root: &[u8; 32], n_vars: u32) {
    channel.mix_u32s(&bytes_to_u32s(root));
    channel.mix_u64(n_vars as u64);
}
