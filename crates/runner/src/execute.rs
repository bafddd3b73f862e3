//! Drives sandboxes through a plan and records every trial as it ends.

use crate::agent_choice::Needs;
use crate::options::{timestamp, unix_ms, Guest, RunOptions, RunOutcome};
use crate::plan::plan;
use crate::results::ResultsDir;
use crate::session::Session;
use crate::{host, RunError};
use sandbench_image::{BuildOptions, GuestImage};
use sandbench_spec::{Campaign, Manifest, RunState, SCHEMA_VERSION};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Checks, before anything launches, that every environment can exist on this host's
/// architecture (a QEMU machine of another one is refused with the valid choices) and every
/// workload's parameters; errors name `path`'s line and column in `text`.
pub fn check_campaign(c: &Campaign, path: &Path, text: &str) -> Result<(), RunError> {
    check_machines(c, path, text, sandbench_spec::Arch::HOST)?;
    for w in &c.workloads {
        let (kind, params) = (w.get_ref().kind, &w.get_ref().params);
        let checked = sandbench_workloads::validate(kind, params)
            .map_err(|e| e.to_string())
            .and_then(|_| crate::assets::needed_by(kind, params).map_err(|e| e.to_string()))
            .and_then(|_| capacity_fit(c, w.get_ref()).map_err(|e| e.to_string()));
        if let Err(why) = checked {
            let (line, col) = sandbench_spec::campaign::line_col(text, w.span().start);
            return Err(RunError::Workload {
                path: format!("{}:{line}:{col}", path.display()),
                workload: w.get_ref().name.clone(),
                why,
            });
        }
    }
    Ok(())
}

/// Why a workload cannot be part of a capacity run.
#[derive(Debug, thiserror::Error)]
pub enum CapacityFitError {
    #[error("a capacity run needs every workload to have a load `scenario` (valid: {})", sandbench_workloads::load::SCENARIOS.join(", "))]
    NoScenario,
    #[error(
        "`capacity.sla = {{ miss_ratio }}` counts camera frames: it needs scenario = \"fixed_rate\", not \"{0}\"; \
         or judge by p90_ms or p99_ms"
    )]
    MissRatioNeedsCamera(sandbench_protocol::ScenarioKind),
}

/// In a capacity run, a workload needs a load scenario, and a `miss_ratio` budget a camera
/// (`fixed_rate`).
fn capacity_fit(c: &Campaign, w: &sandbench_spec::WorkloadSpec) -> Result<(), CapacityFitError> {
    let Some(cap) = &c.capacity else { return Ok(()) };
    let scenario =
        sandbench_workloads::load::split(w.kind, &w.params).ok().and_then(|(l, _)| l).map(|l| l.scenario.kind());
    match (scenario, cap.sla) {
        (None, _) => Err(CapacityFitError::NoScenario),
        (Some(s), sandbench_spec::Sla::MissRatio(_)) if s != sandbench_protocol::ScenarioKind::FixedRate => {
            Err(CapacityFitError::MissRatioNeedsCamera(s))
        }
        _ => Ok(()),
    }
}

/// A QEMU environment that names a machine of another architecture than `host`.
pub fn check_machines(c: &Campaign, path: &Path, text: &str, host: sandbench_spec::Arch) -> Result<(), RunError> {
    for e in &c.environments {
        let env = e.get_ref();
        let sandbench_spec::DriverConfig::Qemu(q) = &env.config else { continue };
        let qemu_machine = q.vm.machine;
        let Some(why) = qemu_machine.and_then(|m| sandbench_spec::arch::wrong_arch(m, host)) else { continue };
        let (line, col) = sandbench_spec::campaign::line_col(text, e.span().start);
        return Err(RunError::Environment {
            path: format!("{}:{line}:{col}", path.display()),
            environment: env.name.clone(),
            why,
        });
    }
    Ok(())
}

/// Builds (or finds in the cache) the guest image when a driver needs it.
pub fn image_for(
    c: &Campaign,
    agent: &Path,
    assets: Vec<sandbench_image::ImageAsset>,
) -> Result<Option<GuestImage>, RunError> {
    if !c.envs().any(|e| e.driver().needs_image()) {
        return Ok(None);
    }
    let opts = BuildOptions {
        agent: agent.to_path_buf(),
        kernel: c.image.kernel.clone(),
        modules: c.image.modules.clone(),
        rootfs: c.image.rootfs.clone(),
        force: false,
        assets,
    };
    Ok(Some(sandbench_image::build(&opts)?))
}

