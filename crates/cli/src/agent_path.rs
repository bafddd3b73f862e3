//! Finding the static agent binary.

use anyhow::{bail, Result};
use std::path::PathBuf;

/// `--agent`, else `$SANDBENCH_AGENT`, else next to this executable, else the static build
/// under the same target directory (`<target>/<triple>/release/sandbench-agent`).
pub fn resolve(given: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = given.or_else(|| std::env::var_os("SANDBENCH_AGENT").map(PathBuf::from)) {
        if p.is_file() {
            return Ok(p);
        }
        bail!("agent binary {} does not exist; build it with scripts/build-agent.sh", p.display());
    }
    let exe = std::env::current_exe()?;
    let dir = exe.parent().map(PathBuf::from).unwrap_or_default();
    let triple = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
    let candidates = [
        dir.join(format!("../{triple}/release/sandbench-agent")),
        dir.join(format!("../../{triple}/release/sandbench-agent")),
        dir.join("sandbench-agent"),
    ];
    for c in &candidates {
        if c.is_file() {
            return Ok(c.canonicalize().unwrap_or_else(|_| c.clone()));
        }
    }
    bail!(
        "no static sandbench-agent found (looked for {}); build it with scripts/build-agent.sh or pass --agent",
        candidates.iter().map(|c| c.display().to_string()).collect::<Vec<_>>().join(", ")
    )
}

/// The dynamically linked agent: `$SANDBENCH_AGENT_DYNAMIC`, else `sandbench-agent` next to
/// this executable when it is dynamically linked (scripts/build-agent.sh puts it there).
pub fn resolve_dynamic() -> Option<PathBuf> {
    let candidate = std::env::var_os("SANDBENCH_AGENT_DYNAMIC")
        .map(PathBuf::from)
        .or_else(|| std::env::current_exe().ok()?.parent().map(|d| d.join("sandbench-agent")))?;
    let bytes = std::fs::read(&candidate).ok()?;
    sandbench_image::has_interp(&bytes).then_some(candidate)
}
