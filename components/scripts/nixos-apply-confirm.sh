#!/usr/bin/env bash
# Run over a NEW SSH connection once the activation job waits: the confirmation that the deployer can
# still reach the host. Then waits for the job to make the configuration the boot default, and prints
# the verification report.
# Inputs: STATE_DIR CONFIRM_TOKEN
set -euo pipefail
export LC_ALL=C

run_dir="$STATE_DIR/apply"
token=$CONFIRM_TOKEN
[ -f "$run_dir/status-$token" ] || { echo "no activation job $token on this host" >&2; exit 1; }
status=$(cat "$run_dir/status-$token")
if [ "$status" != awaiting-confirmation ] && [ "$status" != done ]; then
  echo "too late to confirm activation job $token: $status: $(cat "$run_dir/result-$token" 2>/dev/null)" >&2
  exit 1
fi
echo confirmed >"$run_dir/confirm-$token"
shown=$(wc -l <"$run_dir/log-$token")
while :; do
  status=$(cat "$run_dir/status-$token")
  case $status in done|rolled-back|rollback-failed) break ;; esac
  sleep 0.2
done
tail -n +"$((shown + 1))" "$run_dir/log-$token"
if [ "$status" != done ]; then
  echo "$(cat "$run_dir/result-$token")" >&2
  exit 1
fi
echo "result: $(cat "$run_dir/result-$token")"
echo "report: $(tr -d '\n' <"$run_dir/report-$token.json")"
# Keep the last few jobs' files for inspection.
ls -1t "$run_dir"/status-* 2>/dev/null | tail -n +6 | sed 's/.*status-//' | while read -r old; do
  rm -f "$run_dir"/*-"$old" "$run_dir"/*-"$old".*
done
