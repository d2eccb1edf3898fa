#!/usr/bin/env bash
# Build the Linux release of Lookalike from the current tree, test the built bundle, package it.
#
#   bash scripts/build_linux.sh
#
# 0. a release virtualenv, build/venv (made on the first run, and again when pyproject.toml
#    changes): the project's dependencies and PyInstaller, nothing else, and hnswlib compiled
#    without -march=native (HNSWLIB_NO_NATIVE=1): a native build uses this CPU's instructions
#    (AVX-512 here) and would crash on older CPUs. VENV=.venv uses the dev venv instead.
# 1. pyinstaller --noconfirm --clean pyinstaller.spec                  → dist/Lookalike/
# 2. python scripts/smoke_bundle.py dist/Lookalike: index/search/eval/watch/window in a clean
#    environment, no network connection (strace)                      → build/smoke-report.json
# 3. dist/Lookalike-<version>-linux-<arch>.tar.gz (with install.sh at the top) + .sha256
# 4. the window's start time on a private X server (benchmarks/bundle_start.py, needs Xvfb);
#    LOOKALIKE_DROP_CACHES=1 (as root) empties the page cache before each start (cold start)
#
# System packages: Qt's xcb plugin links the xcb-util libraries; they must be on the build machine
# so that PyInstaller bundles them (many desktops lack libxcb-cursor0). strace (network check),
# Xvfb and x11-utils (start time) are optional. Missing ones are installed with apt-get when this
# runs as root or with password-less sudo; set LOOKALIKE_NO_APT=1 to never do that.
# No AppImage: appimagetool and its runtime are not packaged on PyPI or Debian.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${VENV:-$ROOT/build/venv}
PYTHON=${PYTHON:-python3}
STARTED=$(date +%s)

say() { printf '\n== %s\n' "$*"; }

apt_install() {  # apt_install PACKAGE... ; returns 1 when it cannot
    [ "${LOOKALIKE_NO_APT:-0}" = 1 ] && return 1
    command -v apt-get >/dev/null || return 1
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
        sudo -n true 2>/dev/null || return 1
        sudo=(sudo -n)
    fi
    echo "installing $*"
    "${sudo[@]}" apt-get install -y -qq "$@" >/dev/null \
        || { "${sudo[@]}" apt-get update -qq >/dev/null && "${sudo[@]}" apt-get install -y -qq "$@" >/dev/null; }
}

