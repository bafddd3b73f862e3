//! Every shipped example campaign parses, and every workload in it passes the checks a run
//! makes before anything launches (parameters, sample inputs, engines).

use sandbench_spec::Campaign;
use std::path::Path;

#[test]
fn every_example_campaign_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut seen = 0;
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let (c, _) = Campaign::load(&path).unwrap_or_else(|err| panic!("{err}"));
        for w in c.workload_specs() {
            sandbench_workloads::validate(w.kind, &w.params).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            sandbench_runner::assets::needed_by(w.kind, &w.params)
                .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        }
        seen += 1;
    }
    assert!(seen >= 3, "examples found: {seen}");
}
