//! The board's sensors on fixture trees standing in for a Raspberry Pi 4 (hot, clock held
//! back), a Raspberry Pi 5 (cool, full clock) and a Jetson Nano (whose `PMIC-Die` zone always
//! reads 100 °C), and `vcgencmd get_throttled` from a test stand-in script.

use sandbench_sampler::board::{self, Board, BoardSample};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/boards").join(name)
}

const NO_VCGENCMD: &str = "/nonexistent/vcgencmd";

#[test]
fn each_board_is_named_and_read_from_its_tree() {
    let pi4 = Board::open_with(&fixture("rpi4"), NO_VCGENCMD);
    assert_eq!(board::model(&fixture("rpi4")).as_deref(), Some("Raspberry Pi 4 Model B Rev 1.4"));
    assert_eq!(pi4.read(), BoardSample { soc_temp_c: Some(83.312), cpu_freq_pct: Some(1500.0 / 1800.0 * 100.0) });
    let pi5 = Board::open_with(&fixture("rpi5"), NO_VCGENCMD);
    assert_eq!(board::model(&fixture("rpi5")).as_deref(), Some("Raspberry Pi 5 Model B Rev 1.0"));
    assert_eq!(pi5.read(), BoardSample { soc_temp_c: Some(54.3), cpu_freq_pct: Some(100.0) });
    let nano = Board::open_with(&fixture("jetson-nano"), NO_VCGENCMD);
    assert_eq!(board::model(&fixture("jetson-nano")).as_deref(), Some("NVIDIA Jetson Nano Developer Kit"));
    // The CPU zone, not the PMIC's constant 100 °C.
    assert_eq!(nano.read().soc_temp_c, Some(41.0));
    assert_eq!(nano.throttled(), None);
    let none = Board::open_with(&fixture("absent"), NO_VCGENCMD);
    assert!(none.is_empty());
    assert_eq!(none.read(), BoardSample::default());
    assert_eq!(board::model(&fixture("absent")), None);
}

#[test]
fn a_hot_throttled_pi_4_warns_and_a_cool_pi_5_does_not() {
    let stand_in = fixture("fake-vcgencmd");
    let pi4 = Board::open_with(&fixture("rpi4"), stand_in.to_str().unwrap());
    let flags = pi4.throttled().expect("the stand-in answers");
    assert_eq!(flags, 0x50005);
    // Busy samples (≥ 100 % CPU) count for the clock; an idle one at a low clock does not.
    let busy = pi4.read();
    let idle = BoardSample { cpu_freq_pct: Some(33.0), ..busy };
    let s = board::summary(&[(180.0, busy), (5.0, idle)], Some((flags, flags))).unwrap();
    assert_eq!(s.cpu_freq_busy_min_pct.map(|p| p.round()), Some(83.0));
    assert_eq!(s.throttled_flags, Some(0x5));
    let w = s.warnings();
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(w[0].contains("throttled (0x5: under-voltage now, throttled now)"), "{w:?}");
    assert!(w[1].contains("83 % of its maximum") && w[2].contains("83.3 °C"), "{w:?}");

    let pi5 = Board::open_with(&fixture("rpi5"), NO_VCGENCMD);
    let s = board::summary(&[(200.0, pi5.read())], Some((0, 0))).unwrap();
    assert!(s.warnings().is_empty(), "{:?}", s.warnings());
    assert_eq!(board::summary(&[(200.0, BoardSample::default())], None), None);
}

#[test]
fn throttling_flags_during_a_trial() {
    assert_eq!(board::parse_throttled("throttled=0x50005\n"), Some(0x50005));
    assert_eq!(board::parse_throttled("throttled=0x0"), Some(0));
    assert_eq!(board::parse_throttled("error=1"), None);
    // Flags that had occurred before the trial are not the trial's; new ones are.
    assert_eq!(board::during(0x50000, 0x50000), 0);
    assert_eq!(board::during(0x10000, 0x50004), 0x40004);
    assert_eq!(
        board::describe_throttled(0x80008),
        ["soft temperature limit now", "soft temperature limit has occurred"]
    );
}
