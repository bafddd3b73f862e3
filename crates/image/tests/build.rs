//! Builds the real guest image from Debian's packages (cached after the first run).
use sandbench_image::{build, BuildOptions};
use std::path::PathBuf;

fn agent() -> PathBuf {
    // scripts/test.sh builds the static agent and exports its path.
    PathBuf::from(
        std::env::var("SANDBENCH_AGENT").expect("SANDBENCH_AGENT must name the static agent (scripts/test.sh sets it)"),
    )
}

#[test]
fn real_image_builds_and_is_cached() {
    let img = build(&BuildOptions { agent: agent(), ..Default::default() }).unwrap();
    assert!(img.manifest.kernel_source.starts_with("linux-image-"), "{}", img.manifest.kernel_source);
    assert!(img.manifest.pvh, "extracted vmlinux must carry the PVH note");
    assert!(img.vmlinux.as_ref().unwrap().exists());
    assert!(img.manifest.modules.contains(&"virtio_blk".to_string()), "{:?}", img.manifest.modules);
    assert!(img.agent().exists());
    assert!(std::fs::metadata(&img.rootfs_ext4).unwrap().len() > 1 << 20);
    // Same inputs: the cache answers, nothing is rebuilt.
    let again = build(&BuildOptions { agent: agent(), ..Default::default() }).unwrap();
    assert!(again.reused);
    assert_eq!(again.dir, img.dir);
}

#[test]
fn dynamic_agent_is_refused_with_a_reason() {
    let err = build(&BuildOptions { agent: PathBuf::from("/bin/ls"), ..Default::default() }).unwrap_err().to_string();
    assert!(err.contains("dynamically linked"), "{err}");
}
