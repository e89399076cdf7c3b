//! An ONNX model's input as JSON: a plain array (flat, or nested to give the shape) for a
//! model with one input, or an object keyed by input name, each a nested array whose nesting
//! gives its shape. Integer inputs (token ids, masks) are written as integers.

use std::path::Path;

use serde_json::Value;
use thiserror::Error;

use crate::OnnxModel;

/// Why an input JSON does not fit a model.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum InputJsonError {
    #[error("not JSON: {0}")]
    Syntax(String),
    #[error("{at}: {detail}")]
    Shape { at: String, detail: String },
    #[error("the model's inputs are {declared:?}; the input names {given:?}")]
    Names {
        declared: Vec<String>,
        given: Vec<String>,
    },
    #[error(
        "the model has {n} inputs ({names:?}): give a JSON object keyed by input name, not an \
         array"
    )]
    NeedObject { n: usize, names: Vec<String> },
}

/// Input values in the model's input order, concatenated, and each input's shape where the
/// JSON gave one (a nested array).
#[derive(Clone, Debug, PartialEq)]
pub struct OnnxInputs {
    pub values: Vec<f32>,
    pub shapes: Vec<Option<Vec<usize>>>,
}

impl OnnxInputs {
    /// Parses `text` for the model at `path` (whose declared input names order an object).
    pub fn from_json(path: &Path, text: &str) -> Result<Self, crate::PrepareError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| json_err(path, InputJsonError::Syntax(e.to_string())))?;
        let names = OnnxModel::input_names(path)?;
        Self::from_value(&names, &value).map_err(|e| json_err(path, e))
    }

    /// [`Self::from_json`] on parsed JSON, for a model whose inputs are `names` in order.
    pub fn from_value(names: &[String], value: &Value) -> Result<Self, InputJsonError> {
        match value {
            Value::Object(map) => {
                let mut given: Vec<String> = map.keys().cloned().collect();
                given.sort();
                let mut declared = names.to_vec();
                declared.sort();
                if given != declared {
                    return Err(InputJsonError::Names {
                        declared: names.to_vec(),
                        given,
                    });
                }
                let mut values = Vec::new();
                let mut shapes = Vec::new();
                for name in names {
                    let (v, shape) = nested(&map[name], name)?;
                    values.extend(v);
                    shapes.push(Some(shape));
                }
                Ok(Self { values, shapes })
            }
            Value::Array(items) => {
                if names.len() > 1 {
                    return Err(InputJsonError::NeedObject {
                        n: names.len(),
                        names: names.to_vec(),
                    });
                }
                let (values, shape) = nested(value, "input")?;
                // A flat array leaves the shape to the model (or --input-shape).
                let nested = items.first().is_some_and(Value::is_array);
                Ok(Self {
                    values,
                    shapes: vec![nested.then_some(shape)],
                })
            }
            _ => Err(InputJsonError::Shape {
                at: "input".into(),
                detail: "expected an array of numbers or an object of arrays".into(),
            }),
        }
    }
}

fn json_err(path: &Path, e: InputJsonError) -> crate::PrepareError {
    crate::PrepareError::InputJson {
        file: path.display().to_string(),
        source: e,
    }
}

/// The numbers of a (nested) array in row-major order and its shape; every sub-array of a
/// level must have the same shape.
fn nested(v: &Value, at: &str) -> Result<(Vec<f32>, Vec<usize>), InputJsonError> {
    let bad = |detail: String| InputJsonError::Shape {
        at: at.into(),
        detail,
    };
    match v {
        Value::Number(n) => {
            let x = n
                .as_f64()
                .ok_or_else(|| bad(format!("{n} is not a number")))?;
            Ok((vec![x as f32], vec![]))
        }
        Value::Array(items) => {
            let mut values = Vec::new();
            let mut inner: Option<Vec<usize>> = None;
            for (i, item) in items.iter().enumerate() {
                let (v, s) = nested(item, &format!("{at}[{i}]"))?;
                match &inner {
                    Some(prev) if *prev != s => {
                        return Err(bad(format!(
                            "ragged: element {i} has shape {s:?}, element 0 has {prev:?}"
                        )))
                    }
                    _ => inner = Some(s),
                }
                values.extend(v);
            }
            let mut shape = vec![items.len()];
            shape.extend(inner.unwrap_or_default());
            Ok((values, shape))
        }
        other => Err(bad(format!("expected a number or an array, found {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn objects_order_inputs_and_give_shapes() {
        let v = json!({"mask": [[1, 1, 0]], "ids": [[5, 6, 7]]});
        let got = OnnxInputs::from_value(&names(&["ids", "mask"]), &v).unwrap();
        assert_eq!(got.values, vec![5.0, 6.0, 7.0, 1.0, 1.0, 0.0]);
        assert_eq!(got.shapes, vec![Some(vec![1, 3]), Some(vec![1, 3])]);
    }

    #[test]
    fn arrays_are_one_input() {
        let flat = OnnxInputs::from_value(&names(&["x"]), &json!([1, 2.5])).unwrap();
        assert_eq!((flat.values, flat.shapes), (vec![1.0, 2.5], vec![None]));
        let nested = OnnxInputs::from_value(&names(&["x"]), &json!([[1], [2]])).unwrap();
        assert_eq!(nested.shapes, vec![Some(vec![2, 1])]);
    }

    #[test]
    fn bad_json_is_named() {
        let two = names(&["ids", "mask"]);
        let e = OnnxInputs::from_value(&two, &json!([1, 2])).unwrap_err();
        assert!(matches!(e, InputJsonError::NeedObject { n: 2, .. }), "{e}");
        let e = OnnxInputs::from_value(&two, &json!({"ids": [1]})).unwrap_err();
        assert!(e.to_string().contains("mask"), "{e}");
        let e =
            OnnxInputs::from_value(&two, &json!({"ids": [[1, 2], [3]], "mask": [1]})).unwrap_err();
        assert!(e.to_string().starts_with("ids: ragged: element 1"), "{e}");
        let e = OnnxInputs::from_value(&names(&["x"]), &json!([1, "a"])).unwrap_err();
        assert!(e.to_string().contains("input[1]"), "{e}");
    }
}
