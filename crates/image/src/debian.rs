//! Fetching and unpacking Debian packages with the ordinary tools (`apt-get download`,
//! `dpkg-deb -x`), cached so a package is downloaded once.

use crate::{cache, error::io, ImageError};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A downloaded package.
#[derive(Debug, Clone)]
pub struct Deb {
    pub package: String,
    pub version: String,
    pub path: PathBuf,
    pub sha256: String,
}

/// This host's Debian architecture (`amd64`, `arm64`).
pub fn host_arch() -> String {
    Command::new("dpkg")
        .arg("--print-architecture")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| if cfg!(target_arch = "aarch64") { "arm64".into() } else { "amd64".into() })
}

/// The versioned package a meta package (e.g. `linux-image-cloud-amd64`) depends on.
pub fn resolve_meta(meta: &str) -> Result<String, ImageError> {
    let out = Command::new("apt-cache")
        .args(["depends", meta])
        .output()
        .map_err(|e| ImageError::Fetch { package: meta.into(), detail: format!("apt-cache: {e}") })?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_first_depends(&text, "linux-image-").ok_or_else(|| ImageError::Fetch {
        package: meta.into(),
        detail: "apt-cache depends names no linux-image package".into(),
    })
}

/// First `Depends:` target starting with `prefix` in `apt-cache depends` output.
pub fn parse_first_depends(text: &str, prefix: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("Depends:"))
        .map(|d| d.trim().trim_start_matches('<').trim_end_matches('>').to_string())
        .find(|d| d.starts_with(prefix))
}

/// Downloads `package` into `<cache>/debs` unless a copy is already there.
pub fn fetch(package: &str) -> Result<Deb, ImageError> {
    let dir = cache::cache_dir().join("debs");
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let existing = find_cached(&dir, package);
    let path = match existing {
        Some(p) => p,
        None => {
            let tmp = dir.join(format!(".dl-{package}-{}", std::process::id()));
            std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
            let out = Command::new("apt-get")
                .args(["download", "-q", package])
                .current_dir(&tmp)
                .output()
                .map_err(|e| ImageError::Fetch { package: package.into(), detail: format!("apt-get: {e}") })?;
            if !out.status.success() {
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(ImageError::Fetch {
                    package: package.into(),
                    detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
                });
            }
            let got = std::fs::read_dir(&tmp)
                .map_err(io(&tmp))?
                .flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "deb"));
            let Some(got) = got else {
                return Err(ImageError::Fetch {
                    package: package.into(),
                    detail: "apt-get download wrote no .deb".into(),
                });
            };
            let dest = dir.join(got.file_name().unwrap_or_default());
            std::fs::rename(&got, &dest).map_err(io(&dest))?;
            let _ = std::fs::remove_dir_all(&tmp);
            dest
        }
    };
    let version = deb_field(&path, "Version")?;
    let sha256 = cache::sha256_file(&path).map_err(io(&path))?;
    Ok(Deb { package: package.into(), version, path, sha256 })
}

fn find_cached(dir: &Path, package: &str) -> Option<PathBuf> {
    let prefix = format!("{package}_");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
        })
        .collect();
    found.sort();
    found.pop()
}

fn deb_field(deb: &Path, field: &str) -> Result<String, ImageError> {
    let out = Command::new("dpkg-deb")
        .args(["-f"])
        .arg(deb)
        .arg(field)
        .output()
        .map_err(|e| ImageError::Command { command: "dpkg-deb -f".into(), detail: e.to_string() })?;
    if !out.status.success() {
        return Err(ImageError::Command {
            command: format!("dpkg-deb -f {}", deb.display()),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Unpacks a package's files into `dest`.
pub fn extract(deb: &Deb, dest: &Path) -> Result<(), ImageError> {
    std::fs::create_dir_all(dest).map_err(io(dest))?;
    let out = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb.path)
        .arg(dest)
        .output()
        .map_err(|e| ImageError::Command { command: "dpkg-deb -x".into(), detail: e.to_string() })?;
    if !out.status.success() {
        return Err(ImageError::Command {
            command: format!("dpkg-deb -x {}", deb.path.display()),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn depends_parsing() {
        let text = "linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-56-cloud-amd64\n  Depends: <foo>\n";
        assert_eq!(
            super::parse_first_depends(text, "linux-image-").as_deref(),
            Some("linux-image-6.1.0-56-cloud-amd64")
        );
    }
}
