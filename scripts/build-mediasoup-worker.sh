#!/usr/bin/env bash
# Build mediasoup's C++ worker (mediasoup-worker) with no internet access, against
# Debian's libraries, cache it, and install it where the mediasoup runtime looks
# for it: node_modules/mediasoup/worker/out/Release/mediasoup-worker.
#
# Why this exists: mediasoup's postinstall first downloads a prebuilt worker from
# GitHub, then falls back to a meson build that downloads every C++ dependency
# (abseil, openssl, libuv, libsrtp3, flatbuffers, ...) from GitHub / wrapdb. With
# only the npm registry, Debian apt and a local pip mirror reachable, both fail
# (and npm 11 may skip the postinstall altogether). So we build from the sources
# shipped in node_modules/mediasoup/worker, replacing each downloaded subproject
# with a small wrapper around the Debian package (scripts/mediasoup-worker/).
# Background: /work/shared/notes/mediasoup-offline-build.md.
#
# Usage: scripts/build-mediasoup-worker.sh [--force]
#   --force   rebuild even when the cache has a binary (e.g. after editing
#             scripts/mediasoup-worker/, which is not part of the cache key)
#
# Environment:
#   LIVE_COMMERCE_CACHE              cache root (default: $HOME/.cache/live-commerce)
#   MEDIASOUP_WORKER_JOBS=N          parallel compile jobs (default: ninja's choice)
#   MEDIASOUP_WORKER_KEEP_BUILD=1    keep the build tree after a successful build
#   MEDIASOUP_WORKER_CHECK=0         do not smoke-test the new binary (no Node here)
#
# Logs go to stderr; the last line on stdout is the installed binary's path.
# Supported: Debian 12 (bookworm) and 13 (trixie); needs root (or passwordless
# sudo) only when Debian packages are missing. Compiling takes 5-9 min on 2 cores.

set -euo pipefail

log() { printf 'build-mediasoup-worker: %s\n' "$*" >&2; }
die() {
	printf 'build-mediasoup-worker: ERROR: %s\n' "$*" >&2
	exit 1
}

FORCE=0
for arg in "$@"; do
	case "$arg" in
		--force) FORCE=1 ;;
		-h | --help)
			sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
			exit 0
			;;
		*) die "unknown argument: $arg (see --help)" ;;
	esac
done

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
SUPPORT_DIR="$SCRIPT_DIR/mediasoup-worker"
MEDIASOUP_DIR="$REPO_ROOT/node_modules/mediasoup"
# Where mediasoup's runtime looks for the worker when MEDIASOUP_WORKER_BIN is unset.
RUNTIME_BIN="$MEDIASOUP_DIR/worker/out/Release/mediasoup-worker"
CHECK_SCRIPT="$SCRIPT_DIR/check-mediasoup-worker.mjs"

# ---------------------------------------------------------------------------
# What to build: the installed mediasoup version on this OS release.
# ---------------------------------------------------------------------------

[[ -f "$MEDIASOUP_DIR/package.json" && -f "$MEDIASOUP_DIR/worker/meson.build" ]] ||
	die "mediasoup is not installed in $MEDIASOUP_DIR (run 'npm ci' first)"
# MEDIASOUP_WORKER_CHECK=0: skip the smoke test (the image's worker stage has no Node and no
# mediasoup JS; its runtime stage runs the check instead, against the runtime libraries).
CHECK_WORKER="${MEDIASOUP_WORKER_CHECK:-1}"
if [[ "$CHECK_WORKER" != 0 ]]; then
	command -v node >/dev/null || die "node is not on PATH (needed to test the worker; MEDIASOUP_WORKER_CHECK=0 skips that)"
fi

MS_VERSION="$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' \
	"$MEDIASOUP_DIR/package.json")" || die "could not read mediasoup's version (python3 needed)"
