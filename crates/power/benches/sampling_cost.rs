//! The cost of sampling power: the power thread's own CPU at 10 Hz, as a share of one core,
//! for each sysfs source on its fixture tree (stand-ins: these machines have no sensor), against
//! the host CPU sampler (`sandbench-sampler`) at the same rate in the same run. Goal: below
//! 0.2 % of one core.
//!
//!     cargo bench -p sandbench-power --bench sampling_cost [-- SECONDS]

use sandbench_power::{hwmon::Hwmon, rapl::Rapl, Meter, Source};
use sandbench_sampler::{Accounting, Sampler};
use std::path::Path;
use std::time::{Duration, Instant};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn main() {
    let secs: f64 = std::env::args().filter_map(|a| a.parse().ok()).next().unwrap_or(20.0);
    let interval = Duration::from_millis(100);
    let sources: Vec<(&str, Box<dyn Source>)> = vec![
        ("rapl (3 zones)", Box::new(Rapl::open(&fixture("rapl")).expect("rapl fixture"))),
        ("hwmon INA3221 (3 rails, V×A)", Box::new(Hwmon::open(&fixture("jetson-ina3221")).expect("hwmon fixture"))),
        ("hwmon iio (3 rails)", Box::new(Hwmon::open(&fixture("l4t-iio")).expect("iio fixture"))),
    ];
    let start = Instant::now();
    let meters: Vec<(&str, Meter)> = sources.into_iter().map(|(n, s)| (n, Meter::start(s, interval))).collect();
    let peer = Sampler::start(Accounting { roots: vec![std::process::id()], cgroup: None }, interval);
    std::thread::sleep(Duration::from_secs_f64(secs));
    let wall_ms = start.elapsed().as_secs_f64() * 1e3;
    let series = peer.stop();
    let peer_pct = series.own_cpu_ms / series.wall_ms * 100.0;
    println!("sampling cost at 10 Hz over {secs:.0} s, % of one core (goal < 0.2 %)");
    println!("{:<32} {:>6} {:>9} {:>9} {:>14}", "source", "polls", "cpu ms", "% core", "× CPU sampler");
    for (name, m) in &meters {
        let (cpu_ms, polls) = m.cost();
        let pct = cpu_ms / wall_ms * 100.0;
        println!(
            "{name:<32} {polls:>6} {cpu_ms:>9.2} {pct:>9.4} {:>14.3}   {}",
            pct / peer_pct,
            if pct < 0.2 { "goal met" } else { "GOAL MISSED" }
        );
    }
    println!(
        "{:<32} {:>6} {:>9.2} {:>9.4} {:>14.3}   (the peer: /proc + cgroup sampler)",
        "host CPU sampler",
        series.samples.len(),
        series.own_cpu_ms,
        peer_pct,
        1.0
    );
}
