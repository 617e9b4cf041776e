#!/usr/bin/env bash
# Installs bv-edge on an NVIDIA Jetson cart (JetPack 5 or 6, L4T, aarch64) from a checkout of this
# repository: Node 20, GStreamer with NVIDIA's hardware decoder plugins, the bv-edge user and
# folders, the configuration, the code with its npm packages, optionally onnxruntime with the
# CUDA and TensorRT providers, and the systemd units. Run it again at any time: each step checks
# first and changes only what differs, and every change is printed. docs/deploy.md explains the
# steps and how to build onnxruntime for the GPU.
#
#   sudo deploy/install-jetson.sh [--dry-run] [--kiosk] [--onnxruntime-dir DIR] [--no-start]
#
# --dry-run prints every action without changing anything; it also runs on other machines with
# --assume-arch aarch64.
set -euo pipefail

readonly PREFIX=/opt/bv-edge
readonly DATA_DIR=/var/lib/bv-edge
readonly CONFIG_DIR=/etc/bv-edge
readonly UNIT_DIR=/etc/systemd/system
readonly SERVICE_USER=bv-edge
readonly KIOSK_USER=bv-edge-kiosk
readonly NODE_MAJOR=20
# NodeSource's apt repository for Node 20 (https://github.com/nodesource/distributions).
readonly NODESOURCE_KEY_URL=https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key
readonly NODESOURCE_LIST="deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_${NODE_MAJOR}.x nodistro main"

source_dir="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
dry_run=0
kiosk=0
start=1
assume_arch=""
onnxruntime_dir=""
changes=0
units_changed=0

usage() {
  cat <<'USAGE'
Usage: install-jetson.sh [options]
  --dry-run              print every action without changing anything
  --assume-arch ARCH     take ARCH as the machine architecture (for a dry run elsewhere)
  --source DIR           bv-edge checkout to install (default: the one holding this script)
  --onnxruntime-dir DIR  onnxruntime build with the CUDA and TensorRT providers: the folder with
                         onnxruntime_binding.node, libonnxruntime.so.1 and
                         libonnxruntime_providers_{shared,cuda,tensorrt}.so (docs/deploy.md)
  --kiosk                also show the status page full screen on the touchscreen; this turns
                         the desktop's display manager off
  --no-start             install and enable the units, but do not start or restart them
  -h, --help             print this help
USAGE
}

log() { printf 'install: %s\n' "$*"; }
fail() {
  printf 'install: %s\n' "$*" >&2
  exit 1
}

# Runs a command that changes the system, or only prints it in a dry run.
change() {
  changes=$((changes + 1))
  if ((dry_run)); then
    printf 'install: [dry run] would run: %s\n' "$*"
  else
    printf 'install: running: %s\n' "$*"
    "$@"
  fi
}

# Writes stdin to FILE with MODE when the content differs; prints whether it changed.
write_file() {
  local file=$1 mode=$2 content
  content=$(cat)
  if [[ -f $file ]] && [[ "$(cat "$file")" == "$content" ]]; then
    log "$file is up to date"
    return
  fi
  changes=$((changes + 1))
  if ((dry_run)); then
    log "[dry run] would write $file (mode $mode, $(wc -l <<<"$content") lines):"
    printf '%s\n' "$content" | head -n 12 | sed 's/^/    /'
  else
    log "writing $file"
    install -D -m "$mode" /dev/stdin "$file" <<<"$content"
  fi
}

# Copies SOURCE to TARGET with MODE when they differ; returns 1 when nothing changed.
copy_file() {
  local source=$1 target=$2 mode=$3
  if [[ -f $target ]] && cmp -s "$source" "$target"; then
    log "$target is up to date"
    return 1
  fi
  change install -D -m "$mode" "$source" "$target"
}

package_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

