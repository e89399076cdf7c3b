//! The verifier. It derives every shape from the verifying key, replays the transcript, checks
//! each reduction, evaluates claims on the public input and output itself and checks the
//! batched opening of the weight and advice commitments.

use gkr::claim::verify_combine;
use gkr::lookup;
use gkr::Claim;
use model::execute::{ACT_HI, ACT_LO};
use model::{Op, Tensor, MAX_ABS};
use stwo::core::channel::Channel;
use sumcheck::eval_mle_base;

use crate::circuit::{Circuit, Sink};
use crate::commitment::VerifyingKey;
use crate::error::VerifyError;
use crate::layers::{self, Router, VerifyCx, Visit};
use crate::proof::{ModelProof, PROOF_VERSION};
use crate::transcript;

fn check_public(which: &'static str, t: &Tensor, lo: i64, hi: i64) -> Result<(), VerifyError> {
    match t
        .data
        .iter()
        .enumerate()
        .find(|(_, v)| !(lo..hi).contains(*v))
    {
        Some((index, &value)) => Err(VerifyError::PublicRange {
            which,
            index,
            value,
        }),
        None => Ok(()),
    }
}

fn check_shapes(
    circuit: &Circuit,
    inputs: &[Tensor],
    outputs: &[Tensor],
) -> Result<(), VerifyError> {
    let input_nodes = model::graph::input_nodes(&circuit.shape.nodes);
    if input_nodes.len() != inputs.len() {
        return Err(VerifyError::InputCount {
            expected: input_nodes.len(),
            got: inputs.len(),
        });
    }
    // A stack's public input and output are one block's (the first's input, the last's output).
    let per_block = |s: model::Shape| model::Shape::new(s.rows / circuit.shape.blocks(), s.cols);
    let fits = |t: &Tensor| t.shape.rows.checked_mul(t.shape.cols) == Some(t.data.len());
    for (&id, input) in input_nodes.iter().zip(inputs) {
        let want_in = per_block(circuit.shape.nodes[id].shape);
        if input.shape != want_in || !fits(input) {
            return Err(VerifyError::InputShape {
                rows: want_in.rows,
                cols: want_in.cols,
                got_rows: input.shape.rows,
                got_cols: input.shape.cols,
            });
        }
        // Token ids only select embedding rows: checked against the vocabulary below.
        if !model::graph::is_token_input(&circuit.shape.nodes, id) {
            check_public("input", input, ACT_LO, ACT_HI)?;
        }
    }
    let want: Vec<model::Shape> = circuit
        .shape
        .outputs()
        .map(|id| per_block(circuit.shape.nodes[id].shape))
        .collect();
    if want.len() != outputs.len() {
        return Err(VerifyError::OutputCount {
            expected: want.len(),
            got: outputs.len(),
        });
    }
    for (want_out, output) in want.into_iter().zip(outputs) {
        if output.shape != want_out || !fits(output) {
            return Err(VerifyError::OutputShape {
                rows: want_out.rows,
                cols: want_out.cols,
                got_rows: output.shape.rows,
                got_cols: output.shape.cols,
            });
        }
        check_public("output", output, -MAX_ABS, MAX_ABS + 1)?;
    }
    Ok(())
}

/// Verifies that `output = model(input)` for the model of `vk`.
pub fn verify(
    vk: &VerifyingKey,
    input: &Tensor,
    output: &Tensor,
    proof: &ModelProof,
) -> Result<(), VerifyError> {
    verify_all(vk, std::slice::from_ref(input), output, proof)
}

/// [`verify`] for a model with several public inputs: one tensor per input node, in order.
pub fn verify_all(
    vk: &VerifyingKey,
    inputs: &[Tensor],
    output: &Tensor,
    proof: &ModelProof,
) -> Result<(), VerifyError> {
    verify_outputs(vk, inputs, std::slice::from_ref(output), proof)
}