[[ "$MS_VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-.+][0-9A-Za-z.-]+)?$ ]] ||
	die "unexpected mediasoup version '$MS_VERSION' in $MEDIASOUP_DIR/package.json"

[[ -r /etc/os-release ]] || die "/etc/os-release is missing: cannot tell which OS release to build for"
OS_ID="$(. /etc/os-release && printf '%s' "${ID:-}")"
OS_VERSION_ID="$(. /etc/os-release && printf '%s' "${VERSION_ID:-}")"
[[ -n "$OS_ID" && -n "$OS_VERSION_ID" ]] || die "/etc/os-release lacks ID or VERSION_ID"

# The binary links dynamically to the OS's libraries, so the cache is keyed by
# mediasoup version AND OS release.
BUILD_KEY="${MS_VERSION}-${OS_ID}${OS_VERSION_ID}"
CACHE_ROOT="${LIVE_COMMERCE_CACHE:-${HOME:?HOME is unset; set LIVE_COMMERCE_CACHE}/.cache/live-commerce}"
WORK_ROOT="$CACHE_ROOT/mediasoup-worker"
CACHE_DIR="$WORK_ROOT/$BUILD_KEY"
CACHED_BIN="$CACHE_DIR/mediasoup-worker"
# Debian packages owning the libraries the cached binary links to (recorded at
# build time; the right names per release, e.g. trixie's libuv1t64/libssl3t64).
RUNTIME_PACKAGES_FILE="$CACHE_DIR/runtime-packages.txt"
BUILD_ROOT="$WORK_ROOT/build-$BUILD_KEY"

mkdir -p "$WORK_ROOT"

# One build at a time per cache (parallel CI jobs, two shells, ...).
exec 9>"$WORK_ROOT/.lock"
if ! flock -n 9; then
	log "another build holds $WORK_ROOT/.lock; waiting for it"
	flock 9
fi

# Temporary files to remove however we exit.
TMP_FILES=()
cleanup() {
	local status=$?
	if ((${#TMP_FILES[@]})); then rm -f -- "${TMP_FILES[@]}"; fi
	if ((status != 0)) && [[ -d "$BUILD_ROOT" ]]; then
		log "failed (exit $status); the build tree is kept for inspection: $BUILD_ROOT"
	fi
}
trap cleanup EXIT

# ---------------------------------------------------------------------------
# Debian packages.
# ---------------------------------------------------------------------------

pkg_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -qx 'install ok installed'
}

APT_UPDATED=0
# ensure_packages PKG...: install the missing ones (dpkg check first, so reruns
# touch neither the network nor the apt lock).
ensure_packages() {
	command -v dpkg-query >/dev/null || die "dpkg-query not found: only Debian is supported"
	local missing=() p
	for p in "$@"; do
		pkg_installed "$p" || missing+=("$p")
	done
	((${#missing[@]})) || return 0

	local sudo=()
	if ((EUID != 0)); then
		if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
			sudo=(sudo -n)
		else
			die "missing Debian packages: ${missing[*]} -- run as root, or install them: sudo apt-get install -y ${missing[*]}"
		fi
	fi

	log "installing Debian packages: ${missing[*]}"
	# Wait for another apt/dpkg run instead of failing on its lock.
	local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600)
	if ((APT_UPDATED == 0)); then
		"${apt[@]}" update || die "apt-get update failed"
		APT_UPDATED=1
	fi
	"${apt[@]}" install -y --no-install-recommends "${missing[@]}" ||
		die "apt-get install failed for: ${missing[*]}"

	for p in "${missing[@]}"; do
		pkg_installed "$p" || die "package $p is still not installed after apt-get install"
	done
}

# missing_libs BIN: sonames the dynamic loader cannot resolve for BIN.
missing_libs() {
	{ ldd "$1" 2>/dev/null || true; } | awk '/=> not found/ { print $1 }'
}

# runtime_packages BIN: Debian packages that own the shared libraries BIN loads.
runtime_packages() {
	local lib real candidate pkg
	ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | while read -r lib; do
		real="$(readlink -f "$lib")"
		pkg=""
		# With merged /usr, dpkg may know a library under /lib or /usr/lib only.
		for candidate in "$lib" "$real" "/usr$lib" "/usr$real" "${lib#/usr}" "${real#/usr}"; do
			pkg="$(dpkg-query -S "$candidate" 2>/dev/null | head -n1 | cut -d: -f1)" || true
			if [[ -n "$pkg" ]]; then break; fi
		done
		if [[ -n "$pkg" ]]; then
			printf '%s\n' "$pkg"
		else
			log "WARNING: no Debian package owns $lib"
		fi
	done | sort -u
}

# Build dependencies. The -dev names are the same on Debian 12 and 13 (only the
# runtime libraries they pull in carry trixie's t64 suffix). mediasoup 3.27 has
# its own SCTP stack and no liburing, so no libusrsctp-dev / liburing-dev.
BUILD_PACKAGES=(
	build-essential pkg-config python3 python3-venv ninja-build
	libuv1-dev libssl-dev libabsl-dev libsrtp2-dev libflatbuffers-dev
	flatbuffers-compiler
)
case "$OS_ID:$OS_VERSION_ID" in
	debian:12) ;; # meson 1.0.1 is too old (mediasoup needs >= 1.1): pip venv below
	debian:13) BUILD_PACKAGES+=(meson) ;; # meson 1.7: new enough
	*) log "WARNING: untested OS '$OS_ID $OS_VERSION_ID' (tested: Debian 12, 13); trying anyway" ;;
esac

# ---------------------------------------------------------------------------
# Subprojects: every .wrap mediasoup ships must have an offline replacement.
# Checked before anything is installed or compiled, so a new mediasoup version
# with a new dependency fails at once with a clear message.
# ---------------------------------------------------------------------------

# subproject_action NAME -> wrapper | pkgconfig | skip | unknown
subproject_action() {
	case "$1" in
		# Only for mediasoup's C++ tests / Windows builds, never for the worker on Linux.
		catch2 | wingetopt) echo skip ;;
		# Found through dependency('unordered_dense') -> our .pc alias.
		unordered-dense | unordered_dense) echo pkgconfig ;;
		*) if [[ -f "$SUPPORT_DIR/subprojects/$1/meson.build" ]]; then echo wrapper; else echo unknown; fi ;;
	esac
}

