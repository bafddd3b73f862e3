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
        .unwrap_or_else(|| debian_arch(std::env::consts::ARCH).unwrap_or("amd64").into())
}

/// Debian's name of a Rust target architecture (`x86_64` → `amd64`, `aarch64` → `arm64`).
pub fn debian_arch(rust_arch: &str) -> Option<&'static str> {
    match rust_arch {
        "x86_64" => Some("amd64"),
        "aarch64" => Some("arm64"),
        _ => None,
    }
}

/// The versioned cloud kernel package of `arch` (e.g. `linux-image-6.1.0-57-cloud-arm64`): the
/// one apt's lists name for the meta package `linux-image-cloud-<arch>` when that one is cached
/// or can be fetched, else the newest one in the cache (a host without apt lists or without a
/// network, seeded by a fleet run).
pub fn kernel_package(arch: &str) -> Result<String, ImageError> {
    let meta = format!("linux-image-cloud-{arch}");
    let named = Command::new("apt-cache")
        .args(["depends", &format!("{meta}:{arch}")])
        .output()
        .ok()
        .and_then(|out| parse_first_depends(&String::from_utf8_lossy(&out.stdout), "linux-image-"))
        // A foreign architecture's dependency is qualified: `linux-image-…-cloud-arm64:arm64`.
        .map(|p| p.split(':').next().unwrap_or_default().to_string());
    let dir = cache::cache_dir().join("debs");
    let cached = newest_cached_kernel(&dir, arch);
    match (named, cached) {
        (Some(n), Some(c)) if find_cached(&dir, &n, arch).is_none() && !can_download(&n, arch) => Ok(c),
        (Some(n), _) => Ok(n),
        (None, Some(c)) => Ok(c),
        (None, None) => Err(ImageError::Fetch {
            package: meta,
            detail: format!("apt-cache depends names no linux-image package and {} holds none", dir.display()),
        }),
    }
}

/// Whether apt can fetch `package` (it knows a download address for it).
fn can_download(package: &str, arch: &str) -> bool {
    Command::new("apt-get")
        .args(["download", "--print-uris", "-q", &format!("{package}:{arch}")])
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains("://"))
}

/// The package name of the newest `linux-image-*-cloud-<arch>` in the cache.
fn newest_cached_kernel(dir: &Path, arch: &str) -> Option<String> {
    let suffix = format!("-cloud-{arch}");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(&format!("_{arch}.deb")))
        .filter_map(|n| n.split('_').next().map(str::to_string))
        .filter(|p| p.starts_with("linux-image-") && p.ends_with(&suffix) && p != &format!("linux-image{suffix}"))
        .collect();
    names.sort_by_key(|n| version_key(n));
    names.pop()
}

/// Orders `linux-image-6.1.0-57-...` after `linux-image-6.1.0-9-...`: numbers compare as numbers.
fn version_key(name: &str) -> Vec<u64> {
    name.split(|c: char| !c.is_ascii_digit()).filter_map(|d| d.parse().ok()).collect()
}

/// First `Depends:` target starting with `prefix` in `apt-cache depends` output.
pub fn parse_first_depends(text: &str, prefix: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("Depends:"))
        .map(|d| d.trim().trim_start_matches('<').trim_end_matches('>').to_string())
        .find(|d| d.starts_with(prefix))
}

/// Downloads `package` of this host's architecture into `<cache>/debs` unless a copy is
/// already there.
pub fn fetch(package: &str) -> Result<Deb, ImageError> {
    fetch_for(package, &host_arch())
}

/// Downloads `package` of Debian architecture `arch` into `<cache>/debs` unless a copy is
/// already there (the cache holds each architecture's own files: `<package>_<version>_<arch>.deb`).
pub fn fetch_for(package: &str, arch: &str) -> Result<Deb, ImageError> {
    let dir = cache::cache_dir().join("debs");
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let existing = find_cached(&dir, package, arch);
    let path = match existing {
        Some(p) => p,
        None => {
            let tmp = dir.join(format!(".dl-{package}-{}", std::process::id()));
            std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
            let out = Command::new("apt-get")
                .args(["download", "-q", &format!("{package}:{arch}")])
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

fn find_cached(dir: &Path, package: &str, arch: &str) -> Option<PathBuf> {
    let prefix = format!("{package}_");
    let ends = [format!("_{arch}.deb"), "_all.deb".to_string()];
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && ends.iter().any(|e| n.ends_with(e.as_str())))
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
    use std::path::Path;

    fn touch(dir: &Path, names: &[&str]) {
        for n in names {
            std::fs::write(dir.join(n), b"").unwrap();
        }
    }

    #[test]
    fn the_cache_gives_each_architecture_its_own_packages() {
        let tmp = tempfile::tempdir().unwrap();
        touch(
            tmp.path(),
            &["busybox-static_1%3a1.35.0-4+b3_amd64.deb", "busybox-static_1%3a1.35.0-4+deb12u1+b1_arm64.deb"],
        );
        let amd = super::find_cached(tmp.path(), "busybox-static", "amd64").unwrap();
        assert!(amd.to_string_lossy().ends_with("_amd64.deb"), "{amd:?}");
        let arm = super::find_cached(tmp.path(), "busybox-static", "arm64").unwrap();
        assert!(arm.to_string_lossy().ends_with("_arm64.deb"), "{arm:?}");
        assert!(super::find_cached(tmp.path(), "busybox-static", "riscv64").is_none());
    }

    #[test]
    fn the_newest_cached_kernel_of_an_architecture_compares_versions_as_numbers() {
        let tmp = tempfile::tempdir().unwrap();
        touch(
            tmp.path(),
            &[
                "linux-image-6.1.0-9-cloud-arm64_6.1.27-1_arm64.deb",
                "linux-image-6.1.0-57-cloud-arm64_6.1.192-3_arm64.deb",
                "linux-image-6.1.0-60-cloud-amd64_6.1.200-1_amd64.deb",
                "linux-image-cloud-arm64_6.1.192-3_arm64.deb",
            ],
        );
        assert_eq!(
            super::newest_cached_kernel(tmp.path(), "arm64").as_deref(),
            Some("linux-image-6.1.0-57-cloud-arm64")
        );
        assert_eq!(
            super::newest_cached_kernel(tmp.path(), "amd64").as_deref(),
            Some("linux-image-6.1.0-60-cloud-amd64")
        );
        assert_eq!(super::newest_cached_kernel(tmp.path(), "riscv64"), None);
    }

    #[test]
    fn depends_parsing() {
        let text = "linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-56-cloud-amd64\n  Depends: <foo>\n";
        assert_eq!(
            super::parse_first_depends(text, "linux-image-").as_deref(),
            Some("linux-image-6.1.0-56-cloud-amd64")
        );
    }
}
