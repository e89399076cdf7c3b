//! Loading an ONNX file with tract: parsing, shape inference with a fixed input shape,
//! constant folding and decluttering; and the f32 reference run.

use std::collections::HashMap;
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
/// projections contract); otherwise rows are the first axis (`N` images of `C*H*W`). Image
/// batches read by convolutions or pools are channels-last instead ([`InputSpec::nchw`]).
pub fn input_view(dims: &[usize]) -> (usize, usize) {
    match dims.len() {
        0 | 1 => (1, dims.iter().product()),
        3 => (dims[0] * dims[1], dims[2]),
        _ => (dims[0], dims[1..].iter().product()),
    }
}

/// The `N, C, H, W` of a shape that can be laid out channels-last: a rank-4 image batch with
/// more than one pixel, or a rank-3 `N x C x L` sequence (1-D convolutions) as height 1.
pub fn channels_last(dims: &[usize]) -> Option<[usize; 4]> {
    match *dims {
        [n, c, h, w] if h * w > 1 => Some([n, c, h, w]),
        [n, c, l] if l > 1 => Some([n, c, 1, l]),
        _ => None,
    }
}

/// Whether the graph has a convolution or a pool (its image inputs are then channels-last).
fn has_spatial_ops(typed: &TypedModel) -> bool {
    use tract_onnx::tract_core::ops::cnn::{Conv, MaxPool, SumPool};
    typed.nodes().iter().any(|n| {
        n.op_as::<Conv>().is_some()
            || n.op_as::<MaxPool>().is_some()
            || n.op_as::<SumPool>().is_some()
    })
}

/// One graph input: its name, concrete shape (symbolic dimensions fixed) and whether it holds
/// integers (token ids, masks: exact, at scale 0) rather than reals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub ints: bool,
    /// `N, C, H, W` where the input is laid out channels-last (one row per pixel, one column
    /// per channel): a real image batch in a model with convolutions or pools. Its values
    /// arrive in ONNX's NCHW order and are transposed ([`crate::plan::nchw_to_nhwc`]) so that
    /// a convolution is a window gather and one matmul by its kernel (`lower/conv.rs`).
    pub nchw: Option<[usize; 4]>,
}