check_subprojects() {
	local wrap name found=0
	for wrap in "$MEDIASOUP_DIR/worker/subprojects/"*.wrap; do
		[[ -e "$wrap" ]] || continue
		found=1
		name="$(basename "$wrap" .wrap)"
		[[ "$(subproject_action "$name")" != unknown ]] ||
			die "mediasoup $MS_VERSION needs subproject '$name', which has no offline wrapper: add scripts/mediasoup-worker/subprojects/$name/ (see the others)"
	done
	((found)) || die "no subprojects/*.wrap in $MEDIASOUP_DIR/worker: mediasoup's build layout changed, review this script"
}

# ---------------------------------------------------------------------------
# meson >= 1.1 and ninja: the system's if new enough, else a venv in the cache
# filled from the local pip mirror.
# ---------------------------------------------------------------------------

MESON_MIN=1.1.0
meson_ok() {
	local v
	v="$("$1" --version 2>/dev/null)" || return 1
	[[ "$(printf '%s\n' "$MESON_MIN" "$v" | sort -V | head -n1)" == "$MESON_MIN" ]]
}

ensure_meson() {
	# Per OS release: a venv is tied to the system Python it was made with.
	local venv="$WORK_ROOT/venv-${OS_ID}${OS_VERSION_ID}"
	if command -v meson >/dev/null && meson_ok meson; then
		MESON="$(command -v meson)"
	elif [[ -x "$venv/bin/meson" ]] && meson_ok "$venv/bin/meson"; then
		MESON="$venv/bin/meson"
	else
		log "system meson is missing or older than $MESON_MIN: creating a venv at $venv"
		# Debian's python3 (python3-venv), not whatever python3 a version manager puts first.
		local python=/usr/bin/python3
		[[ -x "$python" ]] || die "$python not found (Debian package python3)"
		rm -rf "$venv"
		"$python" -m venv "$venv" || die "could not create a Python venv at $venv (python3-venv installed?)"
		# pip's own configuration names the mirror; with pypi.org unreachable,
		# fewer retries keep it from stalling on the default index.
		"$venv/bin/pip" install --quiet --retries 1 "meson>=$MESON_MIN" ninja || {
			rm -rf "$venv"
			die "pip could not install meson/ninja into $venv (is the local pip mirror configured?)"
		}
		meson_ok "$venv/bin/meson" || die "the venv's meson is still older than $MESON_MIN"
		MESON="$venv/bin/meson"
	fi
	# meson runs ninja from PATH: prefer the venv's when there is one.
	if [[ -x "$venv/bin/ninja" ]]; then PATH="$venv/bin:$PATH"; fi
	command -v ninja >/dev/null || die "ninja not found (Debian package ninja-build)"
	log "using meson $("$MESON" --version) ($MESON), ninja $(ninja --version)"
}

