#!/usr/bin/env bash
# Shared by every lifecycle hook: paths, settings, log/die/retry/wait_for_http, and the one switch between systemd and a local process.
# shellcheck shell=bash
# shellcheck disable=SC2034 # the paths and settings below are used by the hooks that source this file

# ---------------------------------------------------------------------------------------------
# THE switch. DEPLOY_ROOT unset or empty: a real instance (systemd, root, /opt, /etc, a system
# user). DEPLOY_ROOT set to a directory: a local target (the rehearsal, CI): every path lives
# under it, nothing needs root, and a detached process with a pid file stands in for the unit.
# Nothing else in the hooks looks at how they are run.
# ---------------------------------------------------------------------------------------------
DEPLOY_ROOT="${DEPLOY_ROOT:-}"
if [[ -n "$DEPLOY_ROOT" ]]; then
  SERVICE_MANAGER=process
else
  SERVICE_MANAGER=systemd
fi
readonly DEPLOY_ROOT SERVICE_MANAGER

BUNDLE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REVISION_ENV="$BUNDLE_DIR/config/revision.env"
if [[ ! -f "$REVISION_ENV" ]]; then
  echo "[hook] ERROR: $REVISION_ENV is missing: this bundle was not built by npm run bundle" >&2
  exit 1
fi
# APP_NAME, REVISION_VERSION, GIT_COMMIT, MODEL_VERSION: written by the bundler.
# shellcheck source=/dev/null
source "$REVISION_ENV"
: "${APP_NAME:?config/revision.env does not set APP_NAME}"

APP_DIR="$DEPLOY_ROOT/opt/$APP_NAME"          # the appspec's files destinations live here
ETC_DIR="$DEPLOY_ROOT/etc/$APP_NAME"          # settings chosen by AfterInstall
SERVICE_ENV="$ETC_DIR/service.env"
UNIT_FILE="$DEPLOY_ROOT/etc/systemd/system/$APP_NAME.service"
STATE_DIR="$DEPLOY_ROOT/var/lib/$APP_NAME"    # local mode: pid file
LOG_DIR="$DEPLOY_ROOT/var/log/$APP_NAME"      # local mode: service output
PID_FILE="$STATE_DIR/service.pid"
LOG_FILE="$LOG_DIR/service.log"
SERVICE_USER="$APP_NAME"
STOP_TIMEOUT_SECONDS=30
readonly BUNDLE_DIR REVISION_ENV APP_DIR ETC_DIR SERVICE_ENV UNIT_FILE STATE_DIR LOG_DIR PID_FILE LOG_FILE SERVICE_USER STOP_TIMEOUT_SECONDS

log() { printf '[%s] %s: %s\n' "$(date -u +%H:%M:%S)" "${LIFECYCLE_EVENT:-hook}" "$*"; }
warn() { log "WARNING: $*" >&2; }
die() {
  log "ERROR: $*" >&2
  exit 1
}

# retry ATTEMPTS DELAY_SECONDS COMMAND...: runs COMMAND until it succeeds, at most ATTEMPTS times.
retry() {
  local attempts="$1" delay="$2" n=1
  shift 2
  until "$@"; do
    if ((n >= attempts)); then
      return 1
    fi
    n=$((n + 1))
    sleep "$delay"
  done
}

# wait_for_http URL TIMEOUT_SECONDS: waits for a 200 from URL. Gives up early when the service
# process is gone, so that a service that crashed at start fails in seconds, not at the timeout.
wait_for_http() {
  local url="$1" timeout="$2" deadline
  deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    if curl --silent --fail --max-time 2 --output /dev/null "$url"; then
      return 0
    fi
    if ! service_is_running; then
      warn "the service is not running while waiting for $url"
      return 1
    fi
    sleep 0.2
  done
  warn "no 200 from $url within ${timeout}s"
  return 1
}

