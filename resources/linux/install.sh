#!/bin/sh
# Install (or remove) Lookalike from the unpacked Linux tarball, for one user or system-wide.
#
#   ./install.sh                   copy to ~/.local/opt/Lookalike, add the menu entry, the icon
#                                  and ~/.local/bin/lookalike (the command line)
#   sudo ./install.sh --system     the same under /opt/Lookalike and /usr/local
#   ./install.sh --uninstall       remove all of that again (your library is kept)
#   ./install.sh --uninstall --purge   also delete your library, cache and settings
#
# Nothing here needs a network connection; the script only copies files.
set -eu

APP_ID=io.github.lookalike.Lookalike
HERE=$(cd "$(dirname "$0")" && pwd)
SYSTEM=0; UNINSTALL=0; PURGE=0
for arg in "$@"; do
    case $arg in
        --system) SYSTEM=1 ;;
        --uninstall) UNINSTALL=1 ;;
        --purge) PURGE=1 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
    esac
done

if [ $SYSTEM = 1 ]; then
    APPDIR=/opt/Lookalike; PREFIX=/usr/local
else
    APPDIR=$HOME/.local/opt/Lookalike; PREFIX=$HOME/.local
fi
SHARE=$PREFIX/share
SIZES="16 24 32 48 64 128 256 512"

refresh() {  # the desktop's caches; harmless where the tools are missing
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$SHARE/applications" 2>/dev/null || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1; then
        gtk-update-icon-cache -q -t "$SHARE/icons/hicolor" 2>/dev/null || true
    fi
}

if [ $UNINSTALL = 1 ]; then
    rm -rf "$APPDIR"
    rm -f "$PREFIX/bin/lookalike" "$SHARE/applications/$APP_ID.desktop" \
          "$SHARE/metainfo/$APP_ID.metainfo.xml" "$SHARE/icons/hicolor/scalable/apps/$APP_ID.svg"
    for s in $SIZES; do rm -f "$SHARE/icons/hicolor/${s}x${s}/apps/$APP_ID.png"; done
    refresh
    DATA=${XDG_DATA_HOME:-$HOME/.local/share}/Lookalike
    CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/Lookalike
    CONFIG=${XDG_CONFIG_HOME:-$HOME/.config}/Lookalike
    if [ $PURGE = 1 ]; then
        rm -rf "$DATA" "$CACHE" "$CONFIG"
        echo "Lookalike removed, with its library, cache and settings."
    else
        echo "Lookalike removed. Your library, cache and settings are still in"
        echo "  $DATA  $CACHE  $CONFIG"
        echo "(./install.sh --uninstall --purge, or delete them yourself)"
    fi
    exit 0
fi

if [ ! -x "$HERE/Lookalike" ] || [ ! -d "$HERE/_internal" ]; then
    echo "install.sh: run me from the unpacked Lookalike folder" >&2
    exit 1
fi
RES=$HERE/_internal/resources

if [ "$HERE" != "$(readlink -f "$APPDIR" 2>/dev/null || echo "$APPDIR")" ]; then
    rm -rf "$APPDIR.new"
    mkdir -p "$(dirname "$APPDIR")"
    cp -a "$HERE" "$APPDIR.new"
    rm -rf "$APPDIR"
    mv "$APPDIR.new" "$APPDIR"
fi

mkdir -p "$PREFIX/bin" "$SHARE/applications" "$SHARE/metainfo" \
         "$SHARE/icons/hicolor/scalable/apps"
ln -sf "$APPDIR/lookalike-cli" "$PREFIX/bin/lookalike"
sed -e "s|^Exec=Lookalike|Exec=\"$APPDIR/Lookalike\"|" -e "s|^TryExec=Lookalike|TryExec=$APPDIR/Lookalike|" \
    "$RES/linux/$APP_ID.desktop" > "$SHARE/applications/$APP_ID.desktop"
cp "$RES/linux/$APP_ID.metainfo.xml" "$SHARE/metainfo/"
cp "$RES/icons/lookalike.svg" "$SHARE/icons/hicolor/scalable/apps/$APP_ID.svg"
for s in $SIZES; do
    mkdir -p "$SHARE/icons/hicolor/${s}x${s}/apps"
    cp "$RES/icons/lookalike-$s.png" "$SHARE/icons/hicolor/${s}x${s}/apps/$APP_ID.png"
done
refresh
echo "Lookalike installed in $APPDIR"
echo "  menu entry: $SHARE/applications/$APP_ID.desktop"
echo "  command:    $PREFIX/bin/lookalike (is $PREFIX/bin on your PATH?)"
