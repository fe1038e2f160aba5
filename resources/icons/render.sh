#!/bin/sh
# Render the icons from the SVGs: png/ (16–512 px, for Linux and the window), the Windows
# .ico and the macOS .icns. Needs rsvg-convert (Debian/Ubuntu: librsvg2-bin); the .ico
# ImageMagick's convert; the .icns Python with Pillow (PYTHON=…/python to choose one).
#   resources/icons/render.sh
set -eu
cd "$(dirname "$0")"
mkdir -p png
for s in 16 24 32 48 64 128 256 512; do
    src=checkpoint-browser.svg
    # hand-tuned pixel versions where the full drawing would blur
    if [ -f "small/checkpoint-browser-$s.svg" ]; then src=small/checkpoint-browser-$s.svg; fi
    rsvg-convert -w "$s" -h "$s" "$src" -o "png/checkpoint-browser-$s.png"
done
if command -v convert >/dev/null 2>&1; then
    convert png/checkpoint-browser-16.png png/checkpoint-browser-24.png png/checkpoint-browser-32.png \
        png/checkpoint-browser-48.png png/checkpoint-browser-64.png png/checkpoint-browser-128.png \
        png/checkpoint-browser-256.png checkpoint-browser.ico
else
    echo "render.sh: no ImageMagick: checkpoint-browser.ico not rendered" >&2
fi
PYTHON=${PYTHON:-python3}
if "$PYTHON" -c "import PIL" 2>/dev/null; then
    tmp=$(mktemp -d)
    rsvg-convert -w 1024 -h 1024 checkpoint-browser.svg -o "$tmp/1024.png"
    "$PYTHON" - "$tmp/1024.png" <<'PY'
import sys
from PIL import Image
sizes = (16, 32, 64, 128, 256, 512)
extra = [Image.open(f"png/checkpoint-browser-{s}.png") for s in sizes]
Image.open(sys.argv[1]).save("checkpoint-browser.icns", append_images=extra)
PY
    rm -rf "$tmp"
else
    echo "render.sh: no Pillow for $PYTHON: checkpoint-browser.icns not rendered" >&2
fi
echo "rendered: png/checkpoint-browser-{16,24,32,48,64,128,256,512}.png"
