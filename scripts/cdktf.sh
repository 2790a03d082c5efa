#!/bin/sh
# Runs the cdktf CLI for the npm scripts without the red [ERROR] blocks a fresh machine otherwise shows:
# - cdktf posts telemetry to checkpoint-api.hashicorp.com and logs "[ERROR] ... getaddrinfo ENOTFOUND" where that
#   host is unreachable: CHECKPOINT_DISABLE turns the call off (Terraform honours the same variable).
# - cdktf runs `terraform version -json` when a terraform binary is on PATH and logs its stderr as [ERROR]; Terraform
#   warns there whenever TF_CLI_CONFIG_FILE names a file that does not exist. Then point it at an empty file: the
#   same empty CLI configuration Terraform falls back to, without the warning. An existing file is left alone.
set -eu
CHECKPOINT_DISABLE=1
export CHECKPOINT_DISABLE
if [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -e "$TF_CLI_CONFIG_FILE" ]; then
  mkdir -p .tmp
  : >.tmp/empty.terraformrc
  TF_CLI_CONFIG_FILE="$PWD/.tmp/empty.terraformrc"
  export TF_CLI_CONFIG_FILE
fi
exec cdktf "$@"
