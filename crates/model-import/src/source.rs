//! Loading an ONNX file with tract: parsing, shape inference with a fixed input shape,
//! constant folding and decluttering; and the f32 reference run.

use std::path::Path;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;
use tract_onnx::tract_hir::internal::DimLike;
use tract_onnx::tract_hir::ops::unimpl::UnimplementedOp;

use crate::error::ImportError;

/// Symbolic dimensions that tract cannot read as an expression (exporters write names like
/// `DynamicDimension.0` or `batch_size/2`) become unknown: in the inputs and outputs, whose
/// symbolic dimensions are fixed to 1 anyway, and in the intermediate `value_info`, which is
/// only a hint (tract infers those shapes itself).
fn forget_symbolic_dims(proto: &mut tract_onnx::pb::ModelProto) {
    use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
    use tract_onnx::pb::type_proto::Value as Type;
    let readable = |name: &str| {
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let Some(graph) = proto.graph.as_mut() else {
        return;
    };
    let infos = graph
        .input
        .iter_mut()
        .chain(graph.output.iter_mut())
        .chain(graph.value_info.iter_mut());
    for info in infos {
        let Some(Type::TensorType(t)) = info.r#type.as_mut().and_then(|t| t.value.as_mut()) else {
            continue;
        };
        for d in t.shape.iter_mut().flat_map(|s| s.dim.iter_mut()) {
            if matches!(&d.value, Some(Dim::DimParam(p)) if !readable(p)) {
                d.value = Some(Dim::DimParam("?".into()));
            }
        }
    }
}

/// The 2-D view `rows x cols` of an input of shape `dims`, its row-major flattening: a vector
/// is one row; a sequence `batch x seq x features` is `batch * seq` rows of features (what its
/// projections contract); otherwise rows are the first axis (`N` images of `C*H*W`).
pub fn input_view(dims: &[usize]) -> (usize, usize) {
    match dims.len() {
        0 | 1 => (1, dims.iter().product()),
        3 => (dims[0] * dims[1], dims[2]),
        _ => (dims[0], dims[1..].iter().product()),
    }
}

/// An ONNX model as tract's decluttered typed graph, with one concrete input shape.
#[derive(Debug, Clone)]
pub struct OnnxModel {
    /// The file it came from (for error messages).
    pub file: String,
    /// The model name used for the imported graph (file stem).
    pub name: String,
    /// Concrete shape of the single input (symbolic dimensions fixed to 1).
    pub input_shape: Vec<usize>,
    pub(crate) typed: TypedModel,
}

impl OnnxModel {
    /// Parses `path` and lets tract infer shapes and fold constants. Symbolic input
    /// dimensions (a batch dimension `N`) are fixed to 1.
    pub fn load(path: &Path) -> Result<Self, ImportError> {
        Self::load_shaped(path, None)
    }

