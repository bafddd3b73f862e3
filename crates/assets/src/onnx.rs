//! The part of the ONNX protobuf schema needed to write an inference graph (field numbers from
//! `onnx.proto`), and a small builder for it.

use prost::Message;

#[derive(Clone, PartialEq, Message)]
pub struct ModelProto {
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    #[prost(string, tag = "2")]
    pub producer_name: String,
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetIdProto>,
    #[prost(message, repeated, tag = "14")]
    pub metadata_props: Vec<StringStringEntryProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct OperatorSetIdProto {
    #[prost(string, tag = "1")]
    pub domain: String,
    #[prost(int64, tag = "2")]
    pub version: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct StringStringEntryProto {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    #[prost(string, tag = "3")]
    pub name: String,
    #[prost(string, tag = "4")]
    pub op_type: String,
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct AttributeProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(int64, tag = "3")]
    pub i: i64,
    #[prost(int64, repeated, tag = "8")]
    pub ints: Vec<i64>,
    /// 2 = INT, 7 = INTS.
    #[prost(int32, tag = "20")]
    pub r#type: i32,
}

#[derive(Clone, PartialEq, Message)]
pub struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    pub dims: Vec<i64>,
    /// 1 = FLOAT, 7 = INT64.
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    #[prost(string, tag = "8")]
    pub name: String,
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ValueInfoProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TypeProto {
    #[prost(message, optional, tag = "1")]
    pub tensor_type: Option<TensorTypeProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TensorTypeProto {
    #[prost(int32, tag = "1")]
    pub elem_type: i32,
    #[prost(message, optional, tag = "2")]
    pub shape: Option<TensorShapeProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<Dimension>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Dimension {
    #[prost(int64, tag = "1")]
    pub dim_value: i64,
    /// A symbolic size (`batch`); set when `dim_value` is unset.
    #[prost(string, tag = "2")]
    pub dim_param: String,
}

/// An integer or integer-list node attribute.
pub enum Attr {
    Int(&'static str, i64),
    Ints(&'static str, Vec<i64>),
}

/// Builds a float32 graph node by node.
#[derive(Default)]
pub struct Graph {
    g: GraphProto,
}

/// A value's element type (ONNX `TensorProto.DataType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem {
    F32 = 1,
    I64 = 7,
}

/// One size of a graph input or output: fixed, or symbolic (named, set at run time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    Fixed(i64),
    Named(&'static str),
}

fn value_info(name: &str, elem: Elem, dims: &[Dim]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: elem as i32,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| match d {
                            Dim::Named(n) => Dimension { dim_value: 0, dim_param: n.into() },
                            Dim::Fixed(d) => Dimension { dim_value: d, dim_param: String::new() },
                        })
                        .collect(),
                }),
            }),
        }),
    }
}

/// float32 sizes where -1 is the symbolic `batch`.
fn batch_dims(shape: &[i64]) -> Vec<Dim> {
    shape.iter().map(|&d| if d == -1 { Dim::Named("batch") } else { Dim::Fixed(d) }).collect()
}

impl Graph {
    /// A graph input; a size of -1 is the symbolic `batch`.
    pub fn input(&mut self, name: &str, shape: &[i64]) {
        self.g.input.push(value_info(name, Elem::F32, &batch_dims(shape)));
    }
    pub fn output(&mut self, name: &str, shape: &[i64]) {
        self.g.output.push(value_info(name, Elem::F32, &batch_dims(shape)));
    }
    /// A graph input of any element type and sizes.
    pub fn input_of(&mut self, name: &str, elem: Elem, dims: &[Dim]) {
        self.g.input.push(value_info(name, elem, dims));
    }
    /// A float32 graph output of any sizes.
    pub fn output_of(&mut self, name: &str, dims: &[Dim]) {
        self.g.output.push(value_info(name, Elem::F32, dims));
    }
    /// Adds an int64 constant (shapes, axes, slice bounds) and returns its name.
    pub fn constant_i64(&mut self, name: &str, data: &[i64]) -> String {
        self.g.initializer.push(TensorProto {
            dims: vec![data.len() as i64],
            data_type: Elem::I64 as i32,
            name: name.to_string(),
            raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
        name.to_string()
    }
    /// Adds a float32 constant and returns its name.
    pub fn constant(&mut self, name: &str, shape: &[usize], data: &[f32]) -> String {
        self.g.initializer.push(TensorProto {
            dims: shape.iter().map(|&d| d as i64).collect(),
            data_type: 1,
            name: name.to_string(),
            raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
        name.to_string()
    }
    /// Adds a node with one output called `output` and returns that name.
    pub fn node(&mut self, op: &str, inputs: &[&str], output: &str, attrs: Vec<Attr>) -> String {
        let attribute = attrs
            .into_iter()
            .map(|a| match a {
                Attr::Int(n, i) => AttributeProto { name: n.into(), i, ints: vec![], r#type: 2 },
                Attr::Ints(n, ints) => AttributeProto { name: n.into(), i: 0, ints, r#type: 7 },
            })
            .collect();
        self.g.node.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.to_string()],
            name: output.to_string(),
            op_type: op.to_string(),
            attribute,
        });
        output.to_string()
    }
    /// The serialized model (IR 7, opset 13).
    pub fn encode(self, name: &str, metadata: &[(&str, &str)]) -> Vec<u8> {
        self.encode_opset(name, metadata, 13)
    }
    /// The serialized model for the default domain's `opset` (IR 9 from opset 19 on, else 7).
    pub fn encode_opset(self, name: &str, metadata: &[(&str, &str)], opset: i64) -> Vec<u8> {
        let model = ModelProto {
            ir_version: if opset >= 19 { 9 } else { 7 },
            producer_name: "sandbench-assets".into(),
            graph: Some(GraphProto { name: name.into(), ..self.g }),
            opset_import: vec![OperatorSetIdProto { domain: String::new(), version: opset }],
            metadata_props: metadata
                .iter()
                .map(|(k, v)| StringStringEntryProto { key: k.to_string(), value: v.to_string() })
                .collect(),
        };
        model.encode_to_vec()
    }
}