impl InputSpec {
    /// The input's 2-D view: channels-last, or [`input_view`] of its shape.
    pub fn view(&self) -> (usize, usize) {
        match self.nchw {
            Some([n, c, h, w]) => (n * h * w, c),
            None => input_view(&self.shape),
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the input has no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What is known of an input's shape before loading.
#[derive(Clone, Copy, Debug)]
enum Given<'a> {
    Nothing,
    Shape(&'a [usize]),
    /// Its number of values.
    Len(usize),
}

/// The concrete shape of input `name`: the given one (checked against the declared rank and
/// concrete dimensions), or the declared one with symbolic dimensions fixed to 1 (with a
/// given length, the last symbolic one takes what the others leave).
fn input_shape(
    file: &str,
    name: &str,
    fact: &InferenceFact,
    given: Given<'_>,
) -> Result<Vec<usize>, ImportError> {
    if fact.shape.is_open() {
        return Err(ImportError::Structure {
            file: file.into(),
            detail: format!("input '{name}' has no declared rank"),
        });
    }
    let declared: Vec<Option<usize>> = fact
        .shape
        .dims()
        .map(|d| d.concretize().and_then(|d| d.to_usize().ok()))
        .collect();
    let mut fixed: Vec<usize> = declared.iter().map(|d| d.unwrap_or(1)).collect();
    let given = match given {
        Given::Nothing => return Ok(fixed),
        Given::Len(n) => {
            if let Some(last) = declared.iter().rposition(Option::is_none) {
                let rest: usize = fixed.iter().product();
                if rest > 0 && n.is_multiple_of(rest) {
                    fixed[last] = n / rest;
                }
            }
            return Ok(fixed);
        }
        Given::Shape(s) => s,
    };
    let agrees = given.len() == declared.len()
        && given
            .iter()
            .zip(&declared)
            .all(|(g, d)| *g > 0 && d.is_none_or(|d| d == *g));
    if !agrees {
        let spell = |d: &Option<usize>| d.map_or("?".to_string(), |d| d.to_string());
        return Err(ImportError::Structure {
            file: file.into(),
            detail: format!(
                "the shape {given:?} of input '{name}' does not fit its declared shape [{}] \
                 (? is symbolic)",
                declared.iter().map(spell).collect::<Vec<_>>().join(", ")
            ),
        });
    }
    Ok(given.to_vec())
}

/// An ONNX model as tract's decluttered typed graph, with concrete input shapes.
#[derive(Debug, Clone)]
pub struct OnnxModel {
    /// The file it came from (for error messages).
    pub file: String,
    /// The model name used for the imported graph (file stem).
    pub name: String,
    /// Concrete shape of the first input (symbolic dimensions fixed to 1 or given).
    pub input_shape: Vec<usize>,
    /// Every input in the graph's order. Values for the model are these inputs' values
    /// flattened row-major and concatenated in this order.
    pub inputs: Vec<InputSpec>,
    /// The names of the outputs the model is imported with, in order: every graph output, or
    /// those [`Self::select_outputs`] picked.
    pub outputs: Vec<String>,
    /// The interpolation attributes of each Resize node, by tract's node name (tract keeps
    /// its Resize op opaque, so they are read from the file).
    pub(crate) resize: HashMap<String, ResizeAttrs>,
    pub(crate) typed: TypedModel,
}

/// A Resize node's interpolation, as its ONNX attributes (or their defaults) give it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResizeAttrs {
    /// `nearest`, `linear` or `cubic`.
    pub mode: String,
    /// `coordinate_transformation_mode`: how an output coordinate maps to an input one.
    pub coords: String,
    /// `nearest_mode`: how a fractional input coordinate is rounded.
    pub nearest: String,
}

/// The Resize nodes' attributes, keyed by the name tract gives each node (its ONNX name, else
/// its first output's).
fn resize_attrs(proto: &tract_onnx::pb::ModelProto) -> HashMap<String, ResizeAttrs> {
    let Some(graph) = &proto.graph else {
        return HashMap::new();
    };
    graph
        .node
        .iter()
        .filter(|n| n.op_type == "Resize")
        .filter_map(|n| {
            let name = if n.name.is_empty() {
                n.output.first().filter(|o| !o.is_empty())?.clone()
            } else {
                n.name.clone()
            };
            let attr = |key: &str, default: &str| {
                n.attribute.iter().find(|a| a.name == key).map_or_else(
                    || default.to_owned(),
                    |a| String::from_utf8_lossy(&a.s).into_owned(),
                )
            };
            let attrs = ResizeAttrs {
                mode: attr("mode", "nearest"),
                coords: attr("coordinate_transformation_mode", "half_pixel"),
                nearest: attr("nearest_mode", "round_prefer_floor"),
            };
            Some((name, attrs))
        })
        .collect()
}

impl OnnxModel {
    /// Parses `path` and lets tract infer shapes and fold constants. Symbolic input
    /// dimensions (a batch dimension `N`) are fixed to 1.
    pub fn load(path: &Path) -> Result<Self, ImportError> {
        Self::load_inputs(path, &[])
    }

    /// [`Self::load`] with the first input's shape given (`--input-shape`): it must have the
    /// declared rank and agree with every declared concrete dimension; symbolic ones take
    /// its values.
    pub fn load_shaped(path: &Path, shape: Option<&[usize]>) -> Result<Self, ImportError> {
        Self::load_inputs(path, &[shape.map(<[usize]>::to_vec)])
    }

    /// [`Self::load`] with the shapes of the inputs given in order (`None`, or a missing
    /// entry, leaves an input's declared shape with symbolic dimensions fixed to 1).
    pub fn load_inputs(path: &Path, shapes: &[Option<Vec<usize>>]) -> Result<Self, ImportError> {
        let given: Vec<Given> = shapes
            .iter()
            .map(|s| s.as_deref().map_or(Given::Nothing, Given::Shape))
            .collect();
        Self::load_given(path, &given)
    }

    /// [`Self::load`] for input tensors of `lens` values each (a proof's public inputs): an
    /// input's symbolic dimensions are 1 but the last, which takes what the length leaves;
    /// `first_shape` (`--input-shape`), when given, is the first input's shape.
    pub fn load_for_lens(
        path: &Path,
        lens: &[usize],
        first_shape: Option<&[usize]>,
    ) -> Result<Self, ImportError> {
        let given: Vec<Given> = lens
            .iter()
            .enumerate()
            .map(|(i, &n)| match (i, first_shape) {
                (0, Some(s)) => Given::Shape(s),
                _ => Given::Len(n),
            })
            .collect();
        Self::load_given(path, &given)
    }

    fn load_given(path: &Path, shapes: &[Given<'_>]) -> Result<Self, ImportError> {
        let file = path.display().to_string();
        let parse = |e: TractError| ImportError::Parse {
            file: file.clone(),
            detail: format!("{e:#}"),
        };
        let onnx = tract_onnx::onnx();
        let mut proto = onnx.proto_model_for_path(path).map_err(parse)?;
        forget_symbolic_dims(&mut proto);
        let mut inference = onnx.model_for_proto_model(&proto).map_err(parse)?;
        let resize = resize_attrs(&proto);
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
        if inference.inputs.is_empty() || inference.outputs.is_empty() {
            return Err(ImportError::Structure {
                file,
                detail: "the model has no input or no output".into(),
            });
        }
        if shapes.len() > inference.inputs.len() {
            return Err(ImportError::Structure {
                file,
                detail: format!(
                    "{} input shapes given for {} inputs",
                    shapes.len(),
                    inference.inputs.len()
                ),
            });
        }
        let mut inputs = Vec::with_capacity(inference.inputs.len());
        for i in 0..inference.inputs.len() {
            let fact = inference.input_fact(i).map_err(parse)?.clone();
            let name = inference.node(inference.inputs[i].node).name.clone();
            let given = shapes.get(i).copied().unwrap_or(Given::Nothing);
            let shape = input_shape(&file, &name, &fact, given)?;
            let ints = match fact.datum_type.concretize() {
                Some(t) if t.is_float() => false,
                Some(t) if t.is_integer() || t == DatumType::Bool => true,
                Some(t) => {
                    return Err(ImportError::Structure {
                        file,
                        detail: format!("input '{name}' has type {t:?} (reals or integers only)"),
                    })
                }
                None => false,
            };
            let dt = if ints {
                i64::datum_type()
            } else {
                f32::datum_type()
            };
            inference = inference
                .with_input_fact(i, InferenceFact::dt_shape(dt, &shape))
                .map_err(parse)?;
            inputs.push(InputSpec {
                name,
                shape,
                ints,
                nchw: None,
            });
        }
        // The ONNX names of the outputs (tract labels each outlet with its tensor's name).
        let outputs = inference
            .outputs
            .iter()
            .map(|&o| {
                inference
                    .outlet_label(o)
                    .map_or_else(|| inference.node(o.node).name.clone(), str::to_owned)
            })
            .collect();
        let typed = inference
            .into_typed()
            .and_then(|m| m.into_decluttered())
            .map_err(parse)?;
        if has_spatial_ops(&typed) {
            for spec in inputs.iter_mut().filter(|s| !s.ints) {
                spec.nchw = channels_last(&spec.shape);
            }
        }
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "onnx".into());
        Ok(Self {
            file,
            name,
            input_shape: inputs[0].shape.clone(),
            inputs,
            outputs,
            resize,
            typed,
        })
    }

    /// The model with only the outputs named in `names`, in that order (`--outputs`); the
    /// graph behind the others is not imported. An unknown or repeated name is refused,
    /// naming the outputs there are. Empty `names` keep every output.
    pub fn select_outputs(mut self, names: &[String]) -> Result<Self, ImportError> {
        if names.is_empty() {
            return Ok(self);
        }
        let outlets = self
            .typed
            .output_outlets()
            .map_err(|e| ImportError::Structure {
                file: self.file.clone(),
                detail: format!("{e:#}"),
            })?;
        let mut picked = Vec::with_capacity(names.len());
        for (k, name) in names.iter().enumerate() {
            let Some(i) = self.outputs.iter().position(|o| o == name) else {
                return Err(ImportError::Structure {
                    file: self.file.clone(),
                    detail: format!(
                        "no output named '{name}' (the outputs are {})",
                        self.outputs.join(", ")
                    ),
                });
            };
            if names[..k].contains(name) {
                return Err(ImportError::Structure {
                    file: self.file.clone(),
                    detail: format!("output '{name}' is named twice"),
                });
            }
            picked.push(outlets[i]);
        }
        self.typed.outputs = picked;
        self.outputs = names.to_vec();
        Ok(self)
    }

    /// The names of the inputs `path` declares (graph inputs that are not initialisers), in
    /// order, read without building the model.
    pub fn input_names(path: &Path) -> Result<Vec<String>, ImportError> {
        let proto =
            tract_onnx::onnx()
                .proto_model_for_path(path)
                .map_err(|e| ImportError::Parse {
                    file: path.display().to_string(),
                    detail: format!("{e:#}"),
                })?;
        let Some(graph) = proto.graph else {
            return Ok(vec![]);
        };
        let inits: std::collections::HashSet<&str> =
            graph.initializer.iter().map(|t| t.name.as_str()).collect();
        Ok(graph
            .input
            .iter()
            .filter(|i| !inits.contains(i.name.as_str()))
            .map(|i| i.name.clone())
            .collect())
    }

    /// Number of input values, over all inputs.
    pub fn input_len(&self) -> usize {
        self.inputs.iter().map(InputSpec::len).sum()
    }

    /// Rows of the graph's 2-D view of its first input ([`input_view`]).
    pub fn input_rows(&self) -> usize {
        self.inputs.first().map_or(1, |s| s.view().0)
    }

    /// Checks that `input` has the model's number of values and integers where an input
    /// holds integers.
    pub fn check_input(&self, input: &[f32]) -> Result<(), ImportError> {
        if input.len() != self.input_len() {
            return Err(ImportError::InputLength {
                expected: self.input_len(),
                got: input.len(),
                shape: self.input_shape.clone(),
            });
        }
        let mut at = 0;
        for spec in &self.inputs {
            let vals = &input[at..at + spec.len()];
            if spec.ints {
                if let Some((i, v)) = vals
                    .iter()
                    .enumerate()
                    .find(|(_, v)| v.fract() != 0.0 || v.abs() >= (1 << 24) as f32)
                {
                    return Err(ImportError::Structure {
                        file: self.file.clone(),
                        detail: format!(
                            "input '{}' holds integers; value {v} at index {i} is not one",
                            spec.name
                        ),
                    });
                }
            }
            at += spec.len();
        }
        Ok(())
    }

    /// The 2-D view of every input: [`input_view`] of its shape, except that integers read
    /// only as the indices of Gathers from constant tables (token ids into embeddings) are a
    /// column, one id a row, as the proved embedding wants them.
    pub fn input_views(&self) -> Vec<(usize, usize)> {
        let outlets = self.typed.input_outlets().unwrap_or(&[]);
        self.inputs
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let ids = spec.ints && outlets.get(i).is_some_and(|&o| self.only_gather_indices(o));
                if ids {
                    (spec.len(), 1)
                } else {
                    spec.view()
                }
            })
            .collect()
    }

