#!/bin/sh
# Desktop integration of Checkpoint Browser for the current user (Linux, freedesktop.org).
#
#   packaging/linux/install.sh               install, and open the model file types with the app
#   packaging/linux/install.sh --uninstall   remove everything the install added or changed
#
# Installs, under $XDG_DATA_HOME (default ~/.local/share): the desktop entry, the MIME types
# of TensorFlow's files, the icons; makes the app the default for those types in
# $XDG_CONFIG_HOME/mimeapps.list (default ~/.config); lists it under "Open With" for folders
# without becoming their default. Needs no root. Running it again reinstalls cleanly.
#
# The desktop entry runs, in order of preference: the command given with --exec; the
# `ckpt-browser-gui` entry point if it is on PATH (pip/pipx install); this checkout's
# .venv/bin/python with main.py (set up by `python3 packaging/bootstrap.py`).
set -eu

APP_ID=checkpoint-browser
DESKTOP_NAME=$APP_ID.desktop
MIME_XML_NAME=$APP_ID-mime.xml
ICON_SIZES="16 24 32 48 64 128 256 512"
FOLDER=inode/directory

HERE=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
ROOT=$(CDPATH='' cd -- "$HERE/../.." && pwd)

usage() {
    cat <<EOF
usage: install.sh [--exec COMMAND] [--no-default] | --uninstall | --help

  (no option)      install the desktop entry, MIME types and icons for this user, and make
                   Checkpoint Browser the default application for TensorFlow model files
  --exec COMMAND   the program the desktop entry runs (default: ckpt-browser-gui if it is on
                   PATH, else this checkout's .venv/bin/python with main.py)
  --no-default     install, but leave the default applications alone
  --uninstall      remove every file and setting the install added
  --help           this text

Honours XDG_DATA_HOME (default ~/.local/share) and XDG_CONFIG_HOME (default ~/.config).
EOF
}

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 2; }
have() { command -v "$1" >/dev/null 2>&1; }

ACTION=install
EXEC_OVERRIDE=
SET_DEFAULTS=1
while [ $# -gt 0 ]; do
    case $1 in
        --uninstall) ACTION=uninstall ;;
        --exec) [ $# -ge 2 ] || die "--exec needs a command"; EXEC_OVERRIDE=$2; shift ;;
        --exec=*) EXEC_OVERRIDE=${1#--exec=} ;;
        --no-default) SET_DEFAULTS=0 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
    shift
done

