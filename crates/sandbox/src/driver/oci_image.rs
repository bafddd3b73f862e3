//! An OCI image layout (one uncompressed layer holding the guest rootfs), written as a tar
//! that `ctr images import` accepts, so the containerd driver runs the same image format a
//! registry would deliver, unpacked by containerd's snapshotter.

use crate::SandboxError;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

fn io(what: String) -> impl FnOnce(std::io::Error) -> SandboxError {
    move |source| SandboxError::Io { what, source }
}

/// Writes `bytes` as a blob and returns its descriptor fields (digest, size).
fn blob(layout: &Path, bytes: &[u8]) -> Result<(String, u64), SandboxError> {
    let hex = sandbench_image::cache::sha256_bytes(bytes);
    let path = layout.join("blobs/sha256").join(&hex);
    std::fs::write(&path, bytes).map_err(io(format!("write {}", path.display())))?;
    Ok((format!("sha256:{hex}"), bytes.len() as u64))
}

/// Builds `<dir>/image.tar`, an OCI layout of `rootfs` named `reference`, and returns its path.
pub fn write_layout(rootfs: &Path, reference: &str, dir: &Path) -> Result<PathBuf, SandboxError> {
    let layout = dir.join("layout");
    let _ = std::fs::remove_dir_all(&layout);
    std::fs::create_dir_all(layout.join("blobs/sha256")).map_err(io(format!("create {}", layout.display())))?;
    let layer = dir.join("layer.tar");
    let st =
        Command::new("tar").arg("-C").arg(rootfs).arg("-cf").arg(&layer).arg(".").status().map_err(io("tar".into()))?;
    if !st.success() {
        return Err(SandboxError::Command { command: format!("tar of {}", rootfs.display()), detail: "failed".into() });
    }
    let layer_hex = sandbench_image::cache::sha256_file(&layer).map_err(io(format!("hash {}", layer.display())))?;
    let layer_size = std::fs::metadata(&layer).map_err(io(format!("stat {}", layer.display())))?.len();
    let layer_blob = layout.join("blobs/sha256").join(&layer_hex);
    std::fs::rename(&layer, &layer_blob).map_err(io(format!("move {}", layer.display())))?;
    // OCI's architecture names are Debian's (`amd64`, `arm64`).
    let arch = sandbench_image::debian::debian_arch(sandbench_spec::Arch::HOST.as_str()).unwrap_or("amd64");
    let config = json!({
        "architecture": arch,
        "os": "linux",
        "config": { "Cmd": [sandbench_image::AGENT_PATH] },
        "rootfs": { "type": "layers", "diff_ids": [format!("sha256:{layer_hex}")] },
    });
    let (config_digest, config_size) = blob(&layout, config.to_string().as_bytes())?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": format!("sha256:{layer_hex}"), "size": layer_size }],
    });
    let (manifest_digest, manifest_size) = blob(&layout, manifest.to_string().as_bytes())?;
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "annotations": { "io.containerd.image.name": reference, "org.opencontainers.image.ref.name": reference },
        }],
    });
    std::fs::write(layout.join("index.json"), index.to_string()).map_err(io("write index.json".into()))?;
    std::fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
        .map_err(io("write oci-layout".into()))?;
    let tar = dir.join("image.tar");
    let st =
        Command::new("tar").arg("-C").arg(&layout).arg("-cf").arg(&tar).arg(".").status().map_err(io("tar".into()))?;
    let _ = std::fs::remove_dir_all(&layout);
    if !st.success() {
        return Err(SandboxError::Command { command: "tar of the OCI layout".into(), detail: "failed".into() });
    }
    Ok(tar)
}
