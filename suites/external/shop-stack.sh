#!/bin/sh
# Starts and stops the shop (shop.py) behind nginx, as a deployment script would: one
# instance per port and nginx in front, their pids, logs and nginx's files in
# $SESSIONBENCH_DIR (the directory sessionbench gives a target's commands).
#
#   shop-stack.sh start LB_PORT round-robin|ip-hash PORT... [SESSIONS_DIR [CACHE_S]]
#   shop-stack.sh stop
#
# With SESSIONS_DIR the instances share sessions through files there (an external store),
# each keeping what it read for CACHE_S seconds if given; without it each keeps its own in
# memory. From the environment:
#   SHOP_LISTEN=ADDR   where nginx listens (default 127.0.0.1; the instances stay on loopback)
#   SHOP_TLS_DIR=DIR   nginx serves HTTPS with DIR/cert.pem and DIR/key.pem
#   SHOP_CSRF=1        the login form carries a CSRF token (and cookies are Secure with TLS)
#   SHOP_FLAGS=...     more shop.py flags for every instance (e.g. --logout-local)
set -eu
d="${SESSIONBENCH_DIR:?set by sessionbench: where this target keeps its files}"
here="$(cd "$(dirname "$0")" && pwd)"

case "${1:-}" in
start)
    [ $# -ge 4 ] || { echo "usage: $0 start LB_PORT POLICY PORT... [SESSIONS_DIR [CACHE_S]]" >&2; exit 2; }
    lb=$2 policy=$3
    shift 3
    ports=""
    while [ $# -gt 0 ] && [ -n "$1" ] && [ -z "$(printf %s "$1" | tr -d 0-9)" ]; do
        ports="$ports $1"
        shift
    done
    sessions=${1:-} cache=${2:-0}
    listen=${SHOP_LISTEN:-127.0.0.1}
    flags=""
    scheme=http ssl="" certs=""
    if [ -n "${SHOP_TLS_DIR:-}" ]; then
        scheme=https ssl=" ssl"
        certs="ssl_certificate $SHOP_TLS_DIR/cert.pem; ssl_certificate_key $SHOP_TLS_DIR/key.pem;"
        flags="--secure"
    fi
    [ "${SHOP_CSRF:-}" = 1 ] && flags="$flags --csrf"
    flags="$flags ${SHOP_FLAGS:-}"
    case $policy in
    round-robin) balance="" ;;
    ip-hash) balance="ip_hash;" ;;
    *) echo "unknown policy $policy (round-robin or ip-hash)" >&2; exit 2 ;;
    esac
    for program in nginx python3 curl; do
        command -v $program > /dev/null || { echo "$program is not installed (ci/setup installs it)" >&2; exit 127; }
    done
    servers=""
    i=0
    for port in $ports; do
        i=$((i + 1))
        if [ -n "$sessions" ]; then
            python3 "$here/shop.py" --name "app$i" --port "$port" --sessions "$sessions" --cache "$cache" $flags > "$d/app$i.log" 2>&1 &
        else
            python3 "$here/shop.py" --name "app$i" --port "$port" $flags > "$d/app$i.log" 2>&1 &
        fi
        echo $! > "$d/app$i.pid"
        servers="$servers server 127.0.0.1:$port max_fails=1 fail_timeout=2s;"
    done
    # nginx's health check is passive: an instance still starting when the first requests
    # come is marked failed and skipped, so wait for each one first.
    for port in $ports; do
        tries=0
        until curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2> /dev/null; do
            tries=$((tries + 1))
            [ $tries -lt 100 ] || { echo "the shop on port $port did not start; see $d" >&2; exit 1; }
            sleep 0.1
        done
    done
    mkdir -p "$d/nginx"
    cat > "$d/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $d/nginx/nginx.pid;
error_log $d/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $d/nginx/client_body;
    proxy_temp_path $d/nginx/proxy;
    fastcgi_temp_path $d/nginx/fastcgi;
    uwsgi_temp_path $d/nginx/uwsgi;
    scgi_temp_path $d/nginx/scgi;
    upstream shop { $balance $servers keepalive 32; }
    server {
        listen $listen:$lb$ssl;
        $certs
        location / {
            proxy_pass http://shop;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_connect_timeout 1s;
            proxy_read_timeout 5s;
        }
    }
}
CONF
    nginx -p "$d/nginx" -c "$d/nginx/nginx.conf" > "$d/nginx.log" 2>&1 &
    echo $! > "$d/nginx.pid"
    # Ready when nginx answers (its certificate is the caller's to judge: -k).
    tries=0
    until curl -fsSk -o /dev/null "$scheme://$listen:$lb/healthz" 2> /dev/null; do
        tries=$((tries + 1))
        [ $tries -lt 100 ] || { echo "nginx on $listen:$lb did not start; see $d/nginx.log" >&2; exit 1; }
        sleep 0.1
    done
    ;;
stop)
    for f in "$d"/*.pid; do
        [ -e "$f" ] && kill "$(cat "$f")" 2> /dev/null || true
    done
    ;;
*)
    echo "usage: $0 start|stop ..." >&2
    exit 2
    ;;
esac