[ -n "${HOME:-}" ] || die "HOME is not set"
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
CONFIG=${XDG_CONFIG_HOME:-$HOME/.config}
case $DATA in /*) ;; *) die "XDG_DATA_HOME must be an absolute path" ;; esac
case $CONFIG in /*) ;; *) die "XDG_CONFIG_HOME must be an absolute path" ;; esac
APPS=$DATA/applications
MIME=$DATA/mime
ICONS=$DATA/icons/hicolor
STATE_DIR=$DATA/$APP_ID
STATE=$STATE_DIR/installed        # what the install changed outside its own files
MIMEAPPS=$CONFIG/mimeapps.list
TYPES=$(sed -n 's/^MimeType=//p' "$HERE/$DESKTOP_NAME" | head -n 1 | tr ';' ' ')
DEFAULT_TYPES=
for t in $TYPES; do [ "$t" = "$FOLDER" ] || DEFAULT_TYPES="$DEFAULT_TYPES $t"; done

# -- helpers --------------------------------------------------------------------------------

# One argument of a desktop entry's Exec key: quoted when needed, then escaped for the
# string type of the key file (https://specifications.freedesktop.org/desktop-entry-spec).
exec_arg() {
    case $1 in
        *"
"*) die "a path with a line break cannot go in a desktop entry: $1" ;;
    esac
    case $1 in
        ''|*[!A-Za-z0-9_/.+,:@=-]*)
            printf '"%s"' "$(printf '%s' "$1" | sed -e 's/[\\"`$]/\\&/g' -e 's/\\/\\\\/g' -e 's/%/%%/g')" ;;
        *) printf '%s' "$1" ;;
    esac
}

# A plain string value of a key file (TryExec): backslashes escaped.
string_value() { printf '%s' "$1" | sed -e 's/\\/\\\\/g'; }

# mkdir -p that records, in $CREATED, each directory it had to create (for --uninstall).
CREATED=
make_dir() {
    [ -d "$1" ] && return 0
    make_dir "$(dirname -- "$1")"
    mkdir -- "$1"
    CREATED="$CREATED
dir=$1"
}

state_value() {  # state_value KEY: the last value recorded under KEY, or nothing
    [ -f "$STATE" ] || return 0
    sed -n "s/^$1=//p" "$STATE" | tail -n 1
}

# mimeapps_set TYPE DESKTOP: make DESKTOP the default for TYPE in $MIMEAPPS, without xdg-mime.
mimeapps_set() {
    [ -f "$MIMEAPPS" ] || : > "$MIMEAPPS"
    MA_TYPE=$1 MA_APP=$2 awk '
        BEGIN { prefix = ENVIRON["MA_TYPE"] "="; line = prefix ENVIRON["MA_APP"] }
        /^\[Default Applications\]/ { print; if (!done) print line; done = 1; indef = 1; next }
        /^\[/ { indef = 0 }
        indef && index($0, prefix) == 1 { next }
        { print }
        END { if (!done) { print ""; print "[Default Applications]"; print line } }
    ' "$MIMEAPPS" > "$MIMEAPPS.new"
    mv -- "$MIMEAPPS.new" "$MIMEAPPS"
}

set_default() {  # set_default DESKTOP TYPE…
    app=$1; shift
    if have xdg-mime; then
        XDG_UTILS_INSTALL_MODE=user xdg-mime default "$app" "$@"
    else
        for t in "$@"; do mimeapps_set "$t" "$app"; done
    fi
}

# Remove the app from every entry of a mimeapps.list, and the folder default install.sh
# pinned (if it is still what install.sh wrote). Delete the file if install.sh created it
# and nothing is left in it.
mimeapps_clean() {
    file=$1 created=$2 pinned=$3
    [ -f "$file" ] || return 0
    MA_APP=$DESKTOP_NAME MA_PIN=$pinned MA_FOLDER=$FOLDER awk '
        BEGIN { app = ENVIRON["MA_APP"]; pin = ENVIRON["MA_PIN"]; folder = ENVIRON["MA_FOLDER"] }
        /^\[/ { section = $0; print; next }
        /^[^#=][^=]*=/ {
            eq = index($0, "="); key = substr($0, 1, eq - 1); val = substr($0, eq + 1)
            if (pin != "" && section == "[Default Applications]" && key == folder && val == pin) next
            n = split(val, items, ";"); out = ""
            for (i = 1; i <= n; i++) if (items[i] != "" && items[i] != app) out = out items[i] ";"
            if (out == "") next
            if (substr(val, length(val)) != ";") out = substr(out, 1, length(out) - 1)
            print key "=" out; next
        }
        { print }
    ' "$file" > "$file.new"
    mv -- "$file.new" "$file"
    if [ "$created" = 1 ] && ! grep -q '=' "$file"; then
        rm -f -- "$file"
    fi
}

# The generated MIME database of $MIME, rebuilt; removed if no package is left in it.
refresh_mime() {
    if [ -d "$MIME/packages" ] && [ -n "$(ls -A -- "$MIME/packages" 2>/dev/null)" ]; then
        if have update-mime-database; then update-mime-database "$MIME"; else
            say "update-mime-database not found (package shared-mime-info): file types not registered"; fi
    elif [ -d "$MIME" ]; then
        # Only generated files remain (packages/ is the source of a user's database).
        rm -rf -- "$MIME"
    fi
}

refresh_desktop_db() {
    [ -d "$APPS" ] || return 0
    if [ -n "$(find "$APPS" -name '*.desktop' 2>/dev/null | head -n 1)" ]; then
        if have update-desktop-database; then update-desktop-database -q "$APPS"; fi
    else
        rm -f -- "$APPS/mimeinfo.cache"
    fi
}

refresh_icons() {
    [ -d "$ICONS" ] || return 0
    if [ -f "$ICONS/icon-theme.cache" ] && have gtk-update-icon-cache; then
        gtk-update-icon-cache -q -t -f "$ICONS" || true
    else
        touch -- "$ICONS"
    fi
}

default_for() {  # the desktop entry xdg-mime resolves as the default for a type, or nothing
    have xdg-mime || return 0
    xdg-mime query default "$1" 2>/dev/null | head -n 1 || true
}

# -- uninstall ------------------------------------------------------------------------------

uninstall() {
    quiet=${1:-}
    pinned=$(state_value pinned-folder-default)
    created_mimeapps=$(state_value created-mimeapps)
    dirs=
    if [ -f "$STATE" ]; then dirs=$(sed -n 's/^dir=//p' "$STATE" | sort -r); fi

    rm -f -- "$APPS/$DESKTOP_NAME" "$MIME/packages/$MIME_XML_NAME"
    rm -f -- "$ICONS/scalable/apps/$APP_ID.svg"
    for s in $ICON_SIZES; do rm -f -- "$ICONS/${s}x$s/apps/$APP_ID.png"; done
    mimeapps_clean "$MIMEAPPS" "${created_mimeapps:-0}" "$pinned"
    mimeapps_clean "$APPS/mimeapps.list" 0 ""         # the deprecated location; never created here
    refresh_mime
    refresh_desktop_db
    rm -f -- "$STATE"
    # Directories the install created, deepest first, if they are empty now.
    printf '%s\n' "$dirs" | while IFS= read -r d; do
        if [ -n "$d" ] && [ -d "$d" ]; then rmdir -- "$d" 2>/dev/null || true; fi
    done
    if [ -d "$STATE_DIR" ]; then rmdir -- "$STATE_DIR" 2>/dev/null || true; fi
    refresh_icons
    [ -n "$quiet" ] || say "removed Checkpoint Browser's desktop integration from $DATA"
}

if [ "$ACTION" = uninstall ]; then
    uninstall
    exit 0
fi

# -- install --------------------------------------------------------------------------------

# The command the desktop entry runs.
if [ -n "$EXEC_OVERRIDE" ]; then
    case $EXEC_OVERRIDE in
        /*) prog=$EXEC_OVERRIDE ;;
        */*) prog=$(pwd)/$EXEC_OVERRIDE ;;
        *) prog=$(command -v "$EXEC_OVERRIDE" || true) ;;
    esac
    if [ -z "$prog" ] || [ ! -x "$prog" ]; then die "--exec: not an executable program: $EXEC_OVERRIDE"; fi
    EXEC=$(exec_arg "$prog")
    TRYEXEC=$prog
