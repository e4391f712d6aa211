#!/usr/bin/env bash
# AfterInstall: picks this deployment group's settings and installs the hardened systemd unit (written in local mode too, so it can be inspected).
set -euo pipefail
# shellcheck source=hooks/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# settings_file_for GROUP: the bundled config/<env>.env whose DEPLOYMENT_GROUP is GROUP.
settings_file_for() {
  local group="$1" file known=()
  for file in "$APP_DIR"/config/*.env; do
    [[ -f "$file" ]] || continue
    local declared
    declared="$(sed -n 's/^DEPLOYMENT_GROUP=//p' "$file")"
    if [[ "$declared" == "$group" ]]; then
      echo "$file"
      return 0
    fi
    if [[ -n "$declared" ]]; then
      known+=("$declared")
    fi
  done
  die "unknown deployment group '$group': this revision has settings for $(IFS=,; echo "${known[*]:-no group at all}")"
}

write_service_env() {
  local source_file="$1"
  mkdir -p "$ETC_DIR"
  {
    cat "$source_file"
    echo "MODEL_DIR=$APP_DIR/app/model"
    # The service reports which revision it runs (config/revision.env's REVISION_VERSION).
    echo "REVISION_ID=$REVISION_VERSION"
    if [[ "$SERVICE_MANAGER" == process ]]; then
      # Local target: loopback only, on the port the caller found free (LOCAL_PORT); /metrics on any free port, so
      # that local targets side by side on one host do not contend for the environment's METRICS_PORT.
      echo "HOST=127.0.0.1"
      echo "PORT=${LOCAL_PORT:?local mode needs LOCAL_PORT}"
      echo "METRICS_PORT=0"
    fi
  } >"$SERVICE_ENV.tmp"
  mv -f "$SERVICE_ENV.tmp" "$SERVICE_ENV"
  chmod 0644 "$SERVICE_ENV"
}

# write_unit: renders hooks/app.service.in (the hardened unit) with this revision's paths.
write_unit() {
  mkdir -p "$(dirname "$UNIT_FILE")"
  sed -e "s|@APP_NAME@|$APP_NAME|g" -e "s|@APP_DIR@|$APP_DIR|g" -e "s|@SERVICE_USER@|$SERVICE_USER|g" \
    -e "s|@SERVICE_ENV@|$SERVICE_ENV|g" -e "s|@NODE@|$(node_bin)|g" -e "s|@STOP_TIMEOUT@|$STOP_TIMEOUT_SECONDS|g" \
    -e "s|@REVISION@|$REVISION_VERSION|g" -e "s|@MODEL@|$MODEL_VERSION|g" \
    "$BUNDLE_DIR/hooks/app.service.in" >"$UNIT_FILE.tmp"
  if grep -q '@[A-Z_]*@' "$UNIT_FILE.tmp"; then
    die "unit template has unreplaced placeholders: $(grep -o '@[A-Z_]*@' "$UNIT_FILE.tmp" | sort -u | tr '\n' ' ')"
  fi
  mv -f "$UNIT_FILE.tmp" "$UNIT_FILE"
  chmod 0644 "$UNIT_FILE"
}

# link_make_prediction: `sh make_prediction.sh` in the application folder, and make_prediction.sh
# on PATH, both pointing at this revision's copy (which finds its model's manifest beside it).
link_make_prediction() {
  local script="$APP_DIR/app/bin/make_prediction.sh" bin_dir="$DEPLOY_ROOT/usr/local/bin"
  [[ -f "$script" ]] || die "$script is missing from this revision"
  ln -sfn app/bin/make_prediction.sh "$APP_DIR/make_prediction.sh"
  mkdir -p "$bin_dir"
  ln -sfn "$script" "$bin_dir/make_prediction.sh"
  log "make_prediction.sh: $APP_DIR/make_prediction.sh and $bin_dir/make_prediction.sh -> $script"
}

main() {
  local group="${DEPLOYMENT_GROUP_NAME:?DEPLOYMENT_GROUP_NAME is not set (the CodeDeploy agent sets it)}"
  local settings
  settings="$(settings_file_for "$group")"
  write_service_env "$settings"
  write_unit
  link_make_prediction
  log "settings for $group from ${settings##*/} -> $SERVICE_ENV"
  if [[ "$SERVICE_MANAGER" == systemd ]]; then
    systemctl daemon-reload
    systemctl enable "$APP_NAME.service"
  fi
  log "unit $UNIT_FILE written ($SERVICE_MANAGER)"
}

main "$@"
