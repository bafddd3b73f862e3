//! `sandbench image build`.

use crate::agent_path;
use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum ImageCmd {
    /// Build the guest image (or find it in the cache) and print where it is.
    Build(BuildArgs),
}

#[derive(clap::Args)]
pub struct BuildArgs {
    /// The static agent binary (default: found next to sandbench).
    #[arg(long)]
    agent: Option<PathBuf>,
    /// A kernel of your own instead of Debian's cloud kernel.
    #[arg(long)]
    kernel: Option<PathBuf>,
    /// The modules directory (lib/modules/<version>) of that kernel.
    #[arg(long)]
    modules: Option<PathBuf>,
    /// A rootfs of your own: a directory or a tar (`docker export`).
    #[arg(long)]
    rootfs: Option<PathBuf>,
    /// Rebuild even if the cache has it.
    #[arg(long)]
    force: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: ImageCmd) -> Result<i32> {
    let ImageCmd::Build(a) = cmd;
    let agent = agent_path::resolve(a.agent)?;
    let img = sandbench_image::build(&sandbench_image::BuildOptions {
        agent,
        kernel: a.kernel,
        modules: a.modules,
        rootfs: a.rootfs,
        force: a.force,
        assets: Vec::new(),
    })?;
    if a.json {
        let v = serde_json::json!({
            "dir": img.dir, "reused": img.reused, "vmlinuz": img.vmlinuz, "vmlinux": img.vmlinux,
            "initramfs": img.initramfs, "rootfs_dir": img.rootfs_dir, "rootfs_ext4": img.rootfs_ext4,
            "manifest": img.manifest,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{} image {}", if img.reused { "cached" } else { "built" }, img.manifest.key);
        println!("  kernel     {} ({})", img.manifest.kernel_release, img.manifest.kernel_source);
        println!("  vmlinuz    {}", img.vmlinuz.display());
        match &img.vmlinux {
            Some(v) => {
                println!("  vmlinux    {} (PVH note: {})", v.display(), if img.manifest.pvh { "yes" } else { "no" })
            }
            None => {
                println!("  vmlinux    unsupported: no ELF could be extracted from this kernel (microvm needs one)")
            }
        }
        println!("  initramfs  {} (modules: {})", img.initramfs.display(), img.manifest.modules.join(", "));
        println!("  rootfs     {} and {}", img.rootfs_dir.display(), img.rootfs_ext4.display());
    }
    Ok(0)
}
