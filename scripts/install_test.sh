#!/usr/bin/env bash
# Install test: from a fresh clone, follow the README's quick start for Linux, start the window
# under a virtual X display and check that it appears. Exits 0 (window seen) or 1.
#
#   bash scripts/install_test.sh [SCREENSHOT.png]      (default docs/install_test.png)
#
# Needs: git, python3 (3.10+, with venv), a network connection or pip cache for the Python
# packages, and these X11 tools: Xvfb, xdotool, xwininfo and ImageMagick's import
# (Debian/Ubuntu: apt-get install -y xvfb xdotool x11-utils imagemagick). Run as root
# on Debian/Ubuntu, it also installs the system packages the README names (its `sudo apt
# install` line, run as written without sudo); otherwise it checks they are there.
# The clone, venv and library live in a temporary folder that is removed at the end; the
# user's own library and settings are never touched ($LOOKALIKE_HOME and $XDG_* point there).
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
SHOT=${1:-$REPO/docs/install_test.png}
WORK=$(mktemp -d /tmp/lookalike-install.XXXXXX)
DISPLAY_NUM=:97
APP_PID= XVFB_PID=
t0=$(date +%s)

say() { printf '[install_test %3ds] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }
fail() { say "FAIL: $*"; exit 1; }
cleanup() {
    [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null
    [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

for tool in git python3 Xvfb xdotool xwininfo import; do
    command -v "$tool" >/dev/null || fail "$tool is missing (see the header of this script)"
done

# 1. The system packages, exactly as the README lists them for Debian/Ubuntu.
apt_line=$(grep -m1 '^sudo apt install' "$REPO/README.md" | sed 's/^sudo //')
[ -n "$apt_line" ] || fail "README.md has no 'sudo apt install' line"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "system packages: ${apt_line#apt install -y }"
    DEBIAN_FRONTEND=noninteractive $apt_line -qq >"$WORK/apt.log" 2>&1 \
        || { tail -5 "$WORK/apt.log"; fail "apt could not install the README's packages"; }
fi

# 2. A fresh clone of the committed tree, then the README's quick start, word for word.
git clone -q "$REPO" "$WORK/lookalike" || fail "git clone"
cd "$WORK/lookalike" || fail "no clone"
quick_start=$(grep -m1 '^python3 -m venv .venv' README.md)
[ -n "$quick_start" ] || fail "README.md has no 'python3 -m venv .venv ...' quick start line"
install_cmd=${quick_start% && .venv/bin/lookalike*}  # the same line, without starting it yet
say "install: $install_cmd"
bash -c "$install_cmd" >"$WORK/pip.log" 2>&1 || { tail -20 "$WORK/pip.log"; fail "install"; }
say "installed ($(.venv/bin/python -c 'import sys; print(sys.version.split()[0])'))"
.venv/bin/lookalike --version || fail "lookalike --version"

# 3. Start the window under Xvfb, as the quick start does (.venv/bin/lookalike gui).
Xvfb "$DISPLAY_NUM" -screen 0 1280x800x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
XVFB_PID=$!
for _ in $(seq 50); do xwininfo -display "$DISPLAY_NUM" -root >/dev/null 2>&1 && break; sleep 0.1; done
export DISPLAY=$DISPLAY_NUM LOOKALIKE_HOME=$WORK/home XDG_CONFIG_HOME=$WORK/config \
    XDG_DATA_HOME=$WORK/data XDG_CACHE_HOME=$WORK/cache
started=$(date +%s.%N)
.venv/bin/lookalike gui >"$WORK/app.log" 2>&1 &
APP_PID=$!
window=
for _ in $(seq 600); do  # up to 60 s (the first start compiles nothing, but a busy CI is slow)
    window=$(xdotool search --onlyvisible --name '^Lookalike$' 2>/dev/null | head -1)
    [ -n "$window" ] && break
    kill -0 "$APP_PID" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$window" ]; then
    cat "$WORK/app.log"
    fail "no Lookalike window appeared (see the application's output above)"
fi
seen_s=$(python3 -c "import time; print(f'{time.time() - $started:.1f}')")
geometry=$(xwininfo -display "$DISPLAY_NUM" -id "$window" | awk '/Width:|Height:/ {printf "%s ", $2}')
say "window $window visible after ${seen_s} s (width height: ${geometry% })"
sleep 2  # let it paint and show the empty library's hints
mkdir -p "$(dirname "$SHOT")"
import -display "$DISPLAY_NUM" -window root -resize 50% "png:$SHOT" || fail "screenshot"
say "screenshot: $SHOT"

# 4. Close it like a user would (SIGTERM = window closed); it must exit cleanly.
kill -TERM "$APP_PID"
wait "$APP_PID"
code=$?
APP_PID=
[ "$code" = 0 ] || { cat "$WORK/app.log"; fail "the app exited with $code"; }
[ -d "$WORK/home" ] || fail "no library folder was created at \$LOOKALIKE_HOME"
say "PASS: installed from a fresh clone and showed its window; exit code $code"
exit 0
