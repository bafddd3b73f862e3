//! A host's results archive is distrusted: these archives are built by a hostile-host
//! stand-in here (raw tar headers), never by sandbench.

use sandbench_fleet::unpack;
use std::io::Write;
use std::path::Path;

fn manifest(state: &str) -> Vec<u8> {
    format!(
        r#"{{"schema":1,"run_id":"20261201-quick","created_unix_ms":0,"sandbench_version":"0.1.0","git_revision":null,
        "campaign_path":"c","campaign_text":"","host":{{}},"versions":{{}},"image":{{}},"plan":[],"state":{state},"resumes":0,"stops":{{}}}}"#
    )
    .into_bytes()
}

/// One raw entry: path, type, link target, bytes.
type Entry<'a> = (&'a str, tar::EntryType, &'a str, &'a [u8]);

/// A gzipped tar of raw entries.
fn archive(dir: &Path, entries: &[Entry]) -> std::path::PathBuf {
    let path = dir.join("results.tar.gz");
    let gz = flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    for (name, kind, link, bytes) in entries {
        let mut h = tar::Header::new_gnu();
        // Raw name bytes: the builder's own checks would refuse `..` and absolute paths.
        let raw = &mut h.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        h.set_entry_type(*kind);
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        if !link.is_empty() {
            h.set_link_name(link).unwrap();
        }
        h.set_cksum();
        b.append(&h, *bytes).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap().flush().unwrap();
    path
}

#[test]
fn a_complete_results_folder_is_unpacked_under_its_run_id() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest("\"complete\"");
    let a = archive(
        dir.path(),
        &[
            ("./", tar::EntryType::Directory, "", b""),
            ("./manifest.json", tar::EntryType::Regular, "", &m),
            ("./records/x.json", tar::EntryType::Regular, "", b"{}"),
        ],
    );
    let (run, man) = unpack::results("h1", &a, dir.path()).unwrap();
    assert_eq!(run, dir.path().join("20261201-quick"));
    assert_eq!(man.run_id, "20261201-quick");
    assert!(run.join("records/x.json").is_file());
}

#[test]
fn escapes_links_and_unfinished_runs_are_refused_and_leave_nothing() {
    let m = manifest("\"complete\"");
    let running = manifest("\"running\"");
    let cases: Vec<(&str, Vec<Entry>, &str)> = vec![
        (
            "dotdot",
            vec![("../evil", tar::EntryType::Regular, "", b"x"), ("manifest.json", tar::EntryType::Regular, "", &m)],
            "leaves its folder",
        ),
        ("absolute", vec![("/tmp/evil", tar::EntryType::Regular, "", b"x")], "leaves its folder"),
        (
            "symlink",
            vec![("etc", tar::EntryType::Symlink, "/etc", b""), ("etc/passwd", tar::EntryType::Regular, "", b"x")],
            "Symlink",
        ),
        ("hardlink", vec![("p", tar::EntryType::Link, "/etc/passwd", b"")], "Link"),
        ("running", vec![("manifest.json", tar::EntryType::Regular, "", &running)], "not complete"),
        ("none", vec![("other.json", tar::EntryType::Regular, "", b"{}")], "no manifest.json"),
    ];
    for (name, entries, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("dest");
        std::fs::create_dir(&dest).unwrap();
        let a = archive(dir.path(), &entries);
        let e = unpack::results("h1", &a, &dest).unwrap_err().to_string();
        assert!(e.contains(want) && e.contains("h1"), "{name}: {e}");
        assert_eq!(std::fs::read_dir(&dest).unwrap().count(), 0, "{name}: nothing is left behind");
        assert!(!dir.path().join("evil").exists(), "{name}");
    }
    // The cause is kept typed, not only as text.
    let dir = tempfile::tempdir().unwrap();
    let a = archive(dir.path(), &[("../evil", tar::EntryType::Regular, "", b"x")]);
    let e = unpack::results("h1", &a, dir.path()).unwrap_err();
    assert!(
        matches!(&e, sandbench_fleet::FleetError::Results { cause: unpack::UnpackError::Leaves { .. }, .. }),
        "{e:?}"
    );
}
