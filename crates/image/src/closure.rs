//! The shared-library closure of a dynamically linked agent (and of libraries it loads at run
//! time, such as `libonnxruntime.so`), copied into the guest rootfs at the same paths so the
//! dynamic loader finds them.

use crate::ImageError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Paths named by `ldd` output: `name => /path (addr)` and the loader's `/path (addr)`.
pub fn parse_ldd(text: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let path = match line.split_once("=>") {
            Some((_, rhs)) => rhs.split_whitespace().next().unwrap_or(""),
            None => line.split_whitespace().next().unwrap_or(""),
        };
        if path.starts_with('/') {
            out.push(PathBuf::from(path));
        }
    }
    out
}

/// Every library `bins` need, loader included, deduplicated and sorted.
pub fn library_closure(bins: &[&Path]) -> Result<Vec<PathBuf>, ImageError> {
    let mut all = Vec::new();
    for b in bins {
        let out = Command::new("ldd")
            .arg(b)
            .output()
            .map_err(|e| ImageError::Command { command: format!("ldd {}", b.display()), detail: e.to_string() })?;
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains("not found") {
            return Err(ImageError::Command {
                command: format!("ldd {}", b.display()),
                detail: format!("missing libraries:\n{text}"),
            });
        }
        all.extend(parse_ldd(&text));
    }
    all.sort();
    all.dedup();
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ldd_output() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f75)\n\
                    \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f75)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f75)\n";
        assert_eq!(
            parse_ldd(text),
            vec![
                PathBuf::from("/lib/x86_64-linux-gnu/libm.so.6"),
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
    }
}