# ---------------------------------------------------------------------------
# The build.
# ---------------------------------------------------------------------------

build_worker() {
	local src="$BUILD_ROOT/worker" out="$BUILD_ROOT/out" started=$SECONDS

	check_subprojects
	ensure_packages "${BUILD_PACKAGES[@]}"
	ensure_meson

	# Fresh copy of the sources each time: node_modules stays pristine and no
	# half-patched tree from an earlier failed run is reused.
	log "preparing sources in $src"
	rm -rf "$BUILD_ROOT"
	mkdir -p "$src"
	tar -C "$MEDIASOUP_DIR/worker" --exclude=./out -cf - . | tar -C "$src" -xf -

	# Swap every downloadable subproject for its Debian-backed wrapper.
	local wrap name
	for wrap in "$src/subprojects/"*.wrap; do
		name="$(basename "$wrap" .wrap)"
		rm -f "$wrap"
		if [[ "$(subproject_action "$name")" == wrapper ]]; then
			rm -rf "${src:?}/subprojects/$name"
			cp -R "$SUPPORT_DIR/subprojects/$name" "$src/subprojects/$name"
		fi
	done
	cp -R "$SUPPORT_DIR/unordered_dense" "$BUILD_ROOT/unordered_dense"

	# Debian's kTLS-enabled libssl crashes the unpatched worker at the first
	# DTLS ServerHello (see the patch script). The patch script itself fails if
	# the code changed shape; double-check the marker anyway.
	/usr/bin/python3 "$SUPPORT_DIR/patch-dtls-ktls.py" "$src/src/RTC/DtlsTransport.cpp" >&2
	grep -q 'LIVE_COMMERCE_KTLS_PATCH' "$src/src/RTC/DtlsTransport.cpp" ||
		die "the kTLS patch is not in DtlsTransport.cpp after patching"

	local meson_args=(
		--wrap-mode=nodownload # never try the network; a missing wrapper must fail
		--buildtype release
		-Db_ndebug=true
		"-Dpkg_config_path=$BUILD_ROOT/unordered_dense/pkgconfig"
	)
	# Older mediasoup versions (3.19) have liburing, which Debian 12's is too old for.
	if grep -q "option('ms_disable_liburing'" "$src/meson_options.txt"; then
		meson_args+=(-Dms_disable_liburing=true)
	fi
	local jobs=()
	if [[ -n "${MEDIASOUP_WORKER_JOBS:-}" ]]; then jobs=(-j "$MEDIASOUP_WORKER_JOBS"); fi

	log "configuring: meson setup ${meson_args[*]}"
	"$MESON" setup "$out" "$src" "${meson_args[@]}" >&2 || die "meson setup failed"
	# Generate the flatbuffers headers first: every worker source includes them.
	log "generating flatbuffers headers"
	"$MESON" compile -C "$out" "${jobs[@]}" flatbuffers-generator >&2 ||
		die "building the flatbuffers-generator target failed"
	log "compiling mediasoup-worker (5-9 minutes on 2 cores)"
	"$MESON" compile -C "$out" "${jobs[@]}" mediasoup-worker >&2 ||
		die "compiling the mediasoup-worker target failed"

	local built="$out/mediasoup-worker"
	[[ -x "$built" ]] || die "the build finished but $built does not exist"
	local missing
	missing="$(missing_libs "$built")"
	[[ -z "$missing" ]] || die "the built worker has unresolved libraries: $missing"

	# Do not cache a binary that cannot run a router and a WebRtcTransport.
	if [[ "$CHECK_WORKER" != 0 ]]; then
		log "smoke-testing the new binary"
		MEDIASOUP_WORKER_BIN="$built" node "$CHECK_SCRIPT" >&2 ||
			die "the freshly built worker failed $CHECK_SCRIPT; not caching it"
	else
		log "MEDIASOUP_WORKER_CHECK=0: not smoke-testing the new binary here"
	fi

	# Into the cache atomically: copy under a temporary name, then rename. The
	# binary goes last, as its presence is what marks the cache entry valid.
	mkdir -p "$CACHE_DIR"
	local tmp_bin="$CACHE_DIR/.mediasoup-worker.tmp.$$"
	local tmp_pkgs="$CACHE_DIR/.runtime-packages.tmp.$$"
	local tmp_info="$CACHE_DIR/.build-info.tmp.$$"
	TMP_FILES+=("$tmp_bin" "$tmp_pkgs" "$tmp_info")
	cp "$built" "$tmp_bin"
	chmod 0755 "$tmp_bin"
	runtime_packages "$tmp_bin" >"$tmp_pkgs"
	{
		echo "mediasoup $MS_VERSION on $OS_ID $OS_VERSION_ID ($(uname -m))"
		echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $((SECONDS - started)) s with meson $("$MESON" --version)"
		echo "libraries: $(pkg-config --modversion libuv openssl libsrtp2 flatbuffers absl_base | paste -sd' ') (libuv openssl libsrtp2 flatbuffers abseil)"
	} >"$tmp_info"
	mv -f "$tmp_pkgs" "$RUNTIME_PACKAGES_FILE"
	mv -f "$tmp_info" "$CACHE_DIR/build-info.txt"
	mv -f "$tmp_bin" "$CACHED_BIN"

	if [[ "${MEDIASOUP_WORKER_KEEP_BUILD:-0}" != 1 ]]; then rm -rf "$BUILD_ROOT"; fi
	log "built mediasoup-worker $MS_VERSION in $(((SECONDS - started) / 60))m$(((SECONDS - started) % 60))s"
}

