//! `config.json` of a Llama / Mistral / Qwen2 / Qwen3 decoder as a typed [`DecoderConfig`].

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use model::rope::RopeScaling;

use super::HfError;

/// Decoder families whose `config.json` and tensor names we read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Llama,
    Mistral,
    Qwen2,
    Qwen3,
}

/// The hyper-parameters of a pre-norm decoder with grouped-query attention, RoPE, RMSNorm and
/// a gated (SwiGLU) MLP.
#[derive(Clone, Debug, PartialEq)]
pub struct DecoderConfig {
    pub family: Family,
    pub hidden_size: usize,
    pub num_attention_heads: usize,
    /// Defaults to `num_attention_heads` (multi-head attention), as in transformers.
    pub num_key_value_heads: usize,
    /// Defaults to `hidden_size / num_attention_heads`.
    pub head_dim: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    /// Defaults to 1e-6.
    pub rms_norm_eps: f64,
    /// Defaults to 10000.
    pub rope_theta: f64,
    pub vocab_size: usize,
    /// Defaults to false; when true `lm_head.weight` may be absent and the embedding is used.
    pub tie_word_embeddings: bool,
    /// Biases on the q, k and v projections: `attention_bias`, default true for Qwen2 only.
    pub attention_bias: bool,
    /// Per-head RMSNorm of queries and keys before RoPE (Qwen3).
    pub qk_norm: bool,
    /// `rope_scaling.rope_type` (or `.type`) when the config sets one.
    pub rope_scaling: Option<String>,
    /// The frequencies of a `linear` or `llama3` `rope_scaling` (other types stay
    /// [`RopeScaling::None`] here and are refused by the decoder builder, naming the field).
    pub rope: RopeScaling,
    /// The MLP's activation (`hidden_act`, default `silu`).
    pub hidden_act: String,
    /// Biases on the MLP's projections (`mlp_bias`, default false).
    pub mlp_bias: bool,
    /// The attention window (`sliding_window`) when it is in force: set, and
    /// `use_sliding_window` not false.
    pub sliding_window: Option<usize>,
}

impl DecoderConfig {
    /// Width of the concatenated query heads.
    pub fn q_dim(&self) -> usize {
        self.num_attention_heads * self.head_dim
    }

    /// Width of the concatenated key (or value) heads.
    pub fn kv_dim(&self) -> usize {
        self.num_key_value_heads * self.head_dim
    }

    /// Reads and checks `file`.
    pub fn load(file: &Path) -> Result<Self, HfError> {
        let text = std::fs::read_to_string(file).map_err(|source| HfError::Io {
            path: file.into(),
            source,
        })?;
        Self::parse(&text, file)
    }

    /// Parses the text of a `config.json` (`file` names it in errors).
    pub fn parse(text: &str, file: &Path) -> Result<Self, HfError> {
        let value: Value = serde_json::from_str(text).map_err(|e| HfError::Json {
            file: file.into(),
            detail: e.to_string(),
        })?;
        let Value::Object(obj) = value else {
            return Err(HfError::Json {
                file: file.into(),
                detail: "top level is not an object".into(),
            });
        };
        let f = Fields { obj: &obj, file };
        let model_type = f.string("model_type")?;
        let family = match model_type.as_str() {
            "llama" => Family::Llama,
            "mistral" => Family::Mistral,
            "qwen2" => Family::Qwen2,
            "qwen3" => Family::Qwen3,
            _ => {
                return Err(HfError::Architecture {
                    file: file.into(),
                    model_type,
                })
            }
        };
        let hidden_size = f.positive("hidden_size")?;
        let num_attention_heads = f.positive("num_attention_heads")?;
        let num_key_value_heads = f
            .opt_positive("num_key_value_heads")?
            .unwrap_or(num_attention_heads);
        if num_attention_heads % num_key_value_heads != 0 {
            return Err(f.invalid(
                "num_key_value_heads",
                format!("{num_key_value_heads} does not divide {num_attention_heads} heads"),
            ));
        }
        let head_dim = match f.opt_positive("head_dim")? {
            Some(d) => d,
            None if hidden_size % num_attention_heads == 0 => hidden_size / num_attention_heads,
            None => {
                return Err(f.invalid(
                    "head_dim",
                    format!("absent, and {num_attention_heads} heads do not divide hidden_size {hidden_size}"),
                ))
            }
        };
        let rms_norm_eps = f.float("rms_norm_eps")?.unwrap_or(1e-6);
        if rms_norm_eps <= 0.0 {
            return Err(f.invalid("rms_norm_eps", format!("{rms_norm_eps} is not positive")));
        }
        let rope_theta = f.float("rope_theta")?.unwrap_or(10_000.0);
        if rope_theta <= 0.0 {
            return Err(f.invalid("rope_theta", format!("{rope_theta} is not positive")));
        }
        Ok(Self {
            family,
            hidden_size,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            intermediate_size: f.positive("intermediate_size")?,
            num_hidden_layers: f.positive("num_hidden_layers")?,
            rms_norm_eps,
            rope_theta,
            vocab_size: f.positive("vocab_size")?,
            tie_word_embeddings: f.bool("tie_word_embeddings")?.unwrap_or(false),
            attention_bias: f.bool("attention_bias")?.unwrap_or(family == Family::Qwen2),
            qk_norm: family == Family::Qwen3,
            rope_scaling: f.rope_scaling()?,
            rope: f.rope()?,
            hidden_act: match f.get("hidden_act") {
                None => "silu".into(),
                Some(_) => f.string("hidden_act")?,
            },
            mlp_bias: f.bool("mlp_bias")?.unwrap_or(false),
            sliding_window: match f.bool("use_sliding_window")? {
                Some(false) => None,
                _ => f.opt_positive("sliding_window")?,
            },
        })
    }
}