elif prog=$(command -v ckpt-browser-gui 2>/dev/null) && [ -n "$prog" ]; then
    case $prog in /*) ;; *) prog=$(pwd)/$prog ;; esac
    EXEC=$(exec_arg "$prog")
    TRYEXEC=$prog
elif [ -x "$ROOT/.venv/bin/python" ] && [ -f "$ROOT/main.py" ]; then
    EXEC="$(exec_arg "$ROOT/.venv/bin/python") $(exec_arg "$ROOT/main.py")"
    TRYEXEC=$ROOT/.venv/bin/python
else
    die "no ckpt-browser-gui on PATH and no $ROOT/.venv: install the app first
  (pip install checkpoint-browser, or python3 packaging/bootstrap.py in the checkout), or pass --exec"
fi

for f in "$HERE/$DESKTOP_NAME" "$HERE/$MIME_XML_NAME" "$ROOT/resources/icons/$APP_ID.svg"; do
    [ -f "$f" ] || die "missing $f"
done

# A clean slate: undo a previous install first (it restores what that one changed).
uninstall quiet
folder_before=$(default_for "$FOLDER")

mimeapps_existed=0
[ -f "$MIMEAPPS" ] && mimeapps_existed=1

make_dir "$STATE_DIR"
make_dir "$APPS"
make_dir "$MIME/packages"
make_dir "$ICONS/scalable/apps"
for s in $ICON_SIZES; do make_dir "$ICONS/${s}x$s/apps"; done

# Desktop entry: every Exec= runs the chosen command with the key's own arguments.
EXEC_LINE=$EXEC TRYEXEC_LINE=$(string_value "$TRYEXEC") awk '
    /^Exec=ckpt-browser-gui/ { sub(/^Exec=ckpt-browser-gui/, ""); print "Exec=" ENVIRON["EXEC_LINE"] $0; next }
    /^TryExec=/ { print "TryExec=" ENVIRON["TRYEXEC_LINE"]; next }
    { print }
' "$HERE/$DESKTOP_NAME" > "$APPS/$DESKTOP_NAME.new"
chmod 644 "$APPS/$DESKTOP_NAME.new"
mv -- "$APPS/$DESKTOP_NAME.new" "$APPS/$DESKTOP_NAME"

# MIME types (what `xdg-mime install --mode user` does, without its vendor-name checks).
cp -- "$HERE/$MIME_XML_NAME" "$MIME/packages/$MIME_XML_NAME"
chmod 644 "$MIME/packages/$MIME_XML_NAME"

# Icons
cp -- "$ROOT/resources/icons/$APP_ID.svg" "$ICONS/scalable/apps/$APP_ID.svg"
for s in $ICON_SIZES; do
    png=$ROOT/resources/icons/png/$APP_ID-$s.png
    if [ -f "$png" ]; then cp -- "$png" "$ICONS/${s}x$s/apps/$APP_ID.png"; fi
done

refresh_mime
refresh_desktop_db
refresh_icons

# Defaults: the model file types open with the app. Folders only list it under "Open With":
# if the desktop entry made it the folders' default (xdg-mime falls back to the first
# application listing a type, and the user's own applications come first), pin the
# previous default so that folders keep opening in the file manager.
pinned=
if [ "$SET_DEFAULTS" = 1 ]; then
    make_dir "$CONFIG"
    # shellcheck disable=SC2086
    set_default "$DESKTOP_NAME" $DEFAULT_TYPES
    if [ "$(default_for "$FOLDER")" = "$DESKTOP_NAME" ]; then
        if [ -n "$folder_before" ] && [ "$folder_before" != "$DESKTOP_NAME" ]; then
            set_default "$folder_before" "$FOLDER"
            pinned=$folder_before
        else
            say "warning: no other application opens folders, so folders now open in Checkpoint Browser"
        fi
    fi
fi

{
    echo "# Checkpoint Browser's desktop integration: what install.sh --uninstall undoes"
    printf '%s\n' "$CREATED" | sed '/^$/d'
    echo "created-mimeapps=$((1 - mimeapps_existed))"
    [ -z "$pinned" ] || echo "pinned-folder-default=$pinned"
} > "$STATE"

say "installed for $(id -un 2>/dev/null || echo this user) into $DATA"
say "runs: $(sed -n 's/^Exec=//p' "$APPS/$DESKTOP_NAME" | head -n 1)"
