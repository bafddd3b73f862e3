//! A trial's record before it runs: its key and dimensions, as its environment's driver
//! decides them, and a failed status until the trial says otherwise.

use crate::options::unix_ms;
use crate::plan::PlannedTrial;
use sandbench_spec::{Dimensions, Environment, Mode, Status, TrialRecord, WorkloadSpec, SCHEMA_VERSION};

pub(crate) fn new_record(
    t: &PlannedTrial,
    attempt: u32,
    env: &Environment,
    wl: &WorkloadSpec,
    mode: Mode,
    seq: u32,
) -> TrialRecord {
    let driver = sandbench_sandbox::dimensions(env);
    TrialRecord {
        schema: SCHEMA_VERSION,
        key: t.key.clone(),
        seq,
        attempt,
        dims: Dimensions {
            environment: env.name.clone(),
            driver: env.driver(),
            runtime: driver.runtime,
            machine: driver.machine,
            accel: driver.accel,
            disk_cache: driver.disk_cache,
            vcpus: env.vcpus,
            memory_mib: env.memory_mib,
            workload: wl.name.clone(),
            kind: wl.kind.into(),
            params: wl.params.clone(),
            trial: t.trial,
            warmup: t.warmup,
            mode,
            capacity: None,
        },
        status: Status::Failed,
        error: None,
        console_tail: Vec::new(),
        started_unix_ms: unix_ms(),
        host_wall_ms: 0.0,
        guest_wall_ms: None,
        metrics: Default::default(),
        outputs: serde_json::Value::Null,
        guest_cpu: None,
        host: None,
        launch: None,
        phases: Vec::new(),
        vmm_metrics: None,
        stop: None,
        load: None,
    }
}
