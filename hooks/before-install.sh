#!/usr/bin/env bash
# BeforeInstall: creates the service user (idempotent) and empties the files destinations so that Install never meets a file it did not put there.
set -euo pipefail
# shellcheck source=hooks/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_service_user() {
  if [[ "$SERVICE_MANAGER" != systemd ]]; then
    log "local target: the service runs as $(id -un), no system user"
    return 0
  fi
  if id -u "$SERVICE_USER" >/dev/null 2>&1; then
    log "system user $SERVICE_USER exists"
  else
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$SERVICE_USER"
    log "created system user $SERVICE_USER"
  fi
}

main() {
  ensure_service_user
  [[ "$APP_DIR" == */opt/"$APP_NAME" ]] || die "refusing to empty unexpected directory '$APP_DIR'"
  rm -rf -- "${APP_DIR:?}/app" "${APP_DIR:?}/config"
  mkdir -p -- "$APP_DIR"
  log "emptied $APP_DIR/app and $APP_DIR/config for revision $REVISION_VERSION"
}

main "$@"