parse_arguments() {
  while (($# > 0)); do
    case $1 in
      --dry-run) dry_run=1 ;;
      --kiosk) kiosk=1 ;;
      --no-start) start=0 ;;
      --assume-arch)
        (($# >= 2)) || fail "--assume-arch needs a value, e.g. aarch64"
        assume_arch=$2
        shift
        ;;
      --source)
        (($# >= 2)) || fail "--source needs a folder"
        source_dir=$(cd "$2" && pwd)
        shift
        ;;
      --onnxruntime-dir)
        (($# >= 2)) || fail "--onnxruntime-dir needs a folder"
        onnxruntime_dir=$2
        shift
        ;;
      -h | --help)
        usage
        exit 0
        ;;
      *)
        usage >&2
        fail "unknown option $1"
        ;;
    esac
    shift
  done
}

check_machine() {
  local arch=${assume_arch:-$(uname -m)}
  [[ $arch == aarch64 ]] || fail "this script is for Jetson carts (aarch64); this machine is $arch. Pass --dry-run --assume-arch aarch64 to only print the actions."
  if [[ -r /etc/nv_tegra_release ]]; then
    log "L4T release: $(head -n 1 /etc/nv_tegra_release)"
  elif ((dry_run)); then
    log "no /etc/nv_tegra_release: not a Jetson; continuing because this is a dry run"
  else
    fail "/etc/nv_tegra_release not found: this is not a Jetson with L4T (JetPack)"
  fi
  if ((!dry_run)) && ((EUID != 0)); then
    fail "run this as root (sudo), or pass --dry-run to only print the actions"
  fi
  [[ -f $source_dir/package.json && -f $source_dir/systemd/bv-edge.service ]] ||
    fail "$source_dir is not a bv-edge checkout; pass --source DIR"
}

install_packages() {
  # nvidia-l4t-gstreamer brings NVIDIA's GStreamer plugins (nvv4l2decoder, nvvidconv, nvv4l2camerasrc)
  # from the L4T apt repository that JetPack configures. build-essential and python3 compile
  # better-sqlite3 and gstreamer-superficial during npm ci.
  local packages=(
    ca-certificates curl gnupg sqlite3 build-essential python3 pkg-config rsync
    gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
    gstreamer1.0-plugins-bad gstreamer1.0-libav
    libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
    nvidia-l4t-gstreamer
  )
  if ((kiosk)); then packages+=(xinit xserver-xorg-core x11-xserver-utils chromium-browser); fi
  local missing=() package
  for package in "${packages[@]}"; do
    package_installed "$package" || missing+=("$package")
  done
  if ((${#missing[@]} == 0)); then
    log "Debian packages are installed"
    return
  fi
  log "missing packages: ${missing[*]}"
  change apt-get update
  change env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

install_node() {
  local version=""
  if command -v node >/dev/null; then version=$(node --version); fi
  if [[ $version == v${NODE_MAJOR}.* ]]; then
    log "Node $version is installed"
    return
  fi
  log "Node ${NODE_MAJOR} is missing (found: ${version:-none}); adding NodeSource's repository"
  if [[ ! -f /etc/apt/keyrings/nodesource.gpg ]]; then
    change install -d -m 0755 /etc/apt/keyrings
    change sh -c "curl -fsSL $NODESOURCE_KEY_URL | gpg --dearmor -o /etc/apt/keyrings/nodesource.gpg"
  fi
  write_file /etc/apt/sources.list.d/nodesource.list 0644 <<<"$NODESOURCE_LIST"
  change apt-get update
  change env DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs
}

create_user() {
  local user=$1 home=$2
  if id "$user" >/dev/null 2>&1; then
    log "user $user exists"
  else
    change useradd --system --user-group --home-dir "$home" --no-create-home \
      --shell /usr/sbin/nologin "$user"
  fi
}

add_to_group() {
  local user=$1 group=$2
  if id -nG "$user" 2>/dev/null | tr ' ' '\n' | grep -qx "$group"; then
    log "user $user is in group $group"
  else
    change usermod --append --groups "$group" "$user"
  fi
}

make_folder() {
  local dir=$1 mode=$2 owner=$3
  if [[ -d $dir ]] && [[ "$(stat -c '%a %U:%G' "$dir")" == "${mode#0} $owner" ]]; then
    log "$dir is in place"
  else
    change install -d -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$dir"
  fi
}

install_code() {
  # Code and packages belong to root, so the daemon cannot change what it runs. Excluded folders
  # are neither copied nor deleted on the cart.
  local rsync_args=(-a --delete --exclude=.git --exclude=node_modules --exclude=var
    "$source_dir/" "$PREFIX/")
  if [[ -d $PREFIX ]] && command -v rsync >/dev/null &&
    [[ -z "$(rsync --dry-run --itemize-changes "${rsync_args[@]}")" ]]; then
    log "code in $PREFIX is up to date"
  else
    change rsync "${rsync_args[@]}"
  fi
  if [[ -f $PREFIX/node_modules/.bv-edge-installed ]] &&
    [[ ! $PREFIX/package-lock.json -nt $PREFIX/node_modules/.bv-edge-installed ]]; then
    log "npm packages in $PREFIX are up to date"
  else
    # The tsx loader runs the TypeScript sources, so the dev dependencies stay. onnxruntime-node's
    # download of GPU providers only has x86_64 builds, so it is skipped here.
    change env --chdir="$PREFIX" ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
    change touch "$PREFIX/node_modules/.bv-edge-installed"
  fi
}

install_onnxruntime() {
  local binding_dir=$PREFIX/node_modules/onnxruntime-node/bin/napi-v6/linux/arm64
  if [[ -z $onnxruntime_dir ]]; then
    if [[ -f $binding_dir/libonnxruntime_providers_tensorrt.so ]]; then
      log "onnxruntime GPU providers are installed in $binding_dir"
    else
      log "no --onnxruntime-dir: inference runs on the CPU (docs/deploy.md shows how to build the GPU providers)"
    fi
    return
  fi
  local file
  for file in onnxruntime_binding.node libonnxruntime.so.1 libonnxruntime_providers_shared.so \
    libonnxruntime_providers_cuda.so libonnxruntime_providers_tensorrt.so; do
    [[ -f $onnxruntime_dir/$file ]] || fail "$onnxruntime_dir/$file not found; see docs/deploy.md"
    copy_file "$onnxruntime_dir/$file" "$binding_dir/$file" 0755 || true
  done
}

install_config() {
  # Fleet config-set writes a temporary file beside config.yaml and renames it over the old one,
  # so the service group may write the folder and the file. Secret files go in secrets/, which
  # the group may only read.
  make_folder "$CONFIG_DIR" 0770 "root:$SERVICE_USER"
  make_folder "$CONFIG_DIR/secrets" 0750 "root:$SERVICE_USER"
  local config=$CONFIG_DIR/config.yaml
  if [[ -f $config ]]; then
    log "$config exists and its settings are kept as they are"
  else
    # The example's commented dataDir and modelDir lines already name the cart's folders.
    sed -e 's|^# dataDir: |dataDir: |' -e 's|^# modelDir: |modelDir: |' \
      "$source_dir/deploy/bv-edge.example.yaml" |
      write_file "$config" 0660
  fi
  if [[ -f $config ]] && [[ "$(stat -c '%a %G' "$config")" == "660 $SERVICE_USER" ]]; then
    log "$config is writable by group $SERVICE_USER"
  else
    change chgrp "$SERVICE_USER" "$config"
    change chmod 0660 "$config"
  fi
}

install_units() {
  local unit
  for unit in bv-edge.service bv-edge-kiosk.service; do
    if copy_file "$source_dir/systemd/$unit" "$UNIT_DIR/$unit" 0644; then units_changed=1; fi
  done
  if ((kiosk)); then
    # Ubuntu's chromium-browser package is a snap; the unit runs /usr/bin/chromium.
    local browser
    browser=$(command -v chromium || command -v chromium-browser || echo /snap/bin/chromium)
    if [[ $browser != /usr/bin/chromium ]]; then
      units_changed=1
      write_file "$UNIT_DIR/bv-edge-kiosk.service.d/browser.conf" 0644 <<EOF
[Service]
ExecStart=
ExecStart=$(sed -n 's|^ExecStart=/usr/bin/xinit /usr/bin/chromium |/usr/bin/xinit '"$browser"' |p' "$source_dir/systemd/bv-edge-kiosk.service")
EOF
    fi
  fi
  if ((units_changed)); then change systemctl daemon-reload; fi
  if systemctl is-enabled --quiet bv-edge.service 2>/dev/null; then
    log "bv-edge.service is enabled"
  else
    change systemctl enable bv-edge.service
  fi
  if ((kiosk)); then
    if [[ "$(systemctl get-default 2>/dev/null)" != graphical.target ]]; then
      change systemctl set-default graphical.target
    fi
    if systemctl is-enabled --quiet display-manager.service 2>/dev/null; then
      change systemctl disable display-manager.service
    fi
    systemctl is-enabled --quiet bv-edge-kiosk.service 2>/dev/null ||
      change systemctl enable bv-edge-kiosk.service
  fi
}

check_config() {
  if ((dry_run)); then
    log "[dry run] would check $CONFIG_DIR/config.yaml with $PREFIX/bin/bv-edge config check"
    return
  fi
  log "checking $CONFIG_DIR/config.yaml"
  runuser -u "$SERVICE_USER" -- "$PREFIX/bin/bv-edge" config check "$CONFIG_DIR/config.yaml"
}

# Restarts the daemon when anything changed or it is not running.
start_units() {
  ((start)) || return 0
  if ((changes > 0)) || ! systemctl is-active --quiet bv-edge.service 2>/dev/null; then
    change systemctl restart bv-edge.service
  else
    log "bv-edge.service is running and nothing changed"
  fi
  if ((kiosk)) && ! systemctl is-active --quiet bv-edge-kiosk.service 2>/dev/null; then
    change systemctl restart bv-edge-kiosk.service
  fi
}

main() {
  parse_arguments "$@"
  ((dry_run)) && log "dry run: nothing is changed"
  check_machine
  install_packages
  install_node
  create_user "$SERVICE_USER" "$DATA_DIR"
  add_to_group "$SERVICE_USER" video
  if ((kiosk)); then
    create_user "$KIOSK_USER" "/var/lib/$KIOSK_USER"
    add_to_group "$KIOSK_USER" video
    add_to_group "$KIOSK_USER" input
  fi
  make_folder "$DATA_DIR" 0750 "$SERVICE_USER:$SERVICE_USER"
  install_code
  install_onnxruntime
  install_config
  install_units
  check_config
  start_units
  if ((dry_run)); then
    log "dry run finished: $changes changes would be made"
  else
    log "finished: $changes changes made. Status: systemctl status bv-edge; logs: journalctl -u bv-edge"
  fi
}

main "$@"
