use sandbench_spec::{Campaign, CampaignError, Driver, Order};
use std::path::Path;

fn parse(text: &str) -> Result<Campaign, CampaignError> {
    Campaign::parse(text, Path::new("c.toml"))
}

fn err(text: &str) -> String {
    parse(text).map(|_| ()).unwrap_err().to_string()
}

const GOOD: &str = r#"
trials = 3
order = "randomized"
seed = 7

[[environment]]
name = "native"
driver = "native"

[[environment]]
name = "vm"
driver = "qemu"
machine = "q35"
accel = "tcg"

[[workload]]
name = "cpu"
kind = "cpu"
params = { threads = 2 }
"#;

#[test]
fn good_file_parses_with_defaults() {
    let c = parse(GOOD).unwrap();
    assert_eq!(c.trials, sandbench_spec::Trials::Fixed(3));
    assert_eq!(c.warmup, 1);
    assert_eq!(c.order, Order::Randomized);
    let envs: Vec<_> = c.envs().collect();
    assert_eq!(envs[1].driver(), Driver::Qemu);
    assert_eq!(envs[0].vcpus, 2);
    assert_eq!(c.sampling.interval_ms, 100);
}

#[test]
fn bad_enum_value_names_line_column_and_choices() {
    let text = GOOD.replace("accel = \"tcg\"", "accel = \"hvf\"");
    let e = err(&text);
    assert!(e.starts_with("c.toml:14:"), "{e}");
    assert!(e.contains("kvm") && e.contains("tcg") && e.contains("auto"), "{e}");
}

#[test]
fn unknown_key_is_rejected_with_location() {
    let text = GOOD.replace("seed = 7", "sed = 7");
    let e = err(&text);
    assert!(e.starts_with("c.toml:4:1"), "{e}");
    assert!(e.contains("unknown field `sed`"), "{e}");
}

#[test]
fn option_of_another_driver_is_rejected_at_its_table() {
    let text = GOOD.replace("driver = \"native\"", "driver = \"native\"\nruntime = \"runc\"");
    let e = err(&text);
    assert!(e.starts_with("c.toml:6:"), "{e}");
    assert!(e.contains("applies only to driver = \"oci\""), "{e}");
}

#[test]
fn duplicate_names_and_empty_lists_are_rejected() {
    let text = GOOD.replace("name = \"vm\"", "name = \"native\"");
    assert!(err(&text).contains("used twice"));
    assert!(err("trials = 1").contains("[[environment]]"));
}

/// Issue 12, hole 7: values that used to panic (`Duration::from_secs_f64`) or put the results
/// folder outside `--out` are errors with a location and the valid range.
#[test]
fn non_finite_or_huge_timeouts_and_path_like_names_are_refused_with_their_line() {
    for v in ["nan", "inf", "-inf", "1e300", "0", "-1"] {
        let text = GOOD.replace("seed = 7", &format!("seed = 7\n[timeouts]\ntrial_s = {v}"));
        let e = err(&text);
        assert!(e.starts_with("c.toml:6:1:"), "{v}: {e}");
        assert!(e.contains("`timeouts.trial_s`") && e.contains("(0, 604800]"), "{v}: {e}");
    }
    let e = err(&GOOD.replace("seed = 7", "seed = 7\n[timeouts]\nboot_retries = 9"));
    assert!(e.starts_with("c.toml:6:1:") && e.contains("`timeouts.boot_retries` = 9 must be 0 to 5"), "{e}");
    for name in ["../escape", "a/b", "..", ".hidden", "", "a b", "/etc"] {
        let text = GOOD.replace("seed = 7", &format!("seed = 7\nname = {name:?}"));
        let e = err(&text);
        assert!(e.starts_with("c.toml:5:1:") && e.contains("results folder"), "{name:?}: {e}");
    }
    let ok = GOOD.replace("seed = 7", "seed = 7\nname = \"Edge-run_2.v1\"");
    assert!(parse(&ok).is_ok());
}
