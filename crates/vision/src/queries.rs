//! The vision kinds under a load scenario: the model is loaded and the inputs decoded before
//! the generator starts; each query takes the next input in turn (a batch of `batch` of
//! them) through pre-processing, inference and post-processing.

use crate::{load, preprocess, require, resolve, Engine, Prepared, Task, VisionKind};
use image::RgbImage;
use sandbench_workloads::ai::AiParams;
use sandbench_workloads::load::Queries;
use sandbench_workloads::{Kind, Params, WorkloadError};
use serde_json::{json, Map, Value};
use std::path::PathBuf;

struct VisionQueries {
    engine: Box<dyn Engine>,
    task: Box<dyn Task>,
    inputs: Vec<RgbImage>,
    batch: usize,
    next: usize,
    describe: Value,
}

impl Queries for VisionQueries {
    fn query(&mut self) -> Result<(), WorkloadError> {
        let chunk: Vec<&RgbImage> =
            (0..self.batch).map(|i| &self.inputs[(self.next + i) % self.inputs.len()]).collect();
        self.next = (self.next + self.batch) % self.inputs.len();
        let prepared: Vec<Prepared> = chunk.iter().map(|img| self.task.prepare(img)).collect();
        let canvases: Vec<&RgbImage> = prepared.iter().map(|x| &x.canvas).collect();
        let outputs = self.engine.run(self.task.pack(&canvases))?;
        for (n, prep) in prepared.iter().enumerate() {
            std::hint::black_box(self.task.decode(&outputs, n, prep)?);
        }
        Ok(())
    }
    fn inferences_per_query(&self) -> u64 {
        self.batch as u64
    }
    fn describe(&self) -> Value {
        self.describe.clone()
    }
}

/// The queries of `detect`, `classify` or `face` with their own parameters `rest`.
pub fn queries(kind: Kind, rest: &Map<String, Value>) -> Result<Box<dyn Queries>, WorkloadError> {
    let vision = VisionKind::of(kind).ok_or(WorkloadError::NotHere { kind, why: "is not a vision workload" })?;
    let p = AiParams::parse(kind, &Params::new(rest))?;
    let root = crate::assets_root();
    let threads =
        if p.threads == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { p.threads };
    let (default_model, samples) = crate::defaults(kind);
    let model = require(resolve(&root, p.model.as_deref().unwrap_or(default_model), "models"))?;
    let names: Vec<String> =
        if p.inputs.is_empty() { samples.iter().map(|s| s.to_string()).collect() } else { p.inputs.clone() };
    let paths: Vec<PathBuf> = names.iter().map(|n| require(resolve(&root, n, "inputs"))).collect::<Result<_, _>>()?;
    let mut loaded = load(vision, &p, &root, &model, threads)?;
    sandbench_workloads::phase::mark(sandbench_workloads::phase::MODEL_LOADED);
    let inputs: Vec<RgbImage> = paths.iter().map(|i| preprocess::load_rgb(i)).collect::<Result<_, _>>()?;
    let batch = if loaded.task.fixed_shape() { p.batch } else { 1 };
    // Every shape the queries will run, planned before the generator starts.
    crate::plan_shapes(loaded.task.as_ref(), loaded.engine.as_mut(), &inputs, batch)?;
    let describe = json!({
        "engine": loaded.engine.name(),
        "engine_fallback": loaded.fallback,
        "model": model.file_name().map(|f| f.to_string_lossy().into_owned()),
        "threads": threads,
        "batch": batch,
        "inputs": names,
    });
    Ok(Box::new(VisionQueries { engine: loaded.engine, task: loaded.task, inputs, batch, next: 0, describe }))
}