/// Runs (or resumes) a campaign.
pub fn run(opts: &RunOptions) -> Result<RunOutcome, RunError> {
    let (dir, campaign, mut manifest) = match &opts.resume {
        Some(path) => {
            let dir = ResultsDir::open(path)?.lock()?;
            let mut m = dir.read_manifest()?;
            let c = Campaign::parse(&m.campaign_text, Path::new(&m.campaign_path))?;
            m.resumes += 1;
            (dir, c, m)
        }
        None => {
            let (c, text) = match &opts.campaign_text {
                Some(text) => (Campaign::parse(text, &opts.campaign_path)?, text.clone()),
                None => Campaign::load(&opts.campaign_path)?,
            };
            check_campaign(&c, &opts.campaign_path, &text)?;
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            let run_id = format!("{}-{}", c.name.clone().unwrap_or_else(|| "run".into()), timestamp(now));
            let mut path = opts.out_root.join(&run_id);
            let mut n = 1;
            while path.exists() {
                n += 1;
                path = opts.out_root.join(format!("{run_id}-{n}"));
            }
            let dir = ResultsDir::create(&path)?.lock()?;
            let host_facts = host::host_facts();
            let m = Manifest {
                schema: SCHEMA_VERSION,
                run_id: path.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or(run_id),
                created_unix_ms: unix_ms(),
                sandbench_version: env!("CARGO_PKG_VERSION").into(),
                git_revision: opts.git_revision.clone(),
                campaign_path: opts.campaign_path.display().to_string(),
                campaign_text: text,
                validation: Some(crate::validation::on_this_host(
                    host_facts.get("cpu_model").map_or("", String::as_str),
                )),
                host: host_facts,
                versions: host::versions(&c),
                image: Default::default(),
                plan: plan(&c).into_iter().map(|t| t.key).collect(),
                state: RunState::Running,
                resumes: 0,
                stops: Default::default(),
                power: None,
            };
            dir.write_manifest(&m)?;
            (dir, c, m)
        }
    };
    let result = execute(opts, &dir, &campaign, &mut manifest);
    manifest.state = match &result {
        Ok(o) if o.interrupted => RunState::Interrupted,
        Ok(_) => RunState::Complete,
        Err(e) => RunState::Failed(e.to_string()),
    };
    match (dir.write_manifest(&manifest), result) {
        // The run's own error says more than the manifest's (a full disk fails both).
        (Err(m), Err(e)) => {
            tracing::warn!("could not record the run's state in the manifest: {m}");
            Err(e)
        }
        (Err(m), Ok(_)) => Err(m.into()),
        (Ok(()), result) => result,
    }
}

fn execute(opts: &RunOptions, dir: &ResultsDir, c: &Campaign, manifest: &mut Manifest) -> Result<RunOutcome, RunError> {
    let guest = prepare_guest(opts, c, dir, manifest)?;
    if let Some(cap) = &c.capacity {
        return crate::capacity::run(opts, dir, c, cap, guest, manifest);
    }
    let mut session = Session::new(opts, dir, c, guest)?;
    // Sandboxes made by a given factory (tests, `--debug-mode`) own nothing on the host to sweep.
    if opts.drivers.is_none() {
        session.sweep_stale();
    }
    session.power = crate::energy::begin(c, manifest, &opts.cancel)?;
    dir.write_manifest(manifest)?;
    session.run_plan()?;
    Ok(session.finish(manifest))
}

/// Fetches the assets, picks the agent (`agent_choice`: the dynamic one where onnxruntime or the
/// engines the static one lacks are wanted) and
/// builds or finds the guest image, recording it in the manifest.
fn prepare_guest(
    opts: &RunOptions,
    c: &Campaign,
    dir: &ResultsDir,
    manifest: &mut Manifest,
) -> Result<Guest, RunError> {
    let (assets_dir, mut image_assets) = crate::assets::prepare(c)?;
    let needs = Needs {
        engines: c.workload_specs().any(|w| w.kind.is_ai()),
        wants_ort: image_assets.iter().any(|a| a.name == sandbench_assets::catalog::ONNXRUNTIME_LIB),
        insists_ort: crate::assets::insists_on_onnxruntime(c),
    };
    let choice = crate::agent_choice::choose(needs, &opts.agent, opts.agent_dynamic.as_deref())?;
    if choice.drop_ort {
        image_assets.retain(|a| a.name != sandbench_assets::catalog::ONNXRUNTIME_LIB);
    }
    let base_agent = choice.agent;
    // A given factory's sandboxes (tests, `--debug-mode`) boot no guest image.
    let image = if opts.drivers.is_none() { image_for(c, &base_agent, image_assets)? } else { None };
    if let Some(img) = &image {
        manifest.image = img.manifest.facts();
        dir.write_manifest(manifest)?;
    }
    let agent = image.as_ref().map(|i| i.agent()).unwrap_or(base_agent);
    Ok(Guest { agent, image, assets_dir })
}

#[cfg(test)]
mod tests {
    use super::check_machines;
    use sandbench_spec::{Arch, Campaign};
    use std::path::Path;

    fn campaign(machine: &str) -> (Campaign, String) {
        let text = format!(
            "[[environment]]\nname = \"vm\"\ndriver = \"qemu\"\nmachine = \"{machine}\"\n\
             [[workload]]\nname = \"n\"\nkind = \"noop\"\n"
        );
        (Campaign::parse(&text, Path::new("c.toml")).unwrap(), text)
    }

    #[test]
    fn a_machine_of_another_architecture_is_refused_with_the_valid_ones() {
        let (c, text) = campaign("microvm");
        let e = check_machines(&c, Path::new("c.toml"), &text, Arch::Aarch64).unwrap_err().to_string();
        assert!(e.starts_with("c.toml:1:1: environment `vm`"), "{e}");
        assert!(
            e.contains("\"microvm\" is QEMU's x86_64 machine") && e.contains("valid machines here: \"virt\""),
            "{e}"
        );
        check_machines(&c, Path::new("c.toml"), &text, Arch::X86_64).unwrap();
        let (c, text) = campaign("virt");
        let e = check_machines(&c, Path::new("c.toml"), &text, Arch::X86_64).unwrap_err().to_string();
        assert!(e.contains("valid machines here: \"microvm\", \"q35\""), "{e}");
        check_machines(&c, Path::new("c.toml"), &text, Arch::Aarch64).unwrap();
    }
}