# --- the build environment ---------------------------------------------------------------------
say "environment"
STAMP=$(sha256sum < pyproject.toml | cut -c1-16)
if [ "$VENV" = "$ROOT/build/venv" ] && [ "$(cat "$VENV/.stamp" 2>/dev/null)" != "$STAMP" ]; then
    echo "making the release virtualenv $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    # portable hnswlib: built here from its sdist, never from pip's cache of a native build
    HNSWLIB_NO_NATIVE=1 "$VENV/bin/python" -m pip install -q --no-cache-dir --no-binary hnswlib \
        "$(grep -o '"hnswlib[^"]*"' pyproject.toml | tr -d '"')"
    "$VENV/bin/python" -m pip install -q -e . "pyinstaller>=6"
    echo "$STAMP" > "$VENV/.stamp"
fi
if [ ! -x "$VENV/bin/python" ]; then
    echo "no virtualenv at $VENV" >&2
    exit 1
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"
for model in models/rmac_lite2.onnx models/rmac_lite0.onnx; do
    [ -s "$model" ] || { echo "$model is missing: python models/export/export_onnx.py --all" >&2; exit 1; }
done
python - <<'EOF' || echo "WARNING: the models differ from models/MODELS.md (the release CI refuses that)"
import hashlib, pathlib, re, sys
listed = re.findall(r"`(rmac_\w+\.onnx)`.*`([0-9a-f]{64})`", pathlib.Path("models/MODELS.md").read_text())
sys.exit(any(hashlib.sha256(pathlib.Path("models", n).read_bytes()).hexdigest() != d for n, d in listed))
EOF
python -c "import PyInstaller" 2>/dev/null || pip install -q "pyinstaller>=6"
VERSION=$(python -c "import re,pathlib; print(re.search(r'__version__ = \"(.+)\"', pathlib.Path('desktop/lookalike/__init__.py').read_text()).group(1))")
ARCH=$(uname -m)
echo "Lookalike $VERSION, $(python --version), PyInstaller $(python -m PyInstaller --version), $ARCH"

# Libraries Qt's xcb platform plugin needs: bundled only if found here.
QXCB=$(python -c "import PySide6, pathlib; print(pathlib.Path(PySide6.__file__).parent / 'Qt/plugins/platforms/libqxcb.so')")
missing=$(ldd "$QXCB" | awk '/not found/ {print $1}' | sort -u | tr '\n' ' ')
if [ -n "$missing" ]; then
    echo "Qt's xcb plugin needs libraries this machine lacks: $missing"
    apt_install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-render-util0 \
        libxcb-image0 libxkbcommon-x11-0 libxcb-xinerama0 || true
    missing=$(ldd "$QXCB" | awk '/not found/ {print $1}' | sort -u | tr '\n' ' ')
    if [ -n "$missing" ]; then
        echo "still missing: $missing; the bundle would not start on desktops without them" >&2
        exit 1
    fi
fi
command -v strace >/dev/null || apt_install strace || echo "no strace: the network check is skipped"
{ command -v Xvfb >/dev/null && command -v xev >/dev/null; } || apt_install xvfb x11-utils \
    || echo "no Xvfb/xev: the start time is measured offscreen only"

# --- build ------------------------------------------------------------------------------------------
say "pyinstaller --noconfirm --clean pyinstaller.spec"
BUILD_START=$(date +%s)
pyinstaller --noconfirm --clean --log-level WARN pyinstaller.spec
BUILD_SECONDS=$(( $(date +%s) - BUILD_START ))
BUNDLE=dist/Lookalike
if command -v objdump >/dev/null; then
    if objdump -d "$BUNDLE"/_internal/hnswlib*.so | grep -qE '%[yz]mm'; then
        PORTABLE="NO: hnswlib uses AVX/AVX-512 (built with -march=native; see step 0)"
        echo "WARNING: $PORTABLE" >&2
    else
        PORTABLE="yes (hnswlib uses x86-64 baseline instructions only)"
    fi
else
    PORTABLE="not checked (no objdump)"
fi

# --- test the built bundle ---------------------------------------------------------------------------
say "smoke test of the built bundle"
mkdir -p build
python scripts/smoke_bundle.py "$BUNDLE" --report build/smoke-report.json

# --- package ----------------------------------------------------------------------------------------
say "package"
cp resources/linux/install.sh "$BUNDLE/install.sh"
chmod +x "$BUNDLE/install.sh"
ARCHIVE=dist/Lookalike-$VERSION-linux-$ARCH.tar.gz
tar -C dist --owner=0 --group=0 -czf "$ARCHIVE" Lookalike
(cd dist && sha256sum "$(basename "$ARCHIVE")" > "$(basename "$ARCHIVE").sha256")
echo "AppImage: skipped (appimagetool and the AppImage runtime are not on PyPI or Debian)"

# --- start time ---------------------------------------------------------------------------------------
say "window start time (benchmarks/bundle_start.py)"
START_ARGS=(--runs 3)
# LOOKALIKE_DROP_CACHES=1 (root): empty the page cache before each start, i.e. a cold start
[ "${LOOKALIKE_DROP_CACHES:-0}" = 1 ] && [ "$(id -u)" = 0 ] && START_ARGS+=(--drop-caches)
python benchmarks/bundle_start.py "$BUNDLE" "${START_ARGS[@]}" | tee build/start-time.json \
    || echo "start time not measured"

# --- summary ------------------------------------------------------------------------------------------
say "summary"
python - "$BUILD_SECONDS" "$(( $(date +%s) - STARTED ))" "$ARCHIVE" "$PORTABLE" <<'EOF'
import json, sys
from pathlib import Path

build_s, total_s, archive = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
bundle = Path("dist/Lookalike")
size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file() and not p.is_symlink())
smoke = json.loads(Path("build/smoke-report.json").read_text())
print(f"build (pyinstaller)      {build_s} s; whole script {total_s} s")
print(f"bundle, unpacked         {size / 2**20:.0f} MiB  ({bundle})")
print(f"archive                  {archive.stat().st_size / 2**20:.0f} MiB  ({archive})")
print(f"first frame, offscreen   {smoke['window_first_frame_s']} s  (smoke test, warm)")
try:
    start = json.loads(Path("build/start-time.json").read_text())
    runs = start["runs"]
    shown = [r.get("mapped_s", r["paint_s"]) for r in runs]
    print(f"window shown, {start['platform']:<10} {shown} s  (cold page cache: "
          f"{[r['cold_cache'] for r in runs]})")
except (OSError, ValueError, KeyError):
    pass
print(f"portable CPU code        {sys.argv[4]}")
net = smoke["network"]
print("network connections      " + ("none (strace: no AF_INET/AF_INET6 connect, bind or sendto)"
                                      if isinstance(net, dict) else str(net)))
EOF