# ---------------------------------------------------------------------------
# Main.
# ---------------------------------------------------------------------------

if ((FORCE == 0)) && [[ -x "$CACHED_BIN" ]]; then
	log "cached: $CACHED_BIN"
	# A cache restored onto a fresh machine (CI) may lack the runtime libraries.
	if [[ -n "$(missing_libs "$CACHED_BIN")" ]]; then
		[[ -s "$RUNTIME_PACKAGES_FILE" ]] ||
			die "$CACHED_BIN misses libraries ($(missing_libs "$CACHED_BIN" | paste -sd' ')) and $RUNTIME_PACKAGES_FILE is absent; rerun with --force"
		mapfile -t runtime_pkgs <"$RUNTIME_PACKAGES_FILE"
		ensure_packages "${runtime_pkgs[@]}"
		missing="$(missing_libs "$CACHED_BIN")"
		[[ -z "$missing" ]] || die "$CACHED_BIN still misses libraries: $missing"
	fi
else
	log "building mediasoup-worker $MS_VERSION for $OS_ID $OS_VERSION_ID (cache: $CACHE_DIR)"
	build_worker
fi

# Install where the runtime finds it with no MEDIASOUP_WORKER_BIN. A copy rather
# than a symlink, so clearing the cache cannot break an installed tree.
if [[ -f "$RUNTIME_BIN" && ! -L "$RUNTIME_BIN" ]] && cmp -s "$CACHED_BIN" "$RUNTIME_BIN"; then
	log "already installed: $RUNTIME_BIN"
else
	mkdir -p "$(dirname "$RUNTIME_BIN")"
	tmp_runtime="$RUNTIME_BIN.tmp.$$"
	TMP_FILES+=("$tmp_runtime")
	cp "$CACHED_BIN" "$tmp_runtime"
	chmod 0755 "$tmp_runtime"
	mv -f "$tmp_runtime" "$RUNTIME_BIN"
	log "installed: $RUNTIME_BIN"
fi

printf '%s\n' "$RUNTIME_BIN"
