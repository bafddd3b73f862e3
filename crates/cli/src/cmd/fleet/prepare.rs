//! What a new fleet run needs before Ansible starts: its folder, one campaign per host (the
//! campaign's `[[fleet.override]]`s applied), the binaries per architecture, and the seed of
//! each host's cache (the assets and Debian packages the campaign needs, so that hosts fetch
//! nothing and build their guest image themselves).

use anyhow::{bail, Context, Result};
use sandbench_fleet::{FleetManifest, HostRecord, HostState, Inventory};
use sandbench_spec::Campaign;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Binaries given on the command line: `ARCH=DIR`, DIR holding `sandbench` and the static
/// `sandbench-agent` (and, for the AI kinds when the static agent was built without the
/// inference engines, the dynamically linked agent as `sandbench-agent-dynamic`).
pub fn parse_binaries(given: &[String]) -> Result<BTreeMap<String, PathBuf>> {
    let mut map = BTreeMap::new();
    for g in given {
        let Some((arch, dir)) = g.split_once('=') else {
            bail!("--binaries `{g}`: expected ARCH=DIR, e.g. aarch64=target/aarch64-unknown-linux-gnu/release");
        };
        let dir = std::fs::canonicalize(dir).with_context(|| format!("--binaries {arch}={dir}"))?;
        for f in ["sandbench", "sandbench-agent"] {
            if !dir.join(f).is_file() {
                bail!(
                    "--binaries {arch}={}: no `{f}` there (it needs sandbench and the static sandbench-agent)",
                    dir.display()
                );
            }
        }
        map.insert(arch.to_string(), dir);
    }
    Ok(map)
}

/// This machine's binaries as a folder of links, under the fleet run's `bin/<arch>/`.
pub fn own_binaries(dir: &Path, agent: &Path) -> Result<(String, PathBuf)> {
    let arch = std::env::consts::ARCH.to_string();
    let bin = dir.join("bin").join(&arch);
    std::fs::create_dir_all(&bin)?;
    let exe = std::env::current_exe().context("the sandbench binary's own path")?;
    link(&exe, &bin.join("sandbench"))?;
    link(&std::fs::canonicalize(agent)?, &bin.join("sandbench-agent"))?;
    // The agent with the inference engines, which the AI kinds need (run.yml copies it when
    // it is there; `sandbench` on the host finds it next to itself).
    if let Some(dynamic) = crate::agent_path::resolve_dynamic() {
        link(&std::fs::canonicalize(dynamic)?, &bin.join(crate::agent_path::DYNAMIC_NAME))?;
    }
    Ok((arch, bin))
}

fn link(src: &Path, dst: &Path) -> Result<()> {
    let _ = std::fs::remove_file(dst);
    std::os::unix::fs::symlink(src, dst).with_context(|| format!("link {} to {}", dst.display(), src.display()))
}

/// The per-host campaigns, written to `campaigns/<host>.toml`.
pub fn host_campaigns(dir: &Path, campaign: &Campaign, inv: &Inventory) -> Result<Vec<Campaign>> {
    let out = dir.join("campaigns");
    std::fs::create_dir_all(&out)?;
    let mut all = Vec::new();
    for (name, host) in &inv.hosts {
        let c = campaign.for_host(name, &host.groups).map_err(|e| anyhow::anyhow!("{}: {e}", campaign_name(dir)))?;
        if c.environments.is_empty() {
            bail!("host `{name}`: the campaign's [[fleet.override]]s skip every environment");
        }
        std::fs::write(out.join(format!("{name}.toml")), toml::to_string(&c)?)?;
        all.push(c);
    }
    Ok(all)
}

fn campaign_name(dir: &Path) -> String {
    dir.join("campaign.toml").display().to_string()
}

