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

/// The name of the dynamically linked agent where it sits beside the static one (a fleet
/// host's `bin/`).
pub const DYNAMIC_NAME: &str = "sandbench-agent-dynamic";

/// The dynamically linked agent (the one with the inference engines): `$SANDBENCH_AGENT_DYNAMIC`,
/// else [`DYNAMIC_NAME`] or `sandbench-agent` next to this executable, whichever is dynamically
/// linked (scripts/build-agent.sh builds it next to `sandbench`).
pub fn resolve_dynamic() -> Option<PathBuf> {
    let candidates = match std::env::var_os("SANDBENCH_AGENT_DYNAMIC") {
        Some(p) => vec![PathBuf::from(p)],
        None => {
            let dir = std::env::current_exe().ok()?.parent()?.to_path_buf();
            vec![dir.join(DYNAMIC_NAME), dir.join("sandbench-agent")]
        }
    };
    candidates.into_iter().find(|c| std::fs::read(c).is_ok_and(|b| sandbench_image::has_interp(&b)))
}
