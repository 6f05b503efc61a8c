#!/usr/bin/env bash
# regtest-nodes.sh: start or stop the local nodes of docs/getting-started.md, for a trial.
#
#   regtest-nodes.sh start [DIR]   bcoin (regtest) on 127.0.0.1:48332 and anvil on
#                                  127.0.0.1:8545, in the background; their logs and process
#                                  ids go to DIR (default ./nodes); returns once both answer
#   regtest-nodes.sh stop [DIR]    stops the two processes started with that DIR
#
# The same nodes, with the same flags, as the tests and `por demo` run (chains/nodes/):
# bcoin 1.0.2 through por's launcher (Bitcoin Core's regtest addresses, the address index,
# in memory: its chain is gone when it stops) and anvil with its state cache inside DIR.
# Environment: POR_SRC, a clone of por after `make demo` or `npm ci --ignore-scripts`
# (default: the clone this script is in); BCOIN_API_KEY (required: bcoin's API key, read
# from the environment so it never shows in the process list); BTC_PORT and ETH_PORT to
# use other ports.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="${POR_SRC:-$(cd "$here/../.." && pwd)}"
btc_port="${BTC_PORT:-48332}"
eth_port="${ETH_PORT:-8545}"
action="${1:-}"
dir="${2:-nodes}"

die() { echo "regtest-nodes.sh: $*" >&2; exit 1; }

# one JSON-RPC call answered with HTTP 200 (bash's /dev/tcp: no curl needed)
answers() {
    local port="$1" body="$2" auth="${3:-}" header="" status
    [[ -z "$auth" ]] || header="Authorization: Basic $auth"$'\r\n'
    { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
    printf 'POST / HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s' \
        "$header" "${#body}" "$body" >&3
    IFS= read -r status <&3 || status=""
    exec 3>&-
    [[ "$status" == *" 200 "* ]]
}

wait_for() {
    local name="$1" port="$2" body="$3" auth="${4:-}"
    for _ in $(seq 120); do
        if answers "$port" "$body" "$auth"; then return 0; fi
        if ! kill -0 "$(cat "$dir/$name.pid")" 2>/dev/null; then
            die "$name exited; its log: $dir/$name.log"
        fi
        sleep 0.25
    done
    die "$name does not answer on 127.0.0.1:$port; its log: $dir/$name.log"
}

start() {
    [[ -n "${BCOIN_API_KEY:-}" ]] || die "set BCOIN_API_KEY first (e.g. export BCOIN_API_KEY=\$(openssl rand -hex 32))"
    [[ -x "$src/node_modules/.bin/anvil" && -d "$src/node_modules/bcoin" ]] ||
        die "no node_modules in $src: run \`npm ci --ignore-scripts\` there (make demo does)"
    for name in bcoin anvil; do
        if [[ -f "$dir/$name.pid" ]] && kill -0 "$(cat "$dir/$name.pid")" 2>/dev/null; then
            die "$name is already running (pid $(cat "$dir/$name.pid")): regtest-nodes.sh stop $dir"
        fi
    done
    mkdir -p "$dir/bcoin" "$dir/anvil-cache"
    dir="$(cd "$dir" && pwd)"
    NODE_BACKEND=js NODE_PATH="$src/node_modules" setsid node "$src/chains/nodes/bcoin-regtest.js" \
        --network=regtest --memory=true --index-tx=true --index-address=true \
        --http-host=127.0.0.1 --http-port="$btc_port" --listen=false --workers=false \
        --log-console=true --log-level=warning --prefix="$dir/bcoin" \
        </dev/null >"$dir/bcoin.log" 2>&1 &
    echo $! >"$dir/bcoin.pid"
    setsid "$src/node_modules/.bin/anvil" --host 127.0.0.1 --port "$eth_port" --chain-id 31337 \
        --silent --cache-path "$dir/anvil-cache" </dev/null >"$dir/anvil.log" 2>&1 &
    echo $! >"$dir/anvil.pid"
    auth="$(printf 'por:%s' "$BCOIN_API_KEY" | base64 -w0)"
    wait_for bcoin "$btc_port" '{"method":"getblockcount","params":[],"id":1}' "$auth"
    wait_for anvil "$eth_port" '{"jsonrpc":"2.0","method":"eth_blockNumber","params":[],"id":1}'
    echo "bcoin (regtest) at http://127.0.0.1:$btc_port, anvil (chain id 31337) at http://127.0.0.1:$eth_port"
    echo "stop them with: $here/regtest-nodes.sh stop $dir"
}

stop() {
    local name pid
    for name in bcoin anvil; do
        [[ -f "$dir/$name.pid" ]] || continue
        pid="$(cat "$dir/$name.pid")"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$dir/$name.pid"
    done
}

case "$action" in
    start) start ;;
    stop) stop ;;
    *) die "usage: regtest-nodes.sh start|stop [DIR]" ;;
esac