/// [`verify_all`] for a model with several public outputs ([`model::Graph::more_outputs`]):
/// the main output, then the others in order.
pub fn verify_outputs(
    vk: &VerifyingKey,
    inputs: &[Tensor],
    outputs: &[Tensor],
    proof: &ModelProof,
) -> Result<(), VerifyError> {
    if proof.version != PROOF_VERSION {
        return Err(VerifyError::Version {
            expected: PROOF_VERSION,
            got: proof.version,
        });
    }
    let digest = vk.digest();
    if proof.config != vk.config {
        let show = |c: &crate::ProofConfig| {
            format!(
                "log blowup {}, {} queries, {} proof-of-work bits, weight polynomials up to 2^{}",
                c.pcs.log_blowup, c.pcs.n_queries, c.pcs.pow_bits, c.max_weight_poly_vars
            )
        };
        return Err(VerifyError::ConfigMismatch {
            expected: show(&vk.config),
            got: show(&proof.config),
        });
    }
    if proof.model_digest != digest {
        return Err(VerifyError::WrongModel {
            expected: hex::encode(digest),
            got: hex::encode(proof.model_digest),
        });
    }
    vk.config.pcs.validate().map_err(VerifyError::Opening)?;
    let circuit = vk.circuit()?;
    crate::config::check_security(&vk.config, &circuit)?;
    check_shapes(&circuit, inputs, outputs)?;
    let (output, more_outputs) = outputs.split_first().ok_or(VerifyError::OutputCount {
        expected: 1,
        got: 0,
    })?;
    for node in &circuit.shape.nodes {
        if let (Op::Embedding { table, .. }, Some(ids)) = (&node.op, inputs.first()) {
            layers::embedding::token_ids(ids, circuit.shape.weights[*table].0.rows)?;
        }
    }
    let nodes = &circuit.shape.nodes;
    let bad = |s: &str| VerifyError::MalformedProof(s.to_string());

    let mut channel = transcript::start(&digest, inputs, output, more_outputs);
    let advice_chunks = circuit.advice_chunks(&vk.config)?;
    let advice_vars = &advice_chunks.vars;
    if proof.advice.len() != advice_vars.len()
        || proof
            .advice
            .iter()
            .zip(advice_vars)
            .any(|(c, &v)| c.n_variables != v)
    {
        return Err(bad("advice commitments of the wrong number or size"));
    }
    for c in &proof.advice {
        transcript::mix_root(&mut channel, &c.root, c.n_variables);
    }

    let specs: Vec<_> = circuit.columns.iter().map(|(_, s)| *s).collect();
    let lookup_claims = lookup::verify(&circuit.tables, &specs, &proof.lookup, &mut channel)
        .map_err(VerifyError::Lookup)?;
    let mut to = Router::new(&circuit);
    let mut splits = proof.rescale_splits.0.iter();
    layers::lookup::route_claims(&circuit, &lookup_claims, &mut to, &mut channel, |_, _| {
        splits
            .next()
            .copied()
            .ok_or_else(|| bad("missing rescale split"))
    })?;
    if splits.next().is_some() {
        return Err(bad("extra rescale splits"));
    }

    let out_id = circuit.shape.output;
    let out_tables: Vec<_> = outputs.iter().map(Tensor::to_padded_m31).collect();
    let out_table = &out_tables[0];
    let log_blocks = circuit.shape.log_blocks;
    if log_blocks > 0 {
        let in_table = inputs
            .first()
            .map(Tensor::to_padded_m31)
            .unwrap_or_default();
        let chain = crate::chain::verify(
            &proof.chain.0,
            &in_table,
            out_table,
            log_blocks,
            &mut channel,
        )
        .ok_or_else(|| bad("chain evaluations of the wrong number"))?;
        to.node(out_id, chain.output);
        to.node(0, chain.input);
    } else if !proof.chain.0.is_empty() {
        return Err(bad("chain evaluations for an unbatched model"));
    } else {
        for (id, table) in circuit.shape.outputs().zip(&out_tables) {
            if circuit.sinks[id] == Sink::Computed {
                let point = channel.draw_secure_felts(nodes[id].shape.n_vars() as usize);
                let value = eval_mle_base(table, &point);
                to.node(id, Claim::new(point, value));
            }
        }
    }
    layers::io::assert_zero_claims(&circuit, &mut to, &mut channel);

    let cx = VerifyCx {
        circuit: &circuit,
        inputs,
    };
    walk(&cx, &proof.nodes, &mut to, &mut channel)?;

    // Claims on public tensors are evaluated here; claims on advice go to the opening.
    let routed = to.finish();
    check_public_claims(&circuit, inputs, &out_tables, &routed.public)?;
    let weight_chunks = vk.weight_chunks(&circuit)?;
    let weight_claims = crate::tiles::lift_weight_claims(
        &circuit,
        routed.weights,
        &proof.weight_tiles.0,
        &mut channel,
    )?;
    let (commitments, lists) = crate::packing::opening_lists(
        (&weight_chunks, &vk.weights, weight_claims),
        (&advice_chunks, &proof.advice, routed.advice),
    )?;
    let commitments: Vec<_> = commitments.into_iter().copied().collect();
    pcs::verify_openings(
        &commitments,
        &lists,
        &proof.opening,
        &vk.config.pcs,
        &mut channel,
    )
    .map_err(VerifyError::Opening)
}

