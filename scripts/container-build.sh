#!/usr/bin/env bash
# Build the Dockerfile without a Docker engine and run the test suite inside the image:
#  1. debootstrap a minimal Debian 13 (trixie) root file system (once, cached);
#  2. `podman import` it as the base image debian:trixie-slim;
#  3. `podman build --isolation=chroot` the Dockerfile;
#  4. `buildah run --isolation=chroot` `make test` inside the built image.
# Usage (as root): scripts/container-build.sh [COMMAND...]   (default COMMAND: make test)
# Environment: ROOTFS (default /var/tmp/fpsolve-trixie-rootfs), IMAGE (default localhost/fpsolve).
set -euo pipefail
cd "$(dirname "$0")/.."
rootfs=${ROOTFS:-/var/tmp/fpsolve-trixie-rootfs}
image=${IMAGE:-localhost/fpsolve}
base=docker.io/library/debian:trixie-slim
cmd=("$@"); [ ${#cmd[@]} -gt 0 ] || cmd=(make test)

for tool in debootstrap podman buildah; do
  command -v $tool >/dev/null || { echo "container-build: $tool is missing (apt-get install $tool)" >&2; exit 2; }
done
mirror=$( (cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true) \
         | awk '/^(URIs:|deb) / && $2 !~ /security/ {print $2; exit}')
mirror=${mirror:-http://deb.debian.org/debian}

if [ ! -x "$rootfs/usr/bin/apt-get" ]; then
  echo "container-build: debootstrap trixie into $rootfs" >&2
  rm -rf "$rootfs"
  debootstrap --variant=minbase trixie "$rootfs" "$mirror" > "$rootfs.log" 2>&1 \
    || { echo "container-build: debootstrap failed, see $rootfs.log" >&2; exit 1; }
  echo "deb $mirror trixie main" > "$rootfs/etc/apt/sources.list"
fi
if ! podman image exists "$base"; then
  echo "container-build: podman import $rootfs as $base" >&2
  tar -C "$rootfs" -c . | podman import - "$base"
fi
echo "container-build: podman build --isolation=chroot -t $image" >&2
podman build --isolation=chroot --pull=never -t "$image" -f Dockerfile .
echo "container-build: buildah run --isolation=chroot: ${cmd[*]}" >&2
ctr=$(buildah from --pull-never "$image")
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
buildah run --isolation=chroot "$ctr" -- "${cmd[@]}"
