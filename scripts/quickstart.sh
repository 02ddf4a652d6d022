#!/usr/bin/env bash
# One command on a fresh Debian/Ubuntu machine: install what fichfs needs, build it, and mount
# the demo account (the built-in 1fichier emulator; no account needed) on ~/fichfs-demo or $1.
# It runs in the foreground: use the mount from another terminal, stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
if ! dpkg -s libfuse2 fuse rsync ffmpeg attr python3 make g++ >/dev/null 2>&1; then
  $sudo apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libfuse2 fuse rsync ffmpeg attr python3 make g++
fi
npm ci
npm run build
exec node bin/fichfs.js demo "${1:-$HOME/fichfs-demo}"
