//! Assembling a guest image and caching it by the hash of its inputs.

use crate::cpio::CpioWriter;
use crate::{cache, debian, error::io, kernel, ImageError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Bump when the layout or the init script changes, so old cached images are not reused.
const FORMAT: &str = "sandbench-image-3";

/// virtio drivers in load order (a module may be built in; then insmod's failure is harmless).
pub const MODULES: &[&str] = &[
    "virtio_ring",
    "virtio",
    "virtio_mmio",
    "virtio_pci_legacy_dev",
    "virtio_pci_modern_dev",
    "virtio_pci",
    "virtio_blk",
    "failover",
    "net_failover",
    "virtio_net",
];

/// The initramfs `/init`: announce itself, load virtio, mount the root disk, hand over to the
/// agent as PID 1. On any failure it says why on the console and resets (QEMU exits).
const INIT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
read up _ < /proc/uptime
echo "@@sb {\"type\":\"init\",\"uptime_ms\":$(( ${up%.*} * 1000 + 1${up#*.} * 10 - 1000 ))}"
for m in MODULE_LIST; do
  [ -f /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko 2>/dev/null
done
root=/dev/vda
net=
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    sandbench.root=*) root="${arg#sandbench.root=}" ;;
    sandbench.net=*) net="${arg#sandbench.net=}" ;;
  esac
done
if [ -n "$net" ]; then
  i=0
  while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
  ip link set lo up
  ip addr add "$net" dev eth0 && ip link set eth0 up || echo "sandbench-init: cannot configure eth0 as $net"
fi
i=0
while [ ! -b "$root" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
if ! mount -t ext4 -o ro "$root" /newroot; then
  echo "sandbench-init: cannot mount root disk $root"
  reboot -f
fi
mount --move /dev /newroot/dev
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
exec switch_root /newroot /sandbench/sandbench-agent --vm
echo "sandbench-init: switch_root failed"
reboot -f
"#;

/// What to build the image from.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The static `sandbench-agent` binary.
    pub agent: PathBuf,
    /// A kernel of your own (vmlinuz or vmlinux); default: Debian's cloud kernel.
    pub kernel: Option<PathBuf>,
    /// `lib/modules/<version>` of that kernel.
    pub modules: Option<PathBuf>,
    /// A rootfs of your own: directory or tar.
    pub rootfs: Option<PathBuf>,
    /// Rebuild even when the cache holds this image.
    pub force: bool,
    /// Files placed under `/sandbench/assets/<name>` (models, inputs, libraries): name, source
    /// file and its sha256 (part of the image key).
    pub assets: Vec<ImageAsset>,
}

/// One asset file of the image.
#[derive(Debug, Clone)]
pub struct ImageAsset {
    pub name: String,
    pub source: PathBuf,
    pub sha256: String,
}

/// What `image.json` records about an image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageManifest {
    pub key: String,
    pub format: String,
    pub kernel_source: String,
    pub kernel_release: String,
    pub busybox: String,
    pub agent_sha256: String,
    pub rootfs_source: String,
    pub modules: Vec<String>,
    pub pvh: bool,
    /// Asset files under `/sandbench/assets`.
    #[serde(default)]
    pub assets: Vec<String>,
    /// Shared libraries of a dynamically linked agent (empty: the agent is static).
    #[serde(default)]
    pub agent_libraries: Vec<String>,
}

impl ImageManifest {
    pub fn facts(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("image_key".into(), self.key.clone()),
            ("guest_kernel".into(), format!("{} ({})", self.kernel_release, self.kernel_source)),
            ("busybox".into(), self.busybox.clone()),
            ("agent_sha256".into(), self.agent_sha256.clone()),
            ("rootfs".into(), self.rootfs_source.clone()),
            (
                "agent_linkage".into(),
                if self.agent_libraries.is_empty() {
                    "static".into()
                } else {
                    format!("dynamic ({} libraries in the image)", self.agent_libraries.len())
                },
            ),
            ("assets".into(), self.assets.join(", ")),
        ])
    }
}

