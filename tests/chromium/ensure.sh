#!/usr/bin/env bash
# Makes a headless Chromium available without root and prints the absolute path of a runnable
# binary on stdout (and nothing else there; progress goes to stderr).
#
#   "$(tests/chromium/ensure.sh)" --headless --no-sandbox --disable-gpu \
#       --screenshot=/tmp/x.png --window-size=1280,2000 file:///tmp/report.html
#
# Order of preference:
#   1. $TRAILHOUND_CHROMIUM, if set and executable;
#   2. `chromium` (or `chromium-browser`) already on PATH;
#   3. a private copy of Debian's chromium under ~/.cache/trailhound/chromium
#      (override with TRAILHOUND_CHROMIUM_PREFIX), installed on first use: the packages that
#      `apt-get install chromium` would add (as apt's own resolver computes them, simulated, so
#      no root), downloaded with `apt-get download`, unpacked with `dpkg -x`, and started
#      through a small wrapper script that sets LD_LIBRARY_PATH to the unpacked library dirs.
#
# Idempotent (a finished prefix is reused as is) and safe to run concurrently: installs are
# serialized by a lock directory, built in a staging dir and moved into place in one rename.
set -euo pipefail

log() { printf 'ensure-chromium: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [[ -n "${TRAILHOUND_CHROMIUM:-}" && -x "${TRAILHOUND_CHROMIUM}" ]]; then
    printf '%s\n' "$(cd "$(dirname "$TRAILHOUND_CHROMIUM")" && pwd)/$(basename "$TRAILHOUND_CHROMIUM")"
    exit 0
fi

for name in chromium chromium-browser; do
    if p=$(command -v "$name" 2>/dev/null) && [[ -n "$p" && "$p" == /* ]]; then
        printf '%s\n' "$p"
        exit 0
    fi
done

PREFIX="${TRAILHOUND_CHROMIUM_PREFIX:-$HOME/.cache/trailhound/chromium}"
PREFIX="${PREFIX%/}"
WRAPPER="$PREFIX/bin/chromium"
case "$PREFIX" in
    /*) ;;
    *) die "prefix must be absolute: $PREFIX" ;;
esac
case "$PREFIX" in
    *\'* | *\"* | *\\* | *\$* | *\`*) die "prefix has quote characters: $PREFIX" ;;
esac

ready() { [[ -x "$WRAPPER" && -f "$PREFIX/.complete" ]]; }

if ready; then
    printf '%s\n' "$WRAPPER"
    exit 0
fi

for tool in apt-get dpkg dpkg-query; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (a Debian-like system is needed)"
done

parent=$(dirname "$PREFIX")
mkdir -p "$parent"

# --- lock ------------------------------------------------------------------------------------
LOCK="$PREFIX.lock"
stage=""
cleanup() {
    [[ -n "$stage" && -d "$stage" ]] && rm -rf "$stage"
    # Only the holder removes the lock.
    if [[ -f "$LOCK/pid" && "$(cat "$LOCK/pid" 2>/dev/null)" == "$$" ]]; then
        rm -rf "$LOCK"
    fi
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

waited=0
until mkdir "$LOCK" 2>/dev/null; do
    holder=$(cat "$LOCK/pid" 2>/dev/null || true)
    if [[ -n "$holder" ]] && ! kill -0 "$holder" 2>/dev/null; then
        # The holder died without cleaning up: take the lock over (one of the waiters wins
        # the rename; the others go on waiting).
        log "removing stale lock of dead process $holder"
        mv "$LOCK" "$LOCK.stale.$$" 2>/dev/null && rm -rf "$LOCK.stale.$$"
        continue
    fi
    if [[ -z "$holder" ]] && (( waited >= 10 )); then
        # A lock dir without a pid for 10 s: its creator died between mkdir and writing it.
        log "removing lock without owner"
        mv "$LOCK" "$LOCK.stale.$$" 2>/dev/null && rm -rf "$LOCK.stale.$$"
        continue
    fi
    (( waited % 15 == 0 )) && log "waiting for another install (pid ${holder:-?}) to finish"
    (( waited >= 900 )) && die "gave up waiting for lock $LOCK"
    sleep 1
    waited=$((waited + 1))
done
echo "$$" >"$LOCK/pid"

if ready; then # somebody else finished it while we waited
    printf '%s\n' "$WRAPPER"
    exit 0
fi

# --- which packages --------------------------------------------------------------------------
started=$(date +%s)
stage=$(mktemp -d "$PREFIX.stage.XXXXXX")
mkdir -p "$stage/debs" "$stage/root" "$stage/bin"

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'
}

# A fresh system may have no package lists (container images delete them): fetch them into a
# private folder, without root, and point every apt call at it.
APT_OPTS=(-o Debug::NoLocking=1)
if ! apt-cache show chromium >/dev/null 2>&1; then
    log "no package lists know chromium: running apt-get update into $PREFIX.apt"
    mkdir -p "$PREFIX.apt/lists/partial" "$PREFIX.apt/cache/archives/partial"
    APT_OPTS+=(-o "Dir::State::Lists=$PREFIX.apt/lists" -o "Dir::Cache=$PREFIX.apt/cache"
        -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=")
    apt-get "${APT_OPTS[@]}" update >&2 || die "apt-get update failed (is the Debian mirror reachable?)"
fi

# apt's own resolver, simulated (works without root): exactly what `apt-get install` would add,
# with one pick per alternative.
pkgs=$(apt-get -s "${APT_OPTS[@]}" install --no-install-recommends chromium 2>/dev/null \
    | awk '$1 == "Inst" { print $2 }' || true)
if [[ -z "$pkgs" ]]; then
    # Fallback: every (recursive) dependency that dpkg does not have installed. Downloads more
    # than needed (all alternatives), but works where the simulation refuses.
    log "apt-get -s gave nothing; falling back to apt-cache depends --recurse"
    pkgs=$(apt-cache "${APT_OPTS[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts \
        --no-breaks --no-replaces --no-enhances chromium 2>/dev/null \
        | grep -E '^[a-z0-9]' | grep -v ':' | sort -u \
        | while read -r p; do installed "$p" || echo "$p"; done)
fi
grep -qx chromium <<<"$pkgs" || pkgs="$pkgs"$'\n'chromium

# A system without any font renders boxes: bring one along.
if ! compgen -G '/usr/share/fonts/*/*' >/dev/null && ! compgen -G '/usr/share/fonts/*/*/*' >/dev/null; then
    pkgs="$pkgs"$'\n'fonts-dejavu-core
fi
# shellcheck disable=SC2086
set -- $pkgs
log "downloading $# packages: $*"

# --- download and unpack ---------------------------------------------------------------------
(
    cd "$stage/debs"
    if ! apt-get "${APT_OPTS[@]}" download "$@" >&2; then
        log "batch download failed; trying one by one"
        for p in "$@"; do
            ls "${p}"_*.deb >/dev/null 2>&1 || apt-get "${APT_OPTS[@]}" download "$p" >&2 || log "could not download $p (skipped)"
        done
    fi
)
compgen -G "$stage/debs/chromium_*.deb" >/dev/null || die "chromium .deb was not downloaded (is the Debian mirror reachable? try: apt-get update)"

for deb in "$stage"/debs/*.deb; do
    dpkg -x "$deb" "$stage/root"
done
rm -rf "$stage/debs"

real="usr/lib/chromium/chromium"
[[ -x "$stage/root/$real" ]] || die "no $real in the chromium package"

# --- wrapper ---------------------------------------------------------------------------------
# Library dirs: every unpacked dir holding a shared object, as final (post-rename) paths.
libdirs=$(cd "$stage/root" && find . \( -name '*.so' -o -name '*.so.*' \) \( -type f -o -type l \) -printf '%h\n' \
    | sed 's|^\./||' | sort -u | sed "s|^|$PREFIX/root/|" | paste -sd: -)

fontdirs=""
[[ -d "$stage/root/usr/share/fonts" ]] && fontdirs="<dir>$PREFIX/root/usr/share/fonts</dir>"
cat >"$stage/fonts.conf" <<EOF
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  <dir>/usr/share/fonts</dir>
  $fontdirs
  <cachedir>$PREFIX/fontcache</cachedir>
</fontconfig>
EOF

cat >"$stage/bin/chromium" <<EOF
#!/bin/sh
# Generated by tests/chromium/ensure.sh: Debian's chromium unpacked without root.
export LD_LIBRARY_PATH='$libdirs'"\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export FONTCONFIG_FILE='$PREFIX/fonts.conf'
exec '$PREFIX/root/$real' "\$@"
EOF
chmod 755 "$stage/bin/chromium"
date -u +%Y-%m-%dT%H:%M:%SZ >"$stage/.complete"

# Check it starts before publishing it (through the staged libs: the wrapper names final paths).
if ! LD_LIBRARY_PATH="$(sed "s|$PREFIX/root|$stage/root|g" <<<"$libdirs")" \
    "$stage/root/$real" --version >&2; then
    missing=$(LD_LIBRARY_PATH="$(sed "s|$PREFIX/root|$stage/root|g" <<<"$libdirs")" \
        ldd "$stage/root/$real" 2>/dev/null | grep 'not found' || true)
    die "unpacked chromium does not start${missing:+; missing libraries:
$missing}"
fi

# --- publish ---------------------------------------------------------------------------------
rm -rf "$PREFIX"
mv "$stage" "$PREFIX"
stage=""
log "installed in $PREFIX in $(( $(date +%s) - started )) s"
printf '%s\n' "$WRAPPER"
