#!/usr/bin/env bash
# Unpack Debian's gvfs daemons (gvfsd, gvfsd-trash) and the GIO module that reaches them into
# DIR, without installing them: installed, they pull in systemd and udisks2, which the tests do
# not need. test/support/gvfs.ts runs them on a private D-Bus session bus when
# FICHFS_TEST_GVFS_ROOT=DIR, so that `gio trash --list/--restore/--empty` are tested for real.
set -euo pipefail
dir=$(realpath -m "${1:?usage: scripts/ci-gvfs.sh DIR}")
mkdir -p "$dir/debs"
cd "$dir/debs"
apt-get download gvfs gvfs-daemons gvfs-libs gvfs-common libgcr-base-3-1 libgck-1-0 libsecret-1-0
for deb in *.deb; do dpkg -x "$deb" "$dir"; done
test -x "$dir/usr/libexec/gvfsd-trash"