/// A built image in the cache.
#[derive(Debug, Clone)]
pub struct GuestImage {
    pub dir: PathBuf,
    pub vmlinuz: PathBuf,
    /// Present when the kernel is (or could be extracted as) an ELF.
    pub vmlinux: Option<PathBuf>,
    pub initramfs: PathBuf,
    pub rootfs_dir: PathBuf,
    pub rootfs_ext4: PathBuf,
    pub manifest: ImageManifest,
    /// True when the cache already had it.
    pub reused: bool,
}

impl GuestImage {
    fn at(dir: PathBuf, manifest: ImageManifest, reused: bool) -> GuestImage {
        let vmlinux = dir.join("vmlinux");
        GuestImage {
            vmlinuz: dir.join("vmlinuz"),
            vmlinux: vmlinux.exists().then_some(vmlinux),
            initramfs: dir.join("initramfs.cpio"),
            rootfs_dir: dir.join("rootfs"),
            rootfs_ext4: dir.join("rootfs.ext4"),
            dir,
            manifest,
            reused,
        }
    }

    /// The guest kernel's build configuration, when the image knows it (Debian kernels).
    pub fn kernel_config(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.join("kernel.config")).ok()
    }

    /// The agent inside the rootfs directory (also what the native driver runs).
    pub fn agent(&self) -> PathBuf {
        self.rootfs_dir.join(crate::AGENT_PATH.trim_start_matches('/'))
    }
}

/// The Debian packages a guest image of Debian architecture `arch` is built from (busybox and
/// the cloud kernel), fetched into the cache: what a fleet run seeds a host of another
/// architecture with, so that it builds its image without a network.
pub fn packages_for(arch: &str) -> Result<Vec<debian::Deb>, ImageError> {
    let kernel = debian::kernel_package(arch)?;
    Ok(vec![debian::fetch_for("busybox-static", arch)?, debian::fetch_for(&kernel, arch)?])
}

