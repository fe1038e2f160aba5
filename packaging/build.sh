#!/usr/bin/env bash
# Build Checkpoint Browser as a one-folder app with PyInstaller (on Linux, macOS, or Windows
# under Git Bash/MSYS). PyInstaller packs the platform it runs on: build on each.
#
#   packaging/build.sh                    # dedicated build environment in build/venv (no TensorFlow)
#   packaging/build.sh --venv .venv       # use an existing environment (pyinstaller is added to it)
#   BUILD_DIR=/tmp/cb-build DIST_DIR=/tmp/cb-dist packaging/build.sh   # outputs elsewhere
#
# Result: $DIST_DIR/checkpoint-browser/ (and on macOS "$DIST_DIR/Checkpoint Browser.app"),
# then a smoke test: the app's --version.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
DIST_DIR=${DIST_DIR:-$ROOT/dist}
VENV=${BUILD_VENV:-$BUILD_DIR/venv}
PYINSTALLER_VERSION=${PYINSTALLER_VERSION:->=6.6,<7}

while [ $# -gt 0 ]; do
    case $1 in
        --venv) VENV=$2; shift ;;
        --venv=*) VENV=${1#--venv=} ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

say() { printf '[build] %s\n' "$*"; }

if [ -x "$VENV/bin/python" ]; then PY=$VENV/bin/python
elif [ -x "$VENV/Scripts/python.exe" ]; then PY=$VENV/Scripts/python.exe
else
    say "creating the build environment $VENV"
    python3 -m venv "$VENV" 2>/dev/null || python -m venv "$VENV"
    if [ -x "$VENV/bin/python" ]; then PY=$VENV/bin/python; else PY=$VENV/Scripts/python.exe; fi
fi

say "installing the app's dependencies and PyInstaller into $VENV"
"$PY" -m pip install --quiet --upgrade pip
# The dependencies only: PyInstaller reads the app itself from this checkout (pathex).
mkdir -p "$BUILD_DIR"
"$PY" - "$ROOT/pyproject.toml" > "$BUILD_DIR/requirements.txt" <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
try:
    import tomllib
    deps = tomllib.loads(text)["project"]["dependencies"]
except ImportError:  # Python 3.10
    block = re.search(r"^dependencies = \[(.*?)^\]", text, re.M | re.S).group(1)
    deps = re.findall(r'^\s*"([^"]+)"', block, re.M)
print("\n".join(deps))
EOF
"$PY" -m pip install --quiet -r "$BUILD_DIR/requirements.txt" "pyinstaller$PYINSTALLER_VERSION"
case $(uname -s) in Darwin) "$PY" -m pip install --quiet pillow ;; esac   # PNG → .icns

say "running PyInstaller"
mkdir -p "$DIST_DIR"
"$PY" -m PyInstaller --noconfirm --clean \
    --workpath "$BUILD_DIR/pyinstaller" --distpath "$DIST_DIR" \
    "$ROOT/packaging/checkpoint-browser.spec"

APP=$DIST_DIR/checkpoint-browser/checkpoint-browser
[ -x "$APP" ] || APP=$DIST_DIR/checkpoint-browser/ckpt-browser.exe
say "smoke test: $APP --version"
"$APP" --version
say "done: $DIST_DIR/checkpoint-browser/"
