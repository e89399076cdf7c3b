//! Structures the circuit check refuses although each node's shapes fit: a table looked up
//! more often than LogUp over M31 allows, a row max read by anything but its exp step, an
//! output that is an input, an assertion read by another node; and the shape rule shared with
//! the builder.
#![allow(clippy::unwrap_used)]

use model::{GraphBuilder, Node, Op, Shape};
use zkml::circuit::{Circuit, GraphShape};
use zkml::VerifyError;

fn node(op: Op, shape: Shape, scale: u32) -> Node {
    Node { op, shape, scale }
}

fn refused(s: GraphShape) -> String {
    match Circuit::new(s) {
        Err(VerifyError::MalformedModel(why)) => why,
        other => panic!("accepted or wrong error: {:?}", other.map(|_| ())),
    }
}

fn shape_of(nodes: Vec<Node>, output: usize) -> GraphShape {
    GraphShape {
        name: "t".into(),
        nodes,
        weights: vec![],
        output,
        log_blocks: 0,
        more_outputs: vec![],
    }
}

#[test]
fn circuit_refuses_table_with_2pow30_lookups() {
    // Two ReLUs of 2^29 entries each: 2^30 rows into the ReLU table.
    let big = Shape::new(1 << 23, 64);
    let nodes = vec![
        node(Op::Input, big, 8),
        node(Op::Relu { input: 0 }, big, 8),
        node(Op::Relu { input: 1 }, big, 8),
    ];
    let why = refused(shape_of(nodes.clone(), 2));
    assert!(why.contains("looked-up rows"), "{why}");
    // One of them alone (2^29 rows) is fine.
    assert!(Circuit::new(shape_of(nodes[..2].to_vec(), 1)).is_ok());
}

/// A softmax over a 4 x 4 input: nodes 1 (max), 2 (exp), 3 (div) and the graph built.
fn softmax_shape() -> GraphShape {
    let mut b = GraphBuilder::new("sm", Shape::new(4, 4), 8).unwrap();
    let y = b.softmax(0, false).unwrap();
    let g = b.build(y).unwrap();
    GraphShape::of(&g)
}

#[test]
fn check_structure_refuses_softmax_max_outside_softmax_exp() {
    let s = softmax_shape();
    assert!(Circuit::new(s.clone()).is_ok());
    let max = s
        .nodes
        .iter()
        .position(|n| matches!(n.op, Op::SoftmaxMax { .. }))
        .unwrap();
    // The row max read by a ReLU, or broadcast and added to the output.
    let mut relu = s.clone();
    let shape = relu.nodes[max].shape;
    relu.nodes.push(node(Op::Relu { input: max }, shape, 8));
    relu.output = relu.nodes.len() - 1;
    refused(relu);
    // The row max as the model's output.
    let mut out = s.clone();
    out.output = max;
    refused(out);
    // An exp step on another input that borrows this max (the shape rule's part).
    let mut other = s.clone();
    let x = other.nodes[0].shape;
    other.nodes.push(node(Op::Relu { input: 0 }, x, 8));
    let relu_id = other.nodes.len() - 1;
    let Op::SoftmaxExp { table, causal, .. } = other.nodes[max + 1].op else {
        panic!("exp after max")
    };
    let scale = other.nodes[max + 1].scale;
    other.nodes.push(node(
        Op::SoftmaxExp {
            input: relu_id,
            max,
            table,
            causal,
        },
        x,
        scale,
    ));
    other.output = other.nodes.len() - 1;
    refused(other);
}

#[test]
fn output_that_is_an_input_is_refused() {
    let x = Shape::new(2, 4);
    let nodes = vec![
        node(Op::Input, x, 8),
        node(Op::Relu { input: 0 }, x, 8),
        node(Op::Input, x, 8),
    ];
    let why = refused(shape_of(nodes.clone(), 2));
    assert!(why.contains("input"), "{why}");
    refused(shape_of(nodes, 0));
}

/// Further outputs follow the output's rules: in range, not an input, named once, not a row
/// max of a softmax, and none in a batched stack.
#[test]
fn further_outputs_are_checked_like_the_output() {
    let x = Shape::new(2, 4);
    let nodes = vec![
        node(Op::Input, x, 8),
        node(Op::Relu { input: 0 }, x, 8),
        node(Op::Relu { input: 1 }, x, 8),
    ];
    let with = |more: Vec<usize>, log_blocks: u32| GraphShape {
        more_outputs: more,
        log_blocks,
        ..shape_of(nodes.clone(), 2)
    };
    assert!(Circuit::new(with(vec![1], 0)).is_ok());
    assert!(refused(with(vec![3], 0)).contains("out of range"));
    assert!(refused(with(vec![0], 0)).contains("input"));
    assert!(refused(with(vec![2], 0)).contains("twice"));
    assert!(refused(with(vec![1, 1], 0)).contains("twice"));
    assert!(refused(with(vec![1], 1)).contains("one output"));
    let mut s = softmax_shape();
    let max = s
        .nodes
        .iter()
        .position(|n| matches!(n.op, Op::SoftmaxMax { .. }))
        .unwrap();
    s.more_outputs = vec![max];
    refused(s);
}

#[test]
fn an_assertion_read_by_another_node_is_refused() {
    let x = Shape::new(2, 4);
    let nodes = vec![
        node(Op::Input, x, 8),
        node(Op::Input, x, 8),
        node(Op::Add { lhs: 0, rhs: 1 }, x, 8),
        node(Op::AssertZero { input: 2 }, x, 8),
        node(Op::Relu { input: 3 }, x, 8),
    ];
    refused(shape_of(nodes, 4));
}

/// The builder and the circuit check read one rule: a shape the rule refuses is refused by
/// both, with the builder naming the op.
#[test]
fn builder_and_circuit_share_the_shape_rule() {
    let mut b = GraphBuilder::new("rule", Shape::new(4, 8), 8).unwrap();
    // A column slice that runs past the end.
    assert!(b.column_slice(0, 8, 8).is_err());
    let s = b.column_slice(0, 4, 4).unwrap();
    let g = b.build(s).unwrap();
    let mut shape = GraphShape::of(&g);
    assert!(Circuit::new(shape.clone()).is_ok());
    shape.nodes[1].op = Op::ColumnSlice {
        input: 0,
        start: 8,
        len: 4,
    };
    refused(shape);
}
