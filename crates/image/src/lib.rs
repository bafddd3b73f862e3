//! The guest image every environment runs: a kernel (vmlinuz for QEMU q35, the ELF vmlinux for
//! PVH boots such as QEMU microvm and Firecracker), an initramfs with busybox and the virtio
//! modules, and a root filesystem holding the agent, both as a directory (the OCI bundle's
//! rootfs, the native agent's path) and as an ext4 image (VM root disk).
//!
//! Images are cached by a hash of everything that goes into them: unchanged inputs are never
//! rebuilt.

mod build;
pub mod cache;
pub mod closure;
pub mod cpio;
pub mod debian;
mod error;
pub mod kernel;

pub use build::{
    build, has_interp, packages_for, prune, BuildOptions, GuestImage, ImageAsset, ImageManifest, KEEP_IMAGES,
};
pub use error::ImageError;

/// The agent's path inside every rootfs.
pub const AGENT_PATH: &str = "/sandbench/sandbench-agent";
