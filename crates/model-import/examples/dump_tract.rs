//! Prints tract's decluttered typed graph of an ONNX file, one node a line (id, name, op,
//! inputs, output shape): what the lowering in `model-import` sees.
//!
//!     cargo run --release -p model-import --example dump_tract -- model.onnx

use tract_onnx::prelude::*;

fn main() -> TractResult<()> {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: dump_tract MODEL.onnx");
        std::process::exit(2);
    };
    let model = tract_onnx::onnx()
        .model_for_path(path)?
        .into_typed()?
        .into_decluttered()?;
    for node in model.nodes() {
        let fact = model.outlet_fact(OutletId::new(node.id, 0))?;
        let op: String = format!("{:?}", node.op).chars().take(100).collect();
        let konst = if fact.konst.is_some() { " (const)" } else { "" };
        println!(
            "{:4} {:24} {op:60} in={:?} -> {:?}{konst}",
            node.id, node.name, node.inputs, fact.shape
        );
    }
    Ok(())
}
