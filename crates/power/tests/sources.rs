//! Every source on fixture trees (these machines have no power sensor): the layouts of a
//! server with RAPL, a laptop with psys, an hwmon power meter, a Jetson Orin's INA3221, a
//! Jetson Nano's iio rails and a Raspberry Pi 5's `vcgencmd pmic_read_adc`.

use sandbench_power::{hwmon, rapl, vcgencmd, Reading, Source, Value};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn poll(s: &mut dyn Source) -> Reading {
    let mut out = Vec::new();
    s.poll(&mut out).unwrap();
    assert_eq!(out.len(), 1);
    out.pop().unwrap()
}

fn joules(v: &Value) -> f64 {
    match v {
        Value::Joules(j) => *j,
        Value::Watts(w) => panic!("{w} W where joules were expected"),
    }
}

fn watts(v: &Value) -> f64 {
    match v {
        Value::Watts(w) => *w,
        Value::Joules(j) => panic!("{j} J where watts were expected"),
    }
}

fn copy_tree(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn rapl_zones_are_named_by_package_and_a_wrap_between_two_samples_is_unwrapped() {
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(&fixture("rapl"), tmp.path());
    let zones = rapl::discover(tmp.path()).unwrap();
    let names: Vec<(&str, bool)> = zones.iter().map(|z| (z.name.as_str(), z.top_level)).collect();
    // The mmio zone repeats package-0 and is left out; DRAM is outside the package's count.
    assert_eq!(names, [("package-0", true), ("package-0/core", false), ("package-0/dram", true)]);
    let mut src = rapl::Rapl::open(tmp.path()).unwrap();
    assert!(src.describe().contains("package-0 + package-0/dram"), "{}", src.describe());
    let first = poll(&mut src);
    assert!(first.values.iter().all(|v| joules(v) == 0.0));
    // The package counter passes its range (262143328850 µJ): 0.5 J before the wrap, 1.5 J after.
    let zone = tmp.path().join("class/powercap");
    std::fs::write(zone.join("intel-rapl:0/energy_uj"), "1500000\n").unwrap();
    std::fs::write(zone.join("intel-rapl:0:1/energy_uj"), "8000000\n").unwrap();
    let second = poll(&mut src);
    assert!((joules(&second.values[0]) - 2.0).abs() < 1e-9, "{second:?}");
    assert_eq!(joules(&second.values[1]), 0.0);
    assert!((joules(&second.values[2]) - 3.0).abs() < 1e-9);
    assert!(!second.ambiguous);
    assert_eq!(rapl::delta_uj(10, 4, 12), 6);
}

#[test]
fn two_polls_straddling_one_counter_update_do_not_count_as_a_wrap_a_long_gap_does() {
    let tmp = tempfile::tempdir().unwrap();
    let zone = tmp.path().join("class/powercap/intel-rapl:0");
    std::fs::create_dir_all(&zone).unwrap();
    std::fs::write(zone.join("name"), "package-0\n").unwrap();
    // A 1 J range: 10 W goes round it in 100 ms.
    std::fs::write(zone.join("max_energy_range_uj"), "1000000\n").unwrap();
    let set = |uj: u64| std::fs::write(zone.join("energy_uj"), format!("{uj}\n")).unwrap();
    set(0);
    let mut src = rapl::Rapl::open(tmp.path()).unwrap();
    poll(&mut src);
    // One update of the counter between two polls microseconds apart: kilowatts over that
    // instant, but no reason to think the counter went round twice at the next 20 ms poll.
    set(10_000);
    assert!(!poll(&mut src).ambiguous);
    let t = std::time::Instant::now();
    std::thread::sleep(std::time::Duration::from_millis(20));
    set(210_000);
    assert!(!poll(&mut src).ambiguous);
    // 0.2 J over the interval just seen (20 ms: 10 W; longer on a slow or emulated host: less).
    // Eight such intervals later, at that power, more than the 1 J range has passed, so one
    // wrap seen may hide another.
    let seen = t.elapsed();
    std::thread::sleep((seen * 8).max(std::time::Duration::from_millis(150)));
    set(710_000);
    assert!(poll(&mut src).ambiguous, "after {seen:?} between polls");
}

#[test]
fn with_psys_only_the_platform_domain_is_summed() {
    let zones = rapl::discover(&fixture("rapl-psys")).unwrap();
    let top: Vec<&str> = zones.iter().filter(|z| z.top_level).map(|z| z.name.as_str()).collect();
    assert_eq!(top, ["psys"]);
    assert!(rapl::discover(&fixture("hwmon-power")).unwrap_err().to_string().contains("powercap"));
}

#[test]
fn an_hwmon_power_meter_reads_watts_and_a_counter_beyond_32_bits() {
    let mut src = hwmon::Hwmon::open(&fixture("hwmon-power")).unwrap();
    let rails: Vec<String> = src.rails().iter().map(|r| format!("{r:?}")).collect();
    // The temperature-only chip has nothing to give.
    assert_eq!(rails, ["power_meter/power1 (power)", "power_meter/energy1 (energy)"]);
    // The chip's power and energy are the same power: the counter is what sums.
    let top: Vec<bool> = src.domains().iter().map(|d| d.top_level).collect();
    assert_eq!(top, [false, true]);
    let r = poll(&mut src);
    assert!((watts(&r.values[0]) - 5.25).abs() < 1e-9);
    assert!((joules(&r.values[1]) - 987_654.321_012).abs() < 1e-6);
}

#[test]
fn a_jetson_ina3221_gives_volts_times_amperes_per_labelled_rail() {
    let mut src = hwmon::Hwmon::open(&fixture("jetson-ina3221")).unwrap();
    let names: Vec<(&str, bool)> = src.domains().iter().map(|d| (d.name.as_str(), d.top_level)).collect();
    assert_eq!(names, [("ina3221/VDD_IN", true), ("ina3221/VDD_CPU_GPU_CV", false), ("ina3221/VDD_SOC", false)]);
    let r = poll(&mut src);
    let w: Vec<f64> = r.values.iter().map(watts).collect();
    for (got, want) in w.iter().zip([5.080 * 1.200, 5.072 * 0.350, 5.076 * 0.410]) {
        assert!((got - want).abs() < 1e-9, "{w:?}");
    }
}

#[test]
fn the_older_l4t_iio_layout_is_read_in_milliwatts() {
    let mut src = hwmon::Hwmon::open(&fixture("l4t-iio")).unwrap();
    let names: Vec<(&str, bool)> = src.domains().iter().map(|d| (d.name.as_str(), d.top_level)).collect();
    assert_eq!(names, [("ina3221x/POM_5V_IN", true), ("ina3221x/POM_5V_GPU", false), ("ina3221x/POM_5V_CPU", false)]);
    let r = poll(&mut src);
    assert!((watts(&r.values[0]) - 2.345).abs() < 1e-9);
    let none = hwmon::Hwmon::open(&fixture("rapl")).unwrap_err().to_string();
    assert!(none.contains("no hwmon power"), "{none}");
}

#[test]
fn pmic_read_adc_pairs_each_rails_current_with_its_voltage() {
    let text = std::fs::read_to_string(fixture("vcgencmd-pmic_read_adc.txt")).unwrap();
    let rails = vcgencmd::parse(&text);
    // EXT5V and BATT have a voltage only.
    assert_eq!(rails.len(), 12);
    assert!(!rails.contains_key("EXT5V") && !rails.contains_key("BATT"));
    assert!((rails["VDD_CORE"] - 0.726 * 0.72401).abs() < 1e-9);
    let total: f64 = rails.values().sum();
    assert!((total - 1.606_823_973).abs() < 1e-6, "{total}");
}

#[test]
fn the_sysfs_root_moves_with_the_environment_and_auto_says_why_it_found_nothing() {
    // One test sets the variable: the others pass roots explicitly.
    std::env::set_var("SANDBENCH_SYSFS_ROOT", fixture("jetson-ina3221"));
    assert_eq!(sandbench_power::sysfs_root(), fixture("jetson-ina3221"));
    let src = sandbench_power::open(sandbench_spec::power::PowerSourceKind::Auto, &[], Path::new(".")).unwrap();
    assert_eq!(src.kind(), sandbench_spec::power::PowerSourceKind::Hwmon);
    std::env::set_var("SANDBENCH_SYSFS_ROOT", fixture("nothing-here"));
    std::env::set_var("SANDBENCH_VCGENCMD", "/nonexistent/vcgencmd");
    let why = sandbench_power::open(sandbench_spec::power::PowerSourceKind::Auto, &[], Path::new("."))
        .err()
        .unwrap()
        .to_string();
    assert!(why.contains("rapl:") && why.contains("hwmon:") && why.contains("vcgencmd:"), "{why}");
    assert!(why.contains("source = \"command\""), "{why}");
}
