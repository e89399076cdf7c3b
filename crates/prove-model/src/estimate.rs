//! `inspect`'s estimate of proving time and peak memory, from the circuit's sizes and rates
//! measured by `cargo bench -p zkml --bench transformer` on the 2-core reference machine
//! (2026-12-05): a d 1024 block with a 2^24-entry weight table proves in 0.12-0.13 s at
//! 14.7 M MACs and about 1 s at 1.9 G MACs, with peaks of 0.8 and 1.1-1.2 GiB; a
//! Qwen3-14B-shaped block (five 2^26-entry weight polynomials, 330 M MACs) in 1.1-1.2 s with a
//! 10.5 GiB peak (the commitment's), and in 20-31 s at 42 G MACs (seq 128, 13.1 GiB). The
//! coefficients fit these points within ~30 %; other shapes (wide lookups, long softmax rows)
//! can differ by 2x.

use model::Graph;
use zkml::circuit::{Circuit, GraphShape};
use zkml::ProofConfig;

/// Seconds per packed weight entry (the weight opening dominates small inputs).
const SECONDS_PER_WEIGHT: f64 = 2.6e-9;
/// Seconds per multiply-accumulate of the forward pass (advice, lookups, reductions).
const SECONDS_PER_MAC: f64 = 0.55e-9;
/// Seconds per lookup table (their LogUp sides are 2^16 entries whatever the model's size:
/// the fixed cost that dominates small models).
const SECONDS_PER_TABLE: f64 = 7e-3;
/// Peak bytes per committed weight entry (i64 weights, evaluations, codeword, opening tables).
const BYTES_PER_WEIGHT: f64 = 32.0;
/// Peak bytes whatever the size (lookup tables, twiddles, the process itself).
const BASE_BYTES: f64 = 450.0 * 1024.0 * 1024.0;
/// Peak bytes per multiply-accumulate (the trace and the advice).
const BYTES_PER_MAC: f64 = 0.1;

/// The estimate for one proof of `graph`.
pub struct Estimate {
    pub weight_vars: u32,
    /// Committed weight polynomials (the packed table cut into chunks).
    pub weight_polys: usize,
    pub advice_vars: u32,
    pub tables: usize,
    pub seconds: f64,
    pub bytes: f64,
}

impl Estimate {
    pub fn of(graph: &Graph) -> anyhow::Result<Self> {
        let circuit = Circuit::new(GraphShape::of(graph))?;
        let max = ProofConfig::default().weight_poly_vars();
        let chunks = circuit.weight_packing.trimmed_chunks(max).ok_or_else(|| {
            anyhow::anyhow!("a weight matrix is larger than one committed polynomial (2^{max})")
        })?;
        let weights: f64 = chunks.vars.iter().map(|&v| (1u64 << v) as f64).sum();
        let macs = graph.n_macs() as f64;
        Ok(Self {
            weight_vars: circuit.weight_packing.n_vars,
            weight_polys: chunks.vars.len(),
            advice_vars: circuit.advice_packing.n_vars,
            tables: circuit.tables.len(),
            seconds: SECONDS_PER_WEIGHT * weights
                + SECONDS_PER_MAC * macs
                + SECONDS_PER_TABLE * circuit.tables.len() as f64,
            bytes: BASE_BYTES + BYTES_PER_WEIGHT * weights + BYTES_PER_MAC * macs,
        })
    }
}

impl std::fmt::Display for Estimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "estimated proof (2-core reference machine): prove ~{:.2} s, peak memory ~{:.0} MiB \
             (weight table 2^{} entries in {} polynomial(s), advice 2^{}, {} lookup tables; rough: rates of the \
             transformer bench)",
            self.seconds,
            self.bytes / f64::from(1u32 << 20),
            self.weight_vars,
            self.weight_polys,
            self.advice_vars,
            self.tables
        )
    }
}
