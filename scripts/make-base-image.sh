#!/usr/bin/env bash
# A debian:bookworm-slim look-alike for machines that reach Debian's packages but no image
# registry: debootstrap (minbase) into a temp dir, trim it the way the official slim image is
# trimmed (no docs, man pages or locales; apt keeps no package lists or .debs), and import it
# under the name the Dockerfile's FROM uses. Skipped when that image already exists.
# Needs root, debootstrap and podman. Usage: scripts/make-base-image.sh [image-name]
set -euo pipefail
name="${1:-debian:bookworm-slim}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
if podman image exists "$name"; then echo "make-base-image: $name exists" >&2; exit 0; fi
root="$(mktemp -d /var/tmp/base-rootfs.XXXXXX)"
trap 'rm -rf "$root"' EXIT
echo "make-base-image: debootstrap bookworm from $mirror" >&2
debootstrap --variant=minbase bookworm "$root" "$mirror" >&2
# What the official slim image configures: dpkg skips docs/man/locales from now on, apt keeps
# no caches and installs no recommends unless asked.
cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
CFG
printf 'APT::Install-Recommends "false";\n' >"$root/etc/apt/apt.conf.d/docker-no-recommends"
printf 'Acquire::GzipIndexes "true"; Acquire::CompressionTypes::Order:: "gz";\n' >"$root/etc/apt/apt.conf.d/docker-gzip-indexes"
# debootstrap writes only the main suite; add updates and security like the official image.
cat >"$root/etc/apt/sources.list" <<LIST
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
LIST
# Trim what was installed before the dpkg excludes existed.
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/{man,groff,info,lintian,linda}/* "$root"/var/cache/apt/archives/*.deb \
  "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/var/log/apt/*
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
tar -C "$root" --numeric-owner -c . | podman import --change 'CMD ["bash"]' - "$name" >&2
echo "make-base-image: imported $name ($(podman image inspect --format '{{.Size}}' "$name") bytes)" >&2
