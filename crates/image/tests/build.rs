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
    // The kernel's configuration travels with the image (Firecracker compatibility checks).
    assert!(img.kernel_config().unwrap().contains("CONFIG_ACPI=y"));
    // Same inputs: the cache answers, nothing is rebuilt.
    let again = build(&BuildOptions { agent: agent(), ..Default::default() }).unwrap();
    assert!(again.reused);
    assert_eq!(again.dir, img.dir);
}

#[test]
fn a_dynamically_linked_agent_brings_its_library_closure() {
    // /bin/ls stands in for the dynamic agent: what matters is its ldd closure.
    let img = build(&BuildOptions { agent: PathBuf::from("/bin/ls"), ..Default::default() }).unwrap();
    let libs = &img.manifest.agent_libraries;
    assert!(libs.iter().any(|l| l.contains("libc.so")), "{libs:?}");
    assert!(libs.iter().any(|l| l.contains("ld-linux")), "{libs:?}");
    for l in libs {
        assert!(img.rootfs_dir.join(l.trim_start_matches('/')).is_file(), "{l} missing from the rootfs");
    }
    assert!(img.manifest.facts()["agent_linkage"].starts_with("dynamic"));
    let _ = std::fs::remove_dir_all(&img.dir);
}

#[test]
fn a_users_rootfs_tar_is_extended_with_the_agent() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("etc")).unwrap();
    std::fs::write(src.join("etc/os-release"), "ID=mine\n").unwrap();
    let tar = tmp.path().join("rootfs.tar");
    let st = std::process::Command::new("tar").arg("-cf").arg(&tar).arg("-C").arg(&src).arg(".").status().unwrap();
    assert!(st.success());
    let img = build(&BuildOptions { agent: agent(), rootfs: Some(tar.clone()), ..Default::default() }).unwrap();
    assert_eq!(std::fs::read_to_string(img.rootfs_dir.join("etc/os-release")).unwrap(), "ID=mine\n");
    assert!(img.agent().exists());
    assert!(img.manifest.rootfs_source.starts_with("tar "));
    let default = build(&BuildOptions { agent: agent(), ..Default::default() }).unwrap();
    assert_ne!(img.manifest.key, default.manifest.key, "a different rootfs is a different image");
    // A user's kernel: the same Debian vmlinuz given as a file, with its modules.
    let kernel = build(&BuildOptions {
        agent: agent(),
        kernel: Some(default.vmlinuz.clone()),
        modules: None,
        ..Default::default()
    })
    .unwrap();
    assert!(kernel.manifest.kernel_source.starts_with("file "));
    assert!(kernel.manifest.pvh);
    let _ = std::fs::remove_dir_all(&img.dir);
    let _ = std::fs::remove_dir_all(&kernel.dir);
}

/// A hostile rootfs tar (hole 1 of issue 12): links that point at host directories must not
/// make the image builder, running as root, write there.
#[test]
fn a_rootfs_with_links_to_host_directories_gets_nothing_written_outside_it() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    // Every directory the builder writes into is a link to the victim, absolute or relative.
    std::os::unix::fs::symlink(&victim, src.join("etc")).unwrap();
    std::os::unix::fs::symlink(&victim, src.join("sandbench")).unwrap();
    std::os::unix::fs::symlink("../../../../../../../../..", src.join("lib")).unwrap();
    let tar = tmp.path().join("rootfs.tar");
    let st = std::process::Command::new("tar").arg("-cf").arg(&tar).arg("-C").arg(&src).arg(".").status().unwrap();
    assert!(st.success());
    // The dynamic stand-in brings libraries under lib/: those writes meet the `..` link.
    let r = build(&BuildOptions { agent: PathBuf::from("/bin/ls"), rootfs: Some(tar), ..Default::default() });
    assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 0, "the builder wrote through a link: {r:?}");
    if let Ok(img) = r {
        // Resolved inside the tree: the agent sits where the guest will look for it.
        assert!(img.agent().exists());
        let _ = std::fs::remove_dir_all(&img.dir);
    }

    // A member that climbs out is refused before anything is extracted.
    let evil = tmp.path().join("evil.tar");
    let st = std::process::Command::new("tar")
        .arg("-cf")
        .arg(&evil)
        .arg("-C")
        .arg(&src)
        .arg("--transform=s,^,../../,")
        .arg("--show-transformed-names")
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let e = build(&BuildOptions { agent: agent(), rootfs: Some(evil), ..Default::default() }).unwrap_err();
    assert!(e.to_string().contains("climbs out"), "{e}");
}

#[test]
fn prune_keeps_the_most_recently_used_images() {
    let tmp = tempfile::tempdir().unwrap();
    for (i, name) in ["a", "b", "c", ".d.tmp-1"].iter().enumerate() {
        let d = tmp.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        let f = std::fs::File::create(d.join("image.json")).unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000 + i as u64)).unwrap();
    }
    let removed = sandbench_image::prune(tmp.path(), 2);
    assert_eq!(removed, vec![tmp.path().join("a")]);
    assert!(tmp.path().join("b").exists() && tmp.path().join("c").exists());
    assert!(tmp.path().join(".d.tmp-1").exists(), "a build in progress is not touched");
}

#[test]
fn prune_spares_an_image_used_within_the_hour() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["x", "y"] {
        let d = tmp.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("image.json"), "{}").unwrap();
    }
    assert!(sandbench_image::prune(tmp.path(), 1).is_empty());
}
