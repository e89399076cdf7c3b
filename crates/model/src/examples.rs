//! Built-in example models with seeded random weights, so that the CLI and tests run offline.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::execute::{ACT_HI, ACT_LO};
use crate::graph::{Graph, GraphBuilder, GraphError, Weight};
use crate::tensor::{Shape, Tensor};

/// Fractional bits of activations in the examples.
pub const ACT_SCALE: u32 = 8;
/// Fractional bits of weights in the examples (INT8-like values).
pub const WEIGHT_SCALE: u32 = 7;

/// Names accepted by [`by_name`].
pub const NAMES: &[&str] = &["mlp", "tiny-mlp"];

/// A built-in model by name.
pub fn by_name(name: &str) -> Option<Graph> {
    match name {
        "mlp" => mlp(&[784, 512, 512, 10], 1, 42).ok(),
        "tiny-mlp" => mlp(&[16, 8, 8, 4], 1, 7).ok(),
        _ => None,
    }
}

/// A random weight matrix with entries uniform in `[-a, a]`, `a` chosen so that activations
/// keep their magnitude through a layer of fan-in `rows` (INT8 range at most).
pub fn random_weight(name: &str, rows: usize, cols: usize, rng: &mut impl Rng) -> Weight {
    let a = ((((1u64 << WEIGHT_SCALE) as f64) * 3f64.sqrt() / (rows as f64).sqrt()).round() as i64)
        .clamp(1, 127);
    Weight {
        name: name.into(),
        shape: Shape::new(rows, cols),
        scale: WEIGHT_SCALE,
        data: (0..rows * cols).map(|_| rng.gen_range(-a..=a)).collect(),
    }
}

/// An MLP `dims[0] -> dims[1] -> ... -> dims[last]` on `batch` rows: each layer is
/// matmul, bias, rescale back to the activation scale, then ReLU (not after the last layer).
pub fn mlp(dims: &[usize], batch: usize, seed: u64) -> Result<Graph, GraphError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut b = GraphBuilder::new(
        format!(
            "mlp-{}",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("-")
        ),
        Shape::new(batch, dims[0]),
        ACT_SCALE,
    )?;
    let mut x = b.input();
    for (l, win) in dims.windows(2).enumerate() {
        let w = random_weight(&format!("fc{l}.weight"), win[0], win[1], &mut rng);
        let h = b.matmul(x, w)?;
        let bias_bound = 1i64 << (ACT_SCALE + WEIGHT_SCALE - 2);
        let bias = Weight {
            name: format!("fc{l}.bias"),
            shape: Shape::new(1, win[1]),
            scale: ACT_SCALE + WEIGHT_SCALE,
            data: (0..win[1])
                .map(|_| rng.gen_range(-bias_bound..=bias_bound))
                .collect(),
        };
        let h = b.add_bias(h, bias)?;
        let h = b.rescale(h, WEIGHT_SCALE)?;
        x = if l + 2 < dims.len() { b.relu(h)? } else { h };
    }
    b.build(x)
}

/// A random input for `graph` in the activation range scaled like a unit-variance signal.
pub fn random_input(graph: &Graph, seed: u64) -> Tensor {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let shape = graph.input_shape();
    let a = (1i64 << graph.nodes[0].scale).clamp(1, ACT_HI - 1);
    Tensor::new(
        shape,
        (0..shape.len())
            .map(|_| rng.gen_range(-a..=a).clamp(ACT_LO, ACT_HI - 1))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execute::execute;

    #[test]
    fn builtin_models_run() {
        for name in NAMES {
            let g = by_name(name).unwrap();
            let x = random_input(&g, 1);
            let t = execute(&g, &x).unwrap();
            let out = t.output(&g);
            assert_eq!(out.shape, g.output_shape());
            assert!(out.max_abs() > 0, "{name}: output vanished");
        }
    }

    #[test]
    fn mlp_validates() {
        let g = by_name("mlp").unwrap();
        crate::graph::validate(&g).unwrap();
        assert_eq!(
            g.n_params(),
            784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10
        );
    }
}

/// Why real values are not an input of a graph ([`quantise_input`]).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum InputError {
    #[error("{got} values, model '{model}' expects {want} ({rows}x{cols})")]
    Count {
        model: String,
        got: usize,
        want: usize,
        rows: usize,
        cols: usize,
    },
    #[error("value {value} at index {index} is outside the model's input range")]
    Range { index: usize, value: f64 },
}

/// Real values as the graph's (main) input tensor: rounded at the input's scale, refused if
/// their count is not the input's or one leaves the activation range.
pub fn quantise_input(graph: &Graph, values: &[f64]) -> Result<Tensor, InputError> {
    let shape = graph.input_shape();
    if values.len() != shape.len() {
        return Err(InputError::Count {
            model: graph.name.clone(),
            got: values.len(),
            want: shape.len(),
            rows: shape.rows,
            cols: shape.cols,
        });
    }
    let scale = (1u64 << graph.nodes[0].scale) as f64;
    let data = values
        .iter()
        .enumerate()
        .map(|(index, &value)| {
            let q = (value * scale).round();
            if !q.is_finite() || q < ACT_LO as f64 || q >= ACT_HI as f64 {
                return Err(InputError::Range { index, value });
            }
            Ok(q as i64)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Tensor::new(shape, data))
}
