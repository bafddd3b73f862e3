//! The sampler on a real busy process of this host.
use sandbench_sampler::{Accounting, Sampler};
use std::time::Duration;

#[test]
fn a_busy_child_shows_about_one_core() {
    let mut child = std::process::Command::new("sh").arg("-c").arg("while :; do :; done").spawn().unwrap();
    let s = Sampler::start(Accounting { roots: vec![child.id()], cgroup: None }, Duration::from_millis(100));
    std::thread::sleep(Duration::from_millis(1200));
    let series = s.stop();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(series.error.is_none(), "{:?}", series.error);
    assert!(series.samples.len() >= 8, "{}", series.samples.len());
    let sum = series.summary("x.csv".into());
    // A spinning shell uses one core; the host is shared, so allow a wide band.
    assert!(sum.cpu_mean_pct > 40.0 && sum.cpu_mean_pct < 130.0, "{}", sum.cpu_mean_pct);
    assert!(sum.pss_max_kib.unwrap() > 0);
    let mut csv = Vec::new();
    series.write_csv(&mut csv).unwrap();
    assert_eq!(String::from_utf8(csv).unwrap().lines().count(), series.samples.len() + 1);
}
