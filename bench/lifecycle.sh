#!/bin/sh
# Prints the lifecycle figures of the wifibox binary given (default
# build/wifibox) next to their bounds; see bench/lifecycle/main.go.
set -eu
cd "$(dirname "$0")/.."
exec go run ./bench/lifecycle "${1:-build/wifibox}"