    /// Whether every reader of `o` is a Gather from a constant table using it as indices.
    fn only_gather_indices(&self, o: OutletId) -> bool {
        use tract_onnx::tract_core::ops::array::Gather;
        let succ = self.typed.outlet_successors(o);
        !succ.is_empty()
            && succ.iter().all(|inlet| {
                let n = &self.typed.nodes()[inlet.node];
                n.op_as::<Gather>().is_some()
                    && inlet.slot == 1
                    && n.inputs.first().is_some_and(|t| {
                        self.typed.outlet_fact(*t).is_ok_and(|f| f.konst.is_some())
                    })
            })
    }

    /// `input` cut into each input's values.
    pub fn split_input<'a>(&self, input: &'a [f32]) -> Vec<&'a [f32]> {
        let mut at = 0;
        self.inputs
            .iter()
            .map(|spec| {
                let part = &input[at.min(input.len())..(at + spec.len()).min(input.len())];
                at += spec.len();
                part
            })
            .collect()
    }

    /// Runs the model in f32 with tract; returns each output, flattened, in order.
    pub fn run_f32(&self, input: &[f32]) -> Result<Vec<Vec<f32>>, ImportError> {
        self.check_input(input)?;
        let reference = |e: TractError| ImportError::Reference {
            file: self.file.clone(),
            detail: format!("{e:#}"),
        };
        let mut values = TVec::new();
        for (spec, vals) in self.inputs.iter().zip(self.split_input(input)) {
            let t: Tensor = if spec.ints {
                let ints: Vec<i64> = vals.iter().map(|&v| v as i64).collect();
                tract_ndarray::ArrayD::from_shape_vec(spec.shape.clone(), ints)
                    .map_err(|e| reference(e.into()))?
                    .into()
            } else {
                tract_ndarray::ArrayD::from_shape_vec(spec.shape.clone(), vals.to_vec())
                    .map_err(|e| reference(e.into()))?
                    .into()
            };
            values.push(t.into_tvalue());
        }
        // tract's optimised model: its matmul kernels, not the reference einsum loops (which
        // took 15 s for a 4.5M-parameter encoder).
        let optimized = self.typed.clone().into_optimized().map_err(reference)?;
        let plan = SimplePlan::new(optimized).map_err(reference)?;
        let out = plan.run(values).map_err(reference)?;
        out.iter()
            .map(|t| {
                let t = t.cast_to::<f32>().map_err(reference)?;
                Ok(t.as_slice::<f32>().map_err(reference)?.to_vec())
            })
            .collect()
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
