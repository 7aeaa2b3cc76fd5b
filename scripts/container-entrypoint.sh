#!/bin/sh
# The image's entry point: the first argument names the process to run.
set -eu
case "${1:-}" in
  router) exec node dist/router/main.js ;;
  auth | media | conversion | notification) exec node "dist/subgraphs/$1/main.js" ;;
  worker) exec node dist/worker/main.js ;;
  *)
    echo "usage: <image> router|auth|media|conversion|notification|worker" >&2
    exit 64
    ;;
esac