/// Builds the image, or returns the cached one with the same inputs.
pub fn build(opts: &BuildOptions) -> Result<GuestImage, ImageError> {
    // A dynamically linked agent (the onnxruntime engine) brings its library closure along.
    let closure = if agent_is_dynamic(&opts.agent)? {
        let mut bins = vec![opts.agent.as_path()];
        bins.extend(opts.assets.iter().filter(|a| a.name.ends_with(".so")).map(|a| a.source.as_path()));
        crate::closure::library_closure(&bins)?
    } else {
        Vec::new()
    };
    let agent_sha = cache::sha256_file(&opts.agent).map_err(io(&opts.agent))?;
    let kernel = Kernel::of(opts)?;
    let bb = debian::fetch("busybox-static")?;
    let bb_dir = unpacked(&bb)?;
    let (rootfs_source, rootfs_key) = match &opts.rootfs {
        None => ("minimal (agent only)".to_string(), String::new()),
        Some(p) if p.is_dir() => (format!("directory {}", p.display()), dir_fingerprint(p)),
        Some(p) => (format!("tar {}", p.display()), cache::sha256_file(p).map_err(io(p))?),
    };
    let key = cache_key(opts, &closure, &agent_sha, &kernel.sha256, &bb.sha256, &rootfs_key)?;
    let images = cache::cache_dir().join("images");
    let dir = images.join(&key);
    if let Some(m) = (!opts.force).then(|| cached(&dir.join("image.json"))).flatten() {
        prune(&images, KEEP_IMAGES);
        return Ok(GuestImage::at(dir, m, true));
    }
    let tmp = images.join(format!(".{key}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let result = assemble(&tmp, opts, &kernel.file, kernel.modules.as_deref(), &bb_dir, &closure);
    // The kernel's build configuration goes along, for VMM compatibility checks (doctor).
    if let Some(cfg) = kernel.config.filter(|c| c.is_file()) {
        let _ = std::fs::copy(cfg, tmp.join("kernel.config"));
    }
    let (pvh, modules) = result.inspect_err(|_| {
        let _ = std::fs::remove_dir_all(&tmp);
    })?;
    let manifest = ImageManifest {
        key: key.clone(),
        format: FORMAT.into(),
        kernel_source: kernel.source,
        kernel_release: kernel.release,
        busybox: format!("busybox-static {}", bb.version),
        agent_sha256: agent_sha,
        rootfs_source,
        modules,
        pvh,
        assets: opts.assets.iter().map(|a| a.name.clone()).collect(),
        agent_libraries: closure.iter().map(|p| p.display().to_string()).collect(),
    };
    let json = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    std::fs::write(tmp.join("image.json"), json).map_err(io(tmp.join("image.json")))?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&tmp, &dir).map_err(io(&dir))?;
    prune(&images, KEEP_IMAGES);
    Ok(GuestImage::at(dir, manifest, false))
}

/// The guest kernel: the user's file, or Debian's cloud kernel for this architecture.
struct Kernel {
    file: PathBuf,
    modules: Option<PathBuf>,
    /// Where it came from, for the manifest.
    source: String,
    release: String,
    sha256: String,
    /// Its build configuration, where known (Debian's `boot/config-*`).
    config: Option<PathBuf>,
}

impl Kernel {
    fn of(opts: &BuildOptions) -> Result<Kernel, ImageError> {
        if let Some(k) = &opts.kernel {
            let release = opts
                .modules
                .as_ref()
                .and_then(|m| m.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "user-supplied".into());
            return Ok(Kernel {
                file: k.clone(),
                modules: opts.modules.clone(),
                source: format!("file {}", k.display()),
                release,
                sha256: cache::sha256_file(k).map_err(io(k))?,
                config: None,
            });
        }
        let pkg = debian::kernel_package(&debian::host_arch())?;
        let deb = debian::fetch(&pkg)?;
        let dir = unpacked(&deb)?;
        let release = pkg.trim_start_matches("linux-image-").to_string();
        Ok(Kernel {
            file: dir.join(format!("boot/vmlinuz-{release}")),
            modules: Some(dir.join(format!("lib/modules/{release}"))),
            source: format!("{} {}", deb.package, deb.version),
            config: Some(dir.join(format!("boot/config-{release}"))),
            release,
            sha256: deb.sha256,
        })
    }
}

/// The image's cache key: a hash of everything that goes into it.
fn cache_key(
    opts: &BuildOptions,
    closure: &[PathBuf],
    agent_sha: &str,
    kernel_sha: &str,
    busybox_sha: &str,
    rootfs_key: &str,
) -> Result<String, ImageError> {
    // A user's modules directory is an input too (Debian's is covered by the package hash).
    let modules_key = match (&opts.kernel, &opts.modules) {
        (Some(_), Some(m)) => dir_fingerprint(m),
        _ => String::new(),
    };
    let mut assets_key: Vec<String> = opts.assets.iter().map(|a| format!("{} {}", a.name, a.sha256)).collect();
    for lib in closure {
        assets_key.push(format!("{} {}", lib.display(), cache::sha256_file(lib).map_err(io(lib))?));
    }
    assets_key.sort();
    let assets_key = assets_key.join("\n");
    let text = format!(
        "{FORMAT}\n{INIT}\n{agent_sha}\n{kernel_sha}\n{busybox_sha}\n{rootfs_key}\n{modules_key}\n{assets_key}"
    );
    Ok(cache::sha256_bytes(text.as_bytes())[..16].to_string())
}

/// The manifest of an image already in the cache, marked as used just now.
fn cached(manifest_path: &Path) -> Option<ImageManifest> {
    let m = serde_json::from_slice::<ImageManifest>(&std::fs::read(manifest_path).ok()?).ok()?;
    touch(manifest_path);
    Some(m)
}

/// Images kept in the cache; older ones (by last use) are removed, since every rebuilt agent
/// makes a new ~90 MB image.
pub const KEEP_IMAGES: usize = 4;

/// Marks an image as used now (its `image.json` mtime orders pruning).
fn touch(path: &Path) {
    if let Ok(f) = std::fs::OpenOptions::new().append(true).open(path) {
        let _ = f.set_modified(std::time::SystemTime::now());
    }
}

/// Removes all but the `keep` most recently used images under `images`, never one used in the
/// last hour (another run may be booting it). Unfinished builds of other processes
/// (`.<key>.tmp-<pid>`) are left alone.
pub fn prune(images: &Path, keep: usize) -> Vec<PathBuf> {
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(images)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .filter_map(|p| Some((std::fs::metadata(p.join("image.json")).ok()?.modified().ok()?, p)))
        .collect();
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    let recent = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let old: Vec<PathBuf> = found.into_iter().skip(keep).filter(|(t, _)| *t < recent).map(|(_, p)| p).collect();
    for p in &old {
        let _ = std::fs::remove_dir_all(p);
    }
    old
}

/// Unpacks a package once into `<cache>/pkgs/<package>_<version>`.
fn unpacked(deb: &debian::Deb) -> Result<PathBuf, ImageError> {
    let dir = cache::cache_dir().join("pkgs").join(format!("{}_{}", deb.package, deb.version.replace(':', "_")));
    if !dir.join(".complete").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        debian::extract(deb, &dir)?;
        std::fs::write(dir.join(".complete"), &deb.sha256).map_err(io(&dir))?;
    }
    Ok(dir)
}

