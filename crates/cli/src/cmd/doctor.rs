//! `sandbench doctor`: what this host can run, checked for real where it can be.

use crate::agent_path;
use anyhow::Result;
use sandbench_sandbox::probe::{self, Availability, Verdict};
use sandbench_spec::{Accel, Campaign, Machine};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

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

fn kvm_check(image: &sandbench_image::GuestImage, agent: &Path) -> Availability {
    let text = "[[environment]]\nname = \"kvm\"\ndriver = \"qemu\"\nmachine = \"microvm\"\naccel = \"kvm\"\nvcpus = 1\nmemory_mib = 256\n[[workload]]\nname = \"n\"\nkind = \"noop\"\n";
    let verdict = Campaign::parse(text, Path::new("<doctor>")).map_err(|e| e.to_string()).and_then(|c| {
        let env = c.envs().next().cloned().ok_or("no environment")?;
        debug_assert_eq!((env.machine(), env.accel()), (Machine::Microvm, Accel::Kvm));
        let spec = sandbench_sandbox::LaunchSpec {
            id: format!("sbdoctor-{}", std::process::id()),
            env: &env,
            agent,
            image: Some(image),
            work_dir: std::env::temp_dir().join(format!("sandbench-doctor-{}", std::process::id())),
            assets: None,
            boot_timeout: Duration::from_secs(30),
            network: false,
            peer_limits: Default::default(),
            cancel: Arc::new(AtomicBool::new(false)),
        };
        sandbench_sandbox::qemu::probe_kvm(&spec)
    });
    let (v, detail) = match verdict {
        Ok(ms) => (Verdict::Ok, format!("a KVM microvm guest booted to the agent in {ms:.0} ms")),
        Err(e) => (
            Verdict::Unsupported,
            format!("{e}; qemu environments with accel = \"auto\" use TCG (software CPU, several times slower)"),
        ),
    };
    Availability { component: "kvm".into(), driver: "qemu".into(), verdict: v, version: None, detail, hint: None }
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

pub fn run(a: Args) -> Result<i32> {
    let all = if a.power { power_checks() } else { environment_checks(&a) };
    print(&all, a.json)?;
    Ok(0)
}

fn environment_checks(a: &Args) -> Vec<Availability> {
    let mut all = probe::static_checks();
    let agent = agent_path::resolve(None);
    let image = match (&agent, a.quick) {
        (Ok(agent), false) => {
            Some(sandbench_image::build(&sandbench_image::BuildOptions { agent: agent.clone(), ..Default::default() }))
        }
        _ => None,
    };
    let work = std::env::temp_dir().join(format!("sandbench-doctor-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&work);
    match &image {
        Some(Ok(img)) => {
            all.extend(probe::runtime_checks(Some(&img.rootfs_dir), &work));
            if let Ok(agent) = &agent {
                all.push(kvm_check(img, agent));
            }
            // A Firecracker binary must also be able to find the image kernel's devices.
            if let Some(fc) = all.iter_mut().find(|x| x.component == "firecracker") {
                let version = fc.version.as_deref().and_then(sandbench_sandbox::firecracker::parse_version);
                if let Some(v) = version {
                    if let Err(why) = sandbench_sandbox::firecracker::kernel_compat(v, img.kernel_config().as_deref()) {
                        fc.verdict = Verdict::Unsupported;
                        fc.detail = why;
                    }
                }
            }
        }
        other => {
            all.extend(probe::runtime_checks(None, &work));
            let why = match (other, &agent) {
                (Some(Err(e)), _) => format!("not probed: the guest image could not be built: {e}"),
                (_, Err(e)) => format!("not probed: {e}"),
                _ => "not probed (--quick)".into(),
            };
            let present = Path::new("/dev/kvm").exists();
            all.push(Availability {
                component: "kvm".into(),
                driver: "qemu".into(),
                verdict: if present { Verdict::Unknown } else { Verdict::Missing },
                version: None,
                detail: if present {
                    format!("/dev/kvm exists, which is not enough; {why}")
                } else {
                    "no /dev/kvm".into()
                },
                hint: None,
            });
        }
    }
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
    Ok(())
}
