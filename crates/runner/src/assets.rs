//! The models and inputs a campaign's AI workloads need: fetched into the asset cache before
//! anything launches, placed in the guest image, and pointed to for native trials.

use crate::RunError;
use sandbench_assets::{catalog, Store};
use sandbench_image::ImageAsset;
use sandbench_spec::Campaign;
use sandbench_workloads::ai::{AiParams, Engine};
use sandbench_workloads::{Kind, Params};
use std::path::PathBuf;

/// Why a workload's assets cannot be provided.
#[derive(Debug, thiserror::Error)]
pub enum AssetNeedError {
    #[error(transparent)]
    Params(#[from] sandbench_workloads::ParamError),
    #[error("input `{input}` is not a sample input; valid: {} (or an absolute path, native only)", valid.join(", "))]
    NotASample { input: String, valid: Vec<&'static str> },
    #[error("engine `onnxruntime`: no pinned onnxruntime library for {arch}; use engine = \"{instead}\"")]
    NoOnnxruntime { arch: &'static str, instead: Engine },
}

/// The assets one workload needs (none for non-AI kinds); an error says why its inputs or
/// engine cannot be provided.
pub fn needed_by(
    kind: Kind,
    params: &serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<&'static str>, AssetNeedError> {
    if !kind.is_ai() {
        return Ok(Vec::new());
    }
    let p = AiParams::parse(kind, &Params::new(params))?;
    let mut names: Vec<&'static str> = Vec::new();
    if p.model.is_none() {
        names.extend(catalog::models(kind));
    } else if kind == Kind::Classify {
        names.push(catalog::IMAGENET_LABELS);
    }
    let inputs: Vec<String> = if p.inputs.is_empty() {
        catalog::sample_inputs(kind).iter().map(|s| s.to_string()).collect()
    } else {
        p.inputs.clone()
    };
    for i in inputs.iter().filter(|i| !i.contains('/')) {
        match catalog::input_asset(i) {
            "" => {
                let valid = catalog::CATALOG.iter().filter_map(|a| a.name.strip_prefix("inputs/")).collect();
                return Err(AssetNeedError::NotASample { input: i.clone(), valid });
            }
            name => names.push(name),
        }
    }
    if matches!(p.engine, Engine::Auto | Engine::Onnxruntime) {
        if catalog::find(catalog::ONNXRUNTIME_LIB).is_some() {
            names.push(catalog::ONNXRUNTIME_LIB);
        } else if p.engine == Engine::Onnxruntime {
            return Err(AssetNeedError::NoOnnxruntime {
                arch: std::env::consts::ARCH,
                instead: Engine::pure_rust(kind),
            });
        }
    }
    Ok(names)
}

/// Fetches what the campaign needs; returns the assets folder (for native trials) and the
/// files for the guest image.
pub fn prepare(c: &Campaign) -> Result<(Option<PathBuf>, Vec<ImageAsset>), RunError> {
    let mut names = Vec::new();
    for w in c.workload_specs() {
        names.extend(needed_by(w.kind, &w.params)?);
    }
    names.sort();
    names.dedup();
    if names.is_empty() {
        return Ok((None, Vec::new()));
    }
    let store = Store::new(Store::default_root());
    let paths = store.fetch(&names, &mut |line| tracing::info!("{line}"))?;
    let files = names
        .iter()
        .zip(paths)
        .map(|(name, source)| ImageAsset {
            name: name.to_string(),
            sha256: store.recorded_sha256(name).unwrap_or_default(),
            source,
        })
        .collect();
    Ok((Some(store.tree()), files))
}

/// Whether a workload names the onnxruntime engine explicitly (not `auto`).
pub fn insists_on_onnxruntime(c: &Campaign) -> bool {
    c.workload_specs().any(|w| {
        w.kind.is_ai()
            && AiParams::parse(w.kind, &Params::new(&w.params)).is_ok_and(|p| p.engine == Engine::Onnxruntime)
    })
}