# load_service_env: PORT, HOST, READY_PATH... as AfterInstall chose them for this group.
load_service_env() {
  [[ -f "$SERVICE_ENV" ]] || die "$SERVICE_ENV is missing: AfterInstall has not run for this revision"
  set -a
  # shellcheck source=/dev/null
  source "$SERVICE_ENV"
  set +a
  : "${PORT:?$SERVICE_ENV does not set PORT}" "${READY_PATH:?$SERVICE_ENV does not set READY_PATH}"
}

node_bin() { command -v node || echo /usr/local/bin/node; }

service_is_running() {
  case "$SERVICE_MANAGER" in
    systemd)
      # activating (auto-restart) counts as not running: the process is gone.
      [[ "$(systemctl show --property=SubState --value "$APP_NAME.service" 2>/dev/null)" == running ]]
      ;;
    process)
      local pid
      [[ -f "$PID_FILE" ]] || return 1
      pid="$(<"$PID_FILE")"
      if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; then
        return 1
      fi
      # An exited process nobody has reaped yet (a zombie) answers kill -0 but is not running.
      if [[ -r "/proc/$pid/stat" ]]; then
        [[ "$(sed 's/^.*) //' "/proc/$pid/stat" | cut -d' ' -f1)" != Z ]]
      fi
      ;;
  esac
}

service_start() {
  case "$SERVICE_MANAGER" in
    systemd)
      systemctl restart "$APP_NAME.service"
      ;;
    process)
      # Like systemctl restart: never two copies fighting over the port.
      if service_is_running; then
        service_stop
      fi
      mkdir -p "$STATE_DIR" "$LOG_DIR"
      # One start per log file (the previous one kept as .1), so a failure shows this start's output.
      if [[ -f "$LOG_FILE" ]]; then
        mv -f "$LOG_FILE" "$LOG_FILE.1"
      fi
      # A subshell in the background is not a process-group leader, so setsid needs no fork
      # and $! is the service's pid. stdin/stdout/stderr are closed to the hook: the agent
      # waits for them, and an inherited pipe would hang the deployment.
      (
        set -a
        # shellcheck source=/dev/null
        source "$SERVICE_ENV"
        set +a
        cd "$APP_DIR/app" || exit 1
        exec setsid "$(node_bin)" "$APP_DIR/app/server.mjs" </dev/null >>"$LOG_FILE" 2>&1
      ) &
      echo "$!" >"$PID_FILE"
      ;;
  esac
}

service_stop() {
  case "$SERVICE_MANAGER" in
    systemd)
      if [[ -f "$UNIT_FILE" ]]; then
        # A unit that is not loaded (or already gone) is stopped as far as ApplicationStop cares.
        if ! systemctl stop "$APP_NAME.service" && service_is_running; then
          die "systemctl stop $APP_NAME.service failed and the service is still running"
        fi
      else
        log "no unit $UNIT_FILE: nothing to stop"
      fi
      ;;
    process)
      local pid
      if ! service_is_running; then
        log "no running service: nothing to stop"
        rm -f "$PID_FILE"
        return 0
      fi
      pid="$(<"$PID_FILE")"
      log "stopping pid $pid (SIGTERM, up to ${STOP_TIMEOUT_SECONDS}s)"
      kill -TERM "$pid" 2>/dev/null || true
      if ! retry $((STOP_TIMEOUT_SECONDS * 5)) 0.2 bash -c "! kill -0 $pid 2>/dev/null"; then
        warn "pid $pid ignored SIGTERM for ${STOP_TIMEOUT_SECONDS}s: killing its process group"
        kill -KILL -- "-$pid" 2>/dev/null || true
      fi
      rm -f "$PID_FILE"
      ;;
  esac
}

# service_logs N: the last N lines the service wrote, for failure reports.
service_logs() {
  case "$SERVICE_MANAGER" in
    systemd) journalctl --unit "$APP_NAME.service" --lines "$1" --no-pager 2>/dev/null || true ;;
    process) tail -n "$1" "$LOG_FILE" 2>/dev/null || true ;;
  esac
}
