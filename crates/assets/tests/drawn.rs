//! Drawn inputs need no registry: fetching them into an empty store draws them, checks the
//! pixels against their pin and stores a PNG with its recorded sha256.

use sandbench_assets::{State, Store};

#[test]
fn drawn_traffic_lights_are_stored_as_pinned_pngs() {
    let dir = std::env::temp_dir().join(format!("sb-drawn-{}", std::process::id()));
    let store = Store::new(&dir);
    let names = ["inputs/traffic_light_red.png", "inputs/traffic_light_green.png"];
    let mut said = Vec::new();
    let paths = store.fetch(&names, &mut |l| said.push(l.to_string())).unwrap();
    assert_eq!(said, vec!["drawing inputs/traffic_light_red.png", "drawing inputs/traffic_light_green.png"]);
    for (name, p) in names.iter().zip(&paths) {
        let png = std::fs::read(p).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(store.state(name), State::Ok);
    }
    // A damaged copy is noticed and drawn again.
    std::fs::write(&paths[0], b"junk").unwrap();
    assert_eq!(store.state(names[0]), State::Corrupt);
    store.fetch(&names[..1], &mut |_| {}).unwrap();
    assert_eq!(store.state(names[0]), State::Ok);
    let _ = std::fs::remove_dir_all(dir);
}