/// Builds everything into `dir`; returns (PVH note present, modules included).
fn assemble(
    dir: &Path,
    opts: &BuildOptions,
    kernel_file: &Path,
    modules: Option<&Path>,
    bb_dir: &Path,
    closure: &[PathBuf],
) -> Result<(bool, Vec<String>), ImageError> {
    let kbytes = std::fs::read(kernel_file).map_err(io(kernel_file))?;
    std::fs::write(dir.join("vmlinuz"), &kbytes).map_err(io(dir.join("vmlinuz")))?;
    // The kernel direct-boot VMMs load: an ELF (x86_64) or the arm64 Image as it is.
    let elf = if kbytes.starts_with(b"\x7fELF") || kernel::is_arm64_image(&kbytes) {
        Some(kbytes)
    } else {
        kernel::extract_vmlinux(&kbytes).ok()
    };
    let pvh = elf.as_deref().is_some_and(kernel::has_pvh_note);
    if let Some(elf) = &elf {
        std::fs::write(dir.join("vmlinux"), elf).map_err(io(dir.join("vmlinux")))?;
    }
    // initramfs
    let busybox = bb_dir.join("bin/busybox");
    let bb = std::fs::read(&busybox).map_err(io(&busybox))?;
    let mut found = Vec::new();
    let mut w = CpioWriter::new(Vec::new());
    let cp = |e: std::io::Error| ImageError::Io { path: dir.join("initramfs.cpio"), source: e };
    for d in ["bin", "dev", "proc", "sys", "newroot", "lib", "lib/modules"] {
        w.dir(d).map_err(cp)?;
    }
    w.char_dev("dev/console", 0o600, 5, 1).map_err(cp)?;
    w.file("bin/busybox", 0o755, &bb).map_err(cp)?;
    w.symlink("bin/sh", "busybox").map_err(cp)?;
    if let Some(mdir) = modules {
        for m in MODULES {
            if let Some(path) = find_module(mdir, m) {
                let bytes = std::fs::read(&path).map_err(io(&path))?;
                w.file(&format!("lib/modules/{m}.ko"), 0o644, &bytes).map_err(cp)?;
                found.push(m.to_string());
            }
        }
    }
    let init = INIT.replace("MODULE_LIST", &MODULES.join(" "));
    w.file("init", 0o755, init.as_bytes()).map_err(cp)?;
    let cpio = w.finish().map_err(cp)?;
    std::fs::write(dir.join("initramfs.cpio"), cpio).map_err(io(dir.join("initramfs.cpio")))?;
    // rootfs directory
    let root = dir.join("rootfs");
    std::fs::create_dir_all(&root).map_err(io(&root))?;
    if let Some(src) = &opts.rootfs {
        if src.is_dir() {
            run(Command::new("cp").arg("-a").arg(format!("{}/.", src.display())).arg(&root))?;
        } else {
            check_tar_members(src)?;
            run(Command::new("tar").arg("-xf").arg(src).arg("-C").arg(&root).arg("--no-same-owner"))?;
        }
    }
    // The user's tree may hold any symlink (`etc -> /etc`): every write below resolves inside it.
    let tree = sandbench_hostfs::Beneath::open(&root, sandbench_hostfs::Links::InRoot)?;
    for d in ["proc", "sys", "dev", "tmp", "run", "etc", "sandbench", "newroot", "scratch"] {
        tree.create_dir_all(Path::new(d))?;
    }
    tree.write(Path::new("etc/hostname"), b"sandbench-guest\n")?;
    tree.copy_from(&opts.agent, Path::new(crate::AGENT_PATH.trim_start_matches('/')))?;
    for lib in closure {
        tree.copy_from(lib, lib.strip_prefix("/").unwrap_or(lib))?;
    }
    for a in &opts.assets {
        tree.copy_from(&a.source, &Path::new("sandbench/assets").join(&a.name))?;
    }
    // ext4 root disk, sized to the tree plus room for metadata.
    let kib = dir_size(&root) / 1024;
    let size_kib = kib + kib / 2 + 16 * 1024;
    run(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-L", "sandbench", "-E", "root_owner=0:0", "-d"])
        .arg(&root)
        .arg(dir.join("rootfs.ext4"))
        .arg(format!("{size_kib}k")))?;
    Ok((pvh, found))
}

