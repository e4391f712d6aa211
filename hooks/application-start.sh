#!/usr/bin/env bash
# ApplicationStart: starts the service and returns at once; ValidateService decides whether it works.
set -euo pipefail
# shellcheck source=hooks/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  load_service_env
  service_start
  log "started $APP_NAME revision $REVISION_VERSION on port $PORT ($SERVICE_MANAGER)"
}

main "$@"