/// The seeds of the hosts' caches, one per architecture of the fleet run, each packed as one
/// tar: links to the assets the campaigns need (fetched here first; architecture-independent,
/// except native libraries such as onnxruntime's, which only this machine's architecture gets)
/// and, when a campaign needs a guest image, the Debian packages of the host's architecture it
/// is built from (fetched here), so that hosts need no network.
pub fn seeds(
    dir: &Path,
    campaigns: &[Campaign],
    agent: &Path,
    archs: impl Iterator<Item = String>,
) -> Result<BTreeMap<String, PathBuf>> {
    let own = std::env::consts::ARCH;
    let root = sandbench_assets::Store::default_root();
    let store = sandbench_assets::Store::new(&root);
    let mut assets = Vec::new();
    let mut image = false;
    // Hosts whose overrides change nothing share one campaign: fetch and hash its inputs once.
    let mut seen: Vec<String> = Vec::new();
    for c in campaigns {
        let text = toml::to_string(c)?;
        if seen.contains(&text) {
            continue;
        }
        seen.push(text);
        let (_, needed) = sandbench_runner::assets::prepare(c)?;
        assets.extend(needed.iter().map(|a| a.name.clone()));
        image |= sandbench_runner::image_for(c, agent, needed)?.is_some();
    }
    assets.sort();
    assets.dedup();
    let mut seeds = BTreeMap::new();
    for arch in archs {
        let seed = dir.join("seed").join(&arch);
        std::fs::create_dir_all(&seed)?;
        for name in assets.iter().filter(|n| arch == own || !n.ends_with(".so")) {
            let rel = Path::new(name);
            for (from, to) in [
                (store.path(name), seed.join("assets/tree").join(rel)),
                (
                    root.join("sums").join(format!("{name}.sha256")),
                    seed.join("assets/sums").join(format!("{name}.sha256")),
                ),
            ] {
                std::fs::create_dir_all(to.parent().unwrap_or(&seed))?;
                link(&from, &to)?;
            }
        }
        if image {
            std::fs::create_dir_all(seed.join("debs"))?;
            for deb in image_packages(&arch)? {
                link(&deb, &seed.join("debs").join(deb.file_name().unwrap_or_default()))?;
            }
        }
        seeds.insert(arch, archive(&seed)?);
    }
    Ok(seeds)
}

/// The Debian packages a host of `arch` builds its guest image from: this machine's cached ones
/// (the image was built here first), or those of another architecture, fetched here.
fn image_packages(arch: &str) -> Result<Vec<PathBuf>> {
    let Some(debian) = sandbench_image::debian::debian_arch(arch) else {
        bail!("no Debian architecture for `{arch}` (valid: x86_64, aarch64)");
    };
    let debs =
        sandbench_image::packages_for(debian).with_context(|| format!("the guest image's packages for {arch}"))?;
    Ok(debs.into_iter().map(|d| d.path).collect())
}

/// The seed as one tar (links followed), `seed/<arch>.tar`: what the playbook copies.
fn archive(seed: &Path) -> Result<PathBuf> {
    let tar_path = seed.with_extension("tar");
    let mut b = tar::Builder::new(std::fs::File::create(&tar_path)?);
    b.follow_symlinks(true);
    b.mode(tar::HeaderMode::Deterministic);
    b.append_dir_all(".", seed).with_context(|| format!("pack {}", seed.display()))?;
    b.into_inner()?.sync_all()?;
    Ok(tar_path)
}

/// The manifest of a new fleet run: every host pending.
pub fn manifest(
    id: &str,
    campaign: &Path,
    inventory: &Path,
    inv: &Inventory,
    forks: u32,
    limit_s: u64,
) -> Result<FleetManifest> {
    let hosts = inv
        .hosts
        .iter()
        .map(|(name, h)| {
            let record = HostRecord {
                address: h.address.clone(),
                groups: h.groups.clone(),
                facts: Default::default(),
                state: HostState::Pending,
                task: None,
                started: None,
                ended: None,
                results: None,
            };
            (name.clone(), record)
        })
        .collect();
    Ok(FleetManifest {
        schema: sandbench_fleet::manifest::SCHEMA,
        id: id.to_string(),
        campaign_path: campaign.display().to_string(),
        inventory_path: std::fs::canonicalize(inventory)?.display().to_string(),
        ansible_version: sandbench_fleet::playbook::ansible_version()?,
        sandbench_version: env!("CARGO_PKG_VERSION").to_string(),
        forks,
        host_time_limit_s: limit_s,
        created: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        hosts,
    })
}