/// Typed access to the fields of one config object.
struct Fields<'a> {
    obj: &'a Map<String, Value>,
    file: &'a Path,
}

impl Fields<'_> {
    fn invalid(&self, field: &'static str, detail: String) -> HfError {
        HfError::ConfigField {
            file: PathBuf::from(self.file),
            field,
            detail,
        }
    }

    /// The field, treating JSON `null` as absent.
    fn get(&self, field: &str) -> Option<&Value> {
        self.obj.get(field).filter(|v| !v.is_null())
    }

    fn string(&self, field: &'static str) -> Result<String, HfError> {
        match self.get(field) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(self.invalid(field, format!("expected a string, got {v}"))),
            None => Err(self.invalid(field, "missing".into())),
        }
    }

    fn opt_positive(&self, field: &'static str) -> Result<Option<usize>, HfError> {
        let Some(v) = self.get(field) else {
            return Ok(None);
        };
        match v.as_u64().and_then(|n| usize::try_from(n).ok()) {
            Some(n) if n > 0 => Ok(Some(n)),
            _ => Err(self.invalid(field, format!("expected a positive integer, got {v}"))),
        }
    }

    fn positive(&self, field: &'static str) -> Result<usize, HfError> {
        self.opt_positive(field)?
            .ok_or_else(|| self.invalid(field, "missing".into()))
    }

    fn float(&self, field: &'static str) -> Result<Option<f64>, HfError> {
        let Some(v) = self.get(field) else {
            return Ok(None);
        };
        match v.as_f64() {
            Some(x) if x.is_finite() => Ok(Some(x)),
            _ => Err(self.invalid(field, format!("expected a number, got {v}"))),
        }
    }

    fn bool(&self, field: &'static str) -> Result<Option<bool>, HfError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.invalid(field, format!("expected true or false, got {v}"))),
        }
    }

    /// The typed frequencies of a `linear` or `llama3` `rope_scaling`, each parameter checked.
    fn rope(&self) -> Result<RopeScaling, HfError> {
        let Some(v) = self.get("rope_scaling") else {
            return Ok(RopeScaling::None);
        };
        let param = |name: &str, lo: f64| -> Result<f64, HfError> {
            match v.get(name).and_then(Value::as_f64) {
                Some(x) if x.is_finite() && x >= lo => Ok(x),
                _ => Err(self.invalid(
                    "rope_scaling",
                    format!("'{name}' must be a number of at least {lo}, got {v}"),
                )),
            }
        };
        match self.rope_scaling()?.as_deref() {
            Some("linear") => Ok(RopeScaling::Linear {
                factor: param("factor", 1.0)?,
            }),
            Some("llama3") => {
                let (low, high) = (
                    param("low_freq_factor", 0.0)?,
                    param("high_freq_factor", 0.0)?,
                );
                if high <= low {
                    return Err(self.invalid(
                        "rope_scaling",
                        format!("high_freq_factor {high} must exceed low_freq_factor {low}"),
                    ));
                }
                Ok(RopeScaling::Llama3 {
                    factor: param("factor", 1.0)?,
                    low_freq_factor: low,
                    high_freq_factor: high,
                    original_max_position: param("original_max_position_embeddings", 1.0)?,
                })
            }
            _ => Ok(RopeScaling::None),
        }
    }

    fn rope_scaling(&self) -> Result<Option<String>, HfError> {
        let Some(v) = self.get("rope_scaling") else {
            return Ok(None);
        };
        let kind = v
            .get("rope_type")
            .or_else(|| v.get("type"))
            .and_then(Value::as_str);
        match kind {
            Some(k) => Ok(Some(k.to_string())),
            None => Err(self.invalid(
                "rope_scaling",
                format!("expected an object with a 'rope_type', got {v}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QWEN3: &str = r#"{"model_type": "qwen3", "hidden_size": 64, "num_attention_heads": 4,
        "num_key_value_heads": 2, "head_dim": 32, "intermediate_size": 128,
        "num_hidden_layers": 2, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
        "vocab_size": 256, "tie_word_embeddings": true, "rope_scaling": null}"#;

    fn parse(text: &str) -> Result<DecoderConfig, HfError> {
        DecoderConfig::parse(text, Path::new("config.json"))
    }

    #[test]
    fn qwen3_config_parses() {
        let c = parse(QWEN3).unwrap();
        assert_eq!(c.family, Family::Qwen3);
        assert!(c.qk_norm && c.tie_word_embeddings && !c.attention_bias);
        assert_eq!((c.head_dim, c.q_dim(), c.kv_dim()), (32, 128, 64));
        assert_eq!(c.rope_theta, 1e6);
        assert_eq!(c.rope_scaling, None);
    }

    #[test]
    fn defaults_follow_transformers() {
        let text = r#"{"model_type": "qwen2", "hidden_size": 64, "num_attention_heads": 4,
            "intermediate_size": 128, "num_hidden_layers": 1, "vocab_size": 10,
            "rope_scaling": {"rope_type": "yarn", "factor": 4.0}}"#;
        let c = parse(text).unwrap();
        assert_eq!((c.num_key_value_heads, c.head_dim), (4, 16));
        assert!(c.attention_bias && !c.qk_norm && !c.tie_word_embeddings);
        assert_eq!((c.rope_theta, c.rms_norm_eps), (10_000.0, 1e-6));
        assert_eq!(c.rope_scaling.as_deref(), Some("yarn"));
        assert_eq!(
            (c.hidden_act.as_str(), c.mlp_bias, c.sliding_window),
            ("silu", false, None)
        );
    }

    #[test]
    fn llama3_and_linear_rope_scaling_parse() {
        let llama3 = QWEN3.replace(
            "\"rope_scaling\": null",
            r#""rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}"#,
        );
        let c = parse(&llama3).unwrap();
        assert_eq!(c.rope_scaling.as_deref(), Some("llama3"));
        assert_eq!(
            c.rope,
            RopeScaling::Llama3 {
                factor: 8.0,
                low_freq_factor: 1.0,
                high_freq_factor: 4.0,
                original_max_position: 8192.0
            }
        );
        let linear = QWEN3.replace(
            "\"rope_scaling\": null",
            r#""rope_scaling": {"type": "linear", "factor": 2.0}"#,
        );
        assert_eq!(
            parse(&linear).unwrap().rope,
            RopeScaling::Linear { factor: 2.0 }
        );
        let bad = QWEN3.replace(
            "\"rope_scaling\": null",
            r#""rope_scaling": {"rope_type": "llama3", "factor": 8.0}"#,
        );
        assert!(matches!(
            parse(&bad),
            Err(HfError::ConfigField {
                field: "rope_scaling",
                ..
            })
        ));
    }

    /// Qwen2 configs set a window they do not use (`use_sliding_window: false`); Mistral's is
    /// in force.
    #[test]
    fn sliding_window_only_when_in_force() {
        let qwen = QWEN3.replace(
            "\"rope_scaling\": null",
            "\"sliding_window\": 4096, \"use_sliding_window\": false",
        );
        assert_eq!(parse(&qwen).unwrap().sliding_window, None);
        let mistral = QWEN3.replace("\"rope_scaling\": null", "\"sliding_window\": 4096");
        assert_eq!(parse(&mistral).unwrap().sliding_window, Some(4096));
        let gelu = QWEN3.replace("\"rope_scaling\": null", "\"hidden_act\": \"gelu\"");
        assert_eq!(parse(&gelu).unwrap().hidden_act, "gelu");
    }

    #[test]
    fn bad_fields_are_named() {
        let cases = [
            (QWEN3.replace("\"hidden_size\": 64,", ""), "hidden_size"),
            (
                QWEN3.replace("\"vocab_size\": 256", "\"vocab_size\": \"256\""),
                "vocab_size",
            ),
            (
                QWEN3.replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3"),
                "num_key_value_heads",
            ),
            (
                QWEN3.replace("\"head_dim\": 32", "\"head_dim\": -1"),
                "head_dim",
            ),
            (QWEN3.replace("1e-6", "0.0"), "rms_norm_eps"),
            (QWEN3.replace("true", "1"), "tie_word_embeddings"),
            (
                QWEN3.replace("\"rope_scaling\": null", "\"rope_scaling\": 2"),
                "rope_scaling",
            ),
        ];
        for (text, want) in cases {
            match parse(&text) {
                Err(HfError::ConfigField { field, .. }) => assert_eq!(field, want),
                other => panic!("{want}: {other:?}"),
            }
        }
        assert!(matches!(
            parse(&QWEN3.replace("qwen3", "gpt2")),
            Err(HfError::Architecture { model_type, .. }) if model_type == "gpt2"
        ));
        assert!(matches!(parse("[1, 2]"), Err(HfError::Json { .. })));
        assert!(matches!(
            parse("{\"model_type\": "),
            Err(HfError::Json { .. })
        ));
    }
}
