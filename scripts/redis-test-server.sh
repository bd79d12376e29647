#!/usr/bin/env bash
# Starts a throwaway redis-server for tests: loopback only, a free port, no persistence (no RDB, no AOF).
# Installs the Debian package first when redis-server is missing (apt-get update only if the install needs it).
#   scripts/redis-test-server.sh            start; prints REDIS_URL=redis://127.0.0.1:<port> and REDIS_PID=<pid>
#   scripts/redis-test-server.sh --install  only make sure redis-server is installed
#   scripts/redis-test-server.sh --stop PID stop a server this script started
set -euo pipefail

ensure_installed() {
  if command -v redis-server >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    echo "redis-server is missing and this user cannot install it (needs root or sudo)" >&2
    return 1
  fi
  local SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends redis-server >/dev/null 2>&1 ||
    { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends redis-server >/dev/null; }
  command -v redis-server >/dev/null 2>&1
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

case "${1:-}" in
  --install)
    ensure_installed
    exit $?
    ;;
  --stop)
    kill "${2:?usage: --stop PID}"
    exit 0
    ;;
esac

ensure_installed
PORT="${REDIS_PORT:-$(free_port)}"
DIR="$(mktemp -d)"
redis-server --bind 127.0.0.1 --port "$PORT" --save "" --appendonly no --protected-mode yes \
  --dir "$DIR" --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log"
for _ in $(seq 1 50); do
  if redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null | grep -q PONG; then
    echo "REDIS_URL=redis://127.0.0.1:$PORT"
    echo "REDIS_PID=$(cat "$DIR/redis.pid")"
    exit 0
  fi
  sleep 0.1
done
echo "redis-server did not answer on 127.0.0.1:$PORT; log: $DIR/redis.log" >&2
exit 1
