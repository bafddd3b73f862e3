//! `sandbench doctor`: what this host can run, checked for real where it can be.

use crate::agent_path;
use anyhow::Result;
use sandbench_sandbox::probe::{Availability, Verdict};
use sandbench_sandbox::DoctorContext;

#[derive(clap::Args)]
pub struct Args {
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    /// Skip the checks that boot a guest or start containers (fast, versions only).
    #[arg(long)]
    quick: bool,
    /// Only the power sources (RAPL, hwmon, vcgencmd), each read for about a second.
    #[arg(long)]
    power: bool,
}

/// Every power source this host has (with its domains, resolution and measured update
/// interval), or why not; a meter command is named in a campaign, not found.
fn power_checks() -> Vec<Availability> {
    let mut out: Vec<Availability> = sandbench_power::probe_all()
        .into_iter()
        .map(|p| match p.verdict {
            Ok(found) => Availability {
                component: format!("power-{}", p.kind),
                driver: "power".into(),
                verdict: Verdict::Ok,
                version: None,
                detail: format!(
                    "{}; domains: {}; resolution {}; updates {}",
                    found.describe,
                    found.domains.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", "),
                    found.resolution,
                    found
                        .update_ms
                        .map(|ms| format!("every {ms:.1} ms (measured)"))
                        .unwrap_or_else(|| "not seen within 1 s (an idle or static sensor)".into())
                ),
                hint: None,
            },
            Err(why) => Availability {
                component: format!("power-{}", p.kind),
                driver: "power".into(),
                verdict: Verdict::Unsupported,
                version: None,
                detail: format!("unsupported: {why}"),
                hint: None,
            },
        })
        .collect();
    out.push(Availability {
        component: "power-command".into(),
        driver: "power".into(),
        verdict: Verdict::Unknown,
        version: None,
        detail: "an external meter (USB meter, smart plug, PTDaemon) named by [power] command; see docs/ENERGY.md"
            .into(),
        hint: None,
    });
    out
}

/// What to try next, with how long each takes on a 2-core host without usable KVM (QEMU TCG).
pub const NEXT_STEPS: &str = "\
next (durations on a 2-core host under QEMU TCG; docs/BENCHMARKS.md):
  sandbench run                                   the quick campaign (cpu, noop, classify): about 5 min
  sandbench report results/<run>                  report.md, report.html with figures, summary.json: seconds
  sandbench compare results/<a> results/<b>       two runs side by side, with verdicts: seconds
  sandbench run examples/paper-ai.toml --verify   the AI paper's four applications, 50 trials: hours here
                                                  (TCG); about 2 h on a Raspberry Pi 4 with KVM";

pub fn run(a: Args) -> Result<i32> {
    let all = if a.power { power_checks() } else { environment_checks(&a) };
    print(&all, a.json)?;
    Ok(0)
}

/// The two agents: the static one (every kind but the AI ones, unless built with the engines)
/// and the dynamically linked one with the inference engines, which the AI kinds need.
fn agent_checks(static_agent: Option<&std::path::Path>) -> Vec<Availability> {
    let row = |component: &str, path: Option<&std::path::Path>, needed_for: &str| {
        let engines = path.and_then(|p| std::fs::read(p).ok()).map(|b| sandbench_protocol::agent_has_engines(&b));
        let (verdict, detail) = match (path, engines) {
            (Some(p), Some(Some(false))) => {
                (Verdict::Ok, format!("{}: without inference engines (cpu, noop, I/O kinds)", p.display()))
            }
            (Some(p), Some(_)) => (Verdict::Ok, format!("{}: with inference engines (every kind)", p.display())),
            _ => (Verdict::Missing, format!("not built; needed for {needed_for}")),
        };
        Availability {
            component: component.into(),
            driver: "all".into(),
            verdict,
            version: None,
            detail,
            hint: Some("scripts/build-agent.sh (static: 1-2 min; engines: about 15 min on 2 cores, once)".into()),
        }
    };
    vec![
        row("agent-static", static_agent, "every environment"),
        row("agent-engines", agent_path::resolve_dynamic().as_deref(), "the AI kinds (detect, classify, face, stt)"),
    ]
}

/// Every driver's rows, with a real guest image to start containers and boot a KVM guest
/// from unless `--quick`.
fn environment_checks(a: &Args) -> Vec<Availability> {
    let agent = agent_path::resolve(None);
    let image = match (&agent, a.quick) {
        (Ok(agent), false) => {
            Some(sandbench_image::build(&sandbench_image::BuildOptions { agent: agent.clone(), ..Default::default() }))
        }
        _ => None,
    };
    let no_image = match (&image, &agent) {
        (Some(Err(e)), _) => format!("the guest image could not be built: {e}"),
        (_, Err(e)) => e.to_string(),
        _ => "not probed (--quick)".into(),
    };
    let work = std::env::temp_dir().join(format!("sandbench-doctor-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&work);
    let cx = DoctorContext {
        image: match &image {
            Some(Ok(img)) => Ok(img),
            _ => Err(no_image.as_str()),
        },
        agent: agent.as_deref().ok(),
        work: &work,
    };
    let mut all = agent_checks(agent.as_deref().ok());
    all.extend(sandbench_sandbox::driver::doctor(&cx));
    let _ = std::fs::remove_dir_all(&work);
    all.extend(power_checks());
    all
}

fn print(all: &[Availability], json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    println!("{:<18} {:<17} {:<12} {:<40} detail", "component", "driver", "verdict", "version");
    for x in all {
        let verdict = match x.verdict {
            Verdict::Ok => "ok",
            Verdict::Missing => "missing",
            Verdict::Unsupported => "unsupported",
            Verdict::Unknown => "unknown",
        };
        let version: String = x.version.clone().unwrap_or_else(|| "-".into()).chars().take(40).collect();
        println!("{:<18} {:<17} {:<12} {:<40} {}", x.component, x.driver, verdict, version, x.detail);
        if x.verdict == Verdict::Missing {
            if let Some(h) = &x.hint {
                println!("{:<18} {:<17} {:<12} {:<40} hint: {h}", "", "", "", "");
            }
        }
    }
    if !sandbench_sandbox::is_root() {
        println!("\nnote: not root — the oci driver, cgroup limits for native, KVM and RAPL need root.");
    }
    println!("\n{NEXT_STEPS}");
    Ok(())
}
