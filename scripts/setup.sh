#!/usr/bin/env bash
# Installs what bv-edge needs on Debian 12 with Node 20 when it is missing, and does nothing
# when it is all there. That is GStreamer with the decoders for H.264 MP4, MPEG-4 MOV and GIF, the
# headers that gstreamer-superficial compiles against; mosquitto, sqlite3, openssl, socat,
# shellcheck and Chromium for the tests (the page is tested in Debian's Chromium, never a
# downloaded browser); then the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

debian_packages=(
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-libav
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev pkg-config
  mosquitto sqlite3 openssl socat shellcheck chromium fonts-noto-cjk
)

missing=()
for package in "${debian_packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done
if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages: ${missing[*]}. Run this as root, or install them with apt-get." >&2
    exit 1
  fi
  echo "setup: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# mosquitto's Debian package starts a system broker on port 1883; the tests start their own on
# free ports, so the system one is left as it is.

# onnxruntime-node's postinstall downloads CUDA and TensorRT provider libraries from outside the
# npm registry. CPU inference needs none of them; GPU carts get them from deploy/.
export ONNXRUNTIME_NODE_INSTALL=skip
stamp=node_modules/.bv-edge-installed
if [[ ! -f $stamp || package-lock.json -nt $stamp ]]; then
  echo "setup: npm ci (compiles better-sqlite3 and gstreamer-superficial, about two minutes)"
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