/// Evaluates the claims on public nodes: each input in order, the output when it is advice.
fn check_public_claims(
    circuit: &Circuit,
    inputs: &[Tensor],
    out_tables: &[Vec<stwo::core::fields::m31::M31>],
    public: &[(model::NodeId, Vec<Claim>)],
) -> Result<(), VerifyError> {
    let nodes = &circuit.shape.nodes;
    let mut input_tables = inputs.iter().map(Tensor::to_padded_m31);
    for (id, node_claims) in public {
        let in_table;
        let (table, which) = if nodes[*id].op == Op::Input {
            in_table = input_tables.next().unwrap_or_default();
            (in_table.as_slice(), "input")
        } else {
            // A public node that is not an input is one of the outputs (`Circuit::new`).
            let k = circuit
                .shape
                .outputs()
                .position(|o| o == *id)
                .ok_or_else(|| VerifyError::MalformedModel(format!("node {id} is public")))?;
            (out_tables[k].as_slice(), "output")
        };
        for c in node_claims {
            if c.point.len() != nodes[*id].shape.n_vars() as usize
                || eval_mle_base(table, &c.point) != c.value
            {
                return Err(VerifyError::PublicClaimMismatch { which });
            }
        }
    }
    Ok(())
}

/// The backward walk: each node's layer checks its step ([`layers::Layer::verify`]) in the
/// order the prover produced them.
fn walk(
    cx: &VerifyCx<'_>,
    proofs: &[crate::proof::NodeProof],
    to: &mut Router<'_>,
    channel: &mut stwo::core::channel::Blake2sChannel,
) -> Result<(), VerifyError> {
    let nodes = &cx.circuit.shape.nodes;
    let bad = |s: &str| VerifyError::MalformedProof(s.to_string());
    let mut node_proofs = proofs.iter();
    for id in (1..nodes.len()).rev() {
        let layer = layers::of(&nodes[id].op);
        let visit = layer.visit(cx.circuit, id, to.has_claims(id));
        if visit == Visit::Skip {
            continue;
        }
        let np = node_proofs
            .next()
            .ok_or_else(|| bad("missing node proof"))?;
        if np.node as usize != id {
            return Err(bad("node proofs out of order"));
        }
        let claim = match (visit, &np.combine) {
            (Visit::Standalone, None) => None,
            (Visit::Reduce, combine) => {
                let node_claims = to.take(id);
                let n_vars = nodes[id].shape.n_vars() as usize;
                match (combine, node_claims.as_slice()) {
                    (None, [claim]) => Some(claim.clone()),
                    (Some(c), cs) if cs.len() > 1 => {
                        Some(verify_combine(c, cs, n_vars, channel).map_err(|source| {
                            VerifyError::Layer {
                                node: id,
                                op: nodes[id].op.kind(),
                                source,
                            }
                        })?)
                    }
                    _ => return Err(bad("claim batching does not match the circuit")),
                }
            }
            _ => return Err(bad("claim batching does not match the circuit")),
        };
        layer.verify(cx, id, claim, &np.layer, to, channel)?;
    }
    if node_proofs.next().is_some() {
        return Err(bad("extra node proofs"));
    }

    Ok(())
}
