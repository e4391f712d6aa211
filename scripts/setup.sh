#!/usr/bin/env bash
# One-time machine set-up: the system tools the pipeline uses, then the exact npm dependencies.
set -euo pipefail

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

# Debian/Ubuntu packages, installed only when missing (needs root or sudo).
install_debian_packages() {
  local missing=() package
  # package:command pairs (a command proves the package is there); ruby-* libraries are checked with dpkg.
  local wanted=(
    shellcheck:shellcheck curl:curl unzip:unzip
    # the real CodeDeploy agent (codedeploy-local) and the instance image it deploys to
    ruby:ruby systemd-container:systemd-nspawn debootstrap:debootstrap iproute2:ip
    # the blue/green rehearsal's load balancer, the SSH hop, the POSIX shells make_prediction.sh is tested under
    haproxy:haproxy openssh-server:sshd openssh-client:ssh dash:dash busybox:busybox
    # the model report's browser check
    chromium:chromium
  )
  for package in "${wanted[@]}"; do
    command -v "${package#*:}" >/dev/null || PATH="$PATH:/usr/sbin:/sbin" command -v "${package#*:}" >/dev/null || missing+=("${package%%:*}")
  done
  for package in ruby-minitar ruby-zip ruby-logging ruby-aws-sdk-core ruby-aws-sdk-s3 ruby-concurrent ruby-json; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  done
  ((${#missing[@]})) || return 0
  command -v apt-get >/dev/null || die "please install: ${missing[*]} (no apt-get on this machine)"
  local sudo=()
  [[ $(id -u) == 0 ]] || sudo=(sudo)
  log "installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Terraform is optional for the rehearsal (its plan stage says it is skipped) but the tests need it.
check_terraform() {
  if ! command -v terraform >/dev/null; then
    printf '[setup] WARNING: terraform is not on PATH: install Terraform >= 1.10 (https://developer.hashicorp.com/terraform/install).\n' >&2
    printf '[setup] WARNING: without it npm start skips the plan stage and npm test FAILS its infrastructure tests.\n' >&2
    return 0
  fi
  log "terraform $(terraform version -json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).terraform_version))')"
}

main() {
  cd "$(dirname "${BASH_SOURCE[0]}")/.."
  local node_major
  node_major=$(node -p 'process.versions.node.split(".")[0]')
  [[ $node_major == 20 || $node_major -ge 22 ]] || die "Node.js 20 or >= 22 is required, found $(node --version)"
  install_debian_packages
  check_terraform
  log "npm ci"
  npm ci --no-audit --no-fund
  # The fleet's Node.js (pinned, integrity-checked, cached outside the repository): the tests and
  # the rehearsal's instance run the service on it whatever this machine's node is.
  log "fleet Node.js: $(npx --no-install tsx scripts/fleet-node-cli.ts install)"
  log "ready: npm start (rehearse the pipeline), npm test (all tests)"
}

main "$@"