/// Refuses a rootfs tar with a member that would land outside the tree (absolute, `..`).
/// Symlink members are fine: GNU tar extracts them last, and every later write resolves inside.
fn check_tar_members(src: &Path) -> Result<(), ImageError> {
    let out = Command::new("tar")
        .arg("-tf")
        .arg(src)
        .output()
        .map_err(|e| ImageError::Command { command: "tar -tf".into(), detail: e.to_string() })?;
    if !out.status.success() {
        return Err(ImageError::Command {
            command: format!("tar -tf {}", src.display()),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    for member in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(why) = escaping_member(member) {
            return Err(ImageError::RootfsMember { path: src.to_path_buf(), member: member.into(), why: why.into() });
        }
    }
    Ok(())
}

/// Why a tar member's name leaves the tree, if it does.
pub(crate) fn escaping_member(member: &str) -> Option<&'static str> {
    if member.starts_with('/') {
        Some("is an absolute path")
    } else if Path::new(member).components().any(|c| c == std::path::Component::ParentDir) {
        Some("climbs out with `..`")
    } else {
        None
    }
}

fn find_module(dir: &Path, name: &str) -> Option<PathBuf> {
    let want = format!("{name}.ko");
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).ok()?.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == want.as_str()) {
                return Some(p);
            }
        }
    }
    None
}

fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len() + 4096,
                Err(_) => {}
            }
        }
    }
    total
}

/// Paths, sizes and mtimes of a directory tree: cheap change detection for a user's rootfs.
fn dir_fingerprint(dir: &Path) -> String {
    let mut lines = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if let Ok(m) = e.metadata() {
                let mtime = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                lines.push(format!("{} {} {}", e.path().display(), m.len(), mtime));
                if m.is_dir() {
                    stack.push(e.path());
                }
            }
        }
    }
    lines.sort();
    cache::sha256_bytes(lines.join("\n").as_bytes())
}

fn run(cmd: &mut Command) -> Result<(), ImageError> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| ImageError::Command { command: shown.clone(), detail: e.to_string() })?;
    if !out.status.success() {
        return Err(ImageError::Command {
            command: shown,
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// Whether the agent is dynamically linked (then the image carries its library closure).
fn agent_is_dynamic(agent: &Path) -> Result<bool, ImageError> {
    let bytes = std::fs::read(agent).map_err(|e| ImageError::Agent {
        path: agent.into(),
        why: format!("{e}; build it with scripts/build-agent.sh"),
    })?;
    if !bytes.starts_with(b"\x7fELF") || bytes.len() < 64 {
        return Err(ImageError::Agent { path: agent.into(), why: "not an ELF executable".into() });
    }
    Ok(has_interp(&bytes))
}

/// True when a 64-bit little-endian ELF has a PT_INTERP program header.
pub fn has_interp(elf: &[u8]) -> bool {
    let u64_at =
        |o: usize| elf.get(o..o + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]))).unwrap_or(0) as usize;
    let u16_at = |o: usize| elf.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]])).unwrap_or(0) as usize;
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    (0..phnum).any(|i| elf.get(phoff + i * phentsize..phoff + i * phentsize + 4) == Some(&3u32.to_le_bytes()[..]))
}
