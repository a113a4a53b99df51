#!/bin/sh
# Fetch a guest kernel for isobench's VM environment.
#
# Downloads Debian's linux-image-cloud-amd64 meta package, reads the versioned
# linux-image-*-cloud-amd64 package it depends on, downloads that and unpacks
# it (dpkg -x) into a cache directory. Prints the path of the vmlinuz on
# stdout (the only line on stdout). Idempotent: when a kernel is already
# unpacked in the cache, it prints it without touching the network.
#
# Cache: $ISOBENCH_CACHE/kernel, else /var/cache/isobench/kernel when
# writable, else ${XDG_CACHE_HOME:-$HOME/.cache}/isobench/kernel.
# isobench looks in the same places (src/vm/kernel.rs).
#
# Options: --force  download again even when a kernel is cached.
set -eu

force=0
for a in "$@"; do
    case "$a" in
        --force) force=1 ;;
        -h|--help)
            sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
            exit 0 ;;
        *) echo "fetch-kernel.sh: unknown option '$a'" >&2; exit 2 ;;
    esac
done

if [ -n "${ISOBENCH_CACHE:-}" ]; then
    cache="$ISOBENCH_CACHE/kernel"
elif mkdir -p /var/cache/isobench/kernel 2>/dev/null && [ -w /var/cache/isobench/kernel ]; then
    cache=/var/cache/isobench/kernel
else
    cache="${XDG_CACHE_HOME:-$HOME/.cache}/isobench/kernel"
fi
mkdir -p "$cache"

# The virtio modules a guest needs for a virtio-blk disk (fileio in the VM):
# Debian's cloud kernel builds virtio, its transports and virtio-blk as
# modules (CONFIG_VIRTIO_BLK=m); virtio-mmio serves microvm, virtio-pci q35.
# Load order, dependencies first (modinfo's depends=); src/vm/disk.rs keeps
# the same list.
VIRTIO_MODULES="virtio/virtio_ring virtio/virtio virtio/virtio_mmio virtio/virtio_pci_modern_dev virtio/virtio_pci_legacy_dev virtio/virtio_pci block/virtio_blk"

# The newest vmlinuz already unpacked in the cache with its virtio modules,
# if any (a cache from before the modules were kept is fetched again).
cached_kernel() {
    k=$(ls -1 "$cache"/root/boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
    [ -n "$k" ] || return 0
    rel=${k##*/vmlinuz-}
    for m in $VIRTIO_MODULES; do
        [ -r "$cache/root/lib/modules/$rel/kernel/drivers/$m.ko" ] || return 0
    done
    echo "$k"
}

if [ "$force" -eq 0 ]; then
    k=$(cached_kernel)
    if [ -n "$k" ] && [ -r "$k" ]; then
        echo "$k"
        exit 0
    fi
fi

for tool in apt-get dpkg-deb; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "fetch-kernel.sh: '$tool' not found; this script needs a Debian-like host." >&2
        echo "Otherwise pass any bzImage with --kernel PATH or ISOBENCH_KERNEL=PATH." >&2
        exit 1
    fi
done

work=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
cd "$work"
# apt-get download as root drops privileges to _apt, which must be able to
# write into the directory.
chmod 0777 "$work"

if ! apt-get download linux-image-cloud-amd64 >&2; then
    echo "fetch-kernel.sh: 'apt-get download linux-image-cloud-amd64' failed;" \
        "run 'apt-get update' first (and check the sources list)." >&2
    exit 1
fi
meta=$(ls -1 linux-image-cloud-amd64_*.deb | head -n 1)
# Depends: linux-image-6.1.0-41-cloud-amd64 (= 6.1.158-1)  -> the first
# alternative that names a versioned cloud image.
dep=$(dpkg-deb -f "$meta" Depends | tr ',|' '\n\n' | sed 's/^ *//; s/ .*//' \
    | grep -E '^linux-image-[0-9].*-cloud-amd64(-unsigned)?$' | head -n 1)
if [ -z "$dep" ]; then
    echo "fetch-kernel.sh: no versioned linux-image-*-cloud-amd64 in the" \
        "dependencies of $meta: $(dpkg-deb -f "$meta" Depends)" >&2
    exit 1
fi
apt-get download "$dep" >&2
deb=$(ls -1 "${dep}"_*.deb | head -n 1)

# Unpack into a fresh directory, then swap it in, so an interrupted run never
# leaves a half-unpacked kernel behind.
dpkg-deb -x "$deb" "$work/root"
k=$(ls -1 "$work"/root/boot/vmlinuz-* 2>/dev/null | head -n 1)
if [ -z "$k" ]; then
    echo "fetch-kernel.sh: $deb holds no /boot/vmlinuz-*" >&2
    exit 1
fi
# Only the kernel and the virtio-blk modules are needed (the initramfs is
# isobench's own; the cloud kernel has serial and devtmpfs built in, virtio
# as modules). Drop the other modules to save space.
rel=${k##*/vmlinuz-}
mods="$work/root/lib/modules/$rel/kernel/drivers"
keep="$work/keep"
for m in $VIRTIO_MODULES; do
    if [ ! -r "$mods/$m.ko" ]; then
        echo "fetch-kernel.sh: $deb holds no $m.ko (an uncompressed module is needed)" >&2
        exit 1
    fi
    mkdir -p "$keep/${m%/*}"
    cp "$mods/$m.ko" "$keep/$m.ko"
done
rm -rf "$work/root/lib" "$work/root/usr"
mkdir -p "$work/root/lib/modules/$rel/kernel"
mv "$keep" "$work/root/lib/modules/$rel/kernel/drivers"
rm -rf "$cache/root"
mv "$work/root" "$cache/root"
cached_kernel