    /// [`Self::load`] with the input's shape given (`--input-shape`): it must have the
    /// declared rank and agree with every declared concrete dimension; symbolic ones take
    /// its values.
    pub fn load_shaped(path: &Path, shape: Option<&[usize]>) -> Result<Self, ImportError> {
        let file = path.display().to_string();
        let parse = |e: TractError| ImportError::Parse {
            file: file.clone(),
            detail: format!("{e:#}"),
        };
        let onnx = tract_onnx::onnx();
        let mut proto = onnx.proto_model_for_path(path).map_err(parse)?;
        forget_symbolic_dims(&mut proto);
        let mut inference = onnx.model_for_proto_model(&proto).map_err(parse)?;
        // Operators tract itself does not know are named here rather than at typing time.
        if let Some(n) = inference
            .nodes()
            .iter()
            .find(|n| n.op_as::<UnimplementedOp>().is_some())
        {
            return Err(ImportError::Unsupported {
                file,
                node: n.name.clone(),
                op: n
                    .op
                    .name()
                    .strip_prefix("Unimplemented(")
                    .and_then(|o| o.strip_suffix(')'))
                    .map_or_else(|| n.op.name().into_owned(), str::to_owned),
                detail: " (unknown to tract 0.21)".into(),
            });
        }
        let n_in = inference.inputs.len();
        let n_out = inference.outputs.len();
        if n_in != 1 || n_out != 1 {
            return Err(ImportError::Structure {
                file,
                detail: format!(
                    "{n_in} inputs and {n_out} outputs; exactly one of each is supported"
                ),
            });
        }
        let fact = inference.input_fact(0).map_err(parse)?.clone();
        if fact.shape.is_open() {
            return Err(ImportError::Structure {
                file,
                detail: "the input has no declared rank".into(),
            });
        }
        // Symbolic (or unknown) input dimensions are fixed to 1, or to the given shape's.
        let declared: Vec<Option<usize>> = fact
            .shape
            .dims()
            .map(|d| d.concretize().and_then(|d| d.to_usize().ok()))
            .collect();
        let input_shape: Vec<usize> = match shape {
            None => declared.iter().map(|d| d.unwrap_or(1)).collect(),
            Some(given) => {
                let agrees = given.len() == declared.len()
                    && given
                        .iter()
                        .zip(&declared)
                        .all(|(g, d)| *g > 0 && d.is_none_or(|d| d == *g));
                if !agrees {
                    let spell = |d: &Option<usize>| d.map_or("?".to_string(), |d| d.to_string());
                    return Err(ImportError::Structure {
                        file,
                        detail: format!(
                            "the input shape {given:?} does not fit the declared input shape \
                             [{}] (? is symbolic)",
                            declared.iter().map(spell).collect::<Vec<_>>().join(", ")
                        ),
                    });
                }
                given.to_vec()
            }
        };
        inference = inference
            .with_input_fact(0, f32::fact(&input_shape).into())
            .map_err(parse)?;
        let typed = inference
            .into_typed()
            .and_then(|m| m.into_decluttered())
            .map_err(parse)?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "onnx".into());
        Ok(Self {
            file,
            name,
            input_shape,
            typed,
        })
    }

    /// Number of input values.
    pub fn input_len(&self) -> usize {
        self.input_shape.iter().product()
    }

    /// Rows of the graph's 2-D input view ([`input_view`]).
    pub fn input_rows(&self) -> usize {
        input_view(&self.input_shape).0
    }

    /// Checks that `input` has the model's number of values.
    pub fn check_input(&self, input: &[f32]) -> Result<(), ImportError> {
        if input.len() != self.input_len() {
            return Err(ImportError::InputLength {
                expected: self.input_len(),
                got: input.len(),
                shape: self.input_shape.clone(),
            });
        }
        Ok(())
    }

    /// Runs the model in f32 with tract; returns the flattened output.
    pub fn run_f32(&self, input: &[f32]) -> Result<Vec<f32>, ImportError> {
        self.check_input(input)?;
        let reference = |e: TractError| ImportError::Reference {
            file: self.file.clone(),
            detail: format!("{e:#}"),
        };
        let x = tract_ndarray::ArrayD::from_shape_vec(self.input_shape.clone(), input.to_vec())
            .map_err(|e| reference(e.into()))?;
        let plan = SimplePlan::new(self.typed.clone()).map_err(reference)?;
        let out = plan
            .run(tvec!(Tensor::from(x).into_tvalue()))
            .map_err(reference)?;
        let first = out.first().ok_or_else(|| ImportError::Reference {
            file: self.file.clone(),
            detail: "no output".into(),
        })?;
        let t = first.cast_to::<f32>().map_err(reference)?;
        Ok(t.as_slice::<f32>().map_err(reference)?.to_vec())
    }
}

impl OnnxModel {
    /// tract's decluttered graph, one node a line (name, op, inputs): what the importer sees,
    /// for diagnosing a model it rejects.
    pub fn describe(&self) -> String {
        self.typed
            .nodes()
            .iter()
            .map(|n| format!("{} {} {:?} {:?}", n.name, n.op.name(), n.inputs, n.op))
            .collect::<Vec<_>>()
            .join("\n")
    }
}
