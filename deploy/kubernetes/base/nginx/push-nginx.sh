#!/bin/sh
# push-nginx: nginx for the push cluster, for any number of nodes and a client count of your choice.
#
#   push-nginx.sh run       render the files below, then run nginx in the foreground and keep the
#                           node list current: a node that appears or goes is in nginx's balancing
#                           within PUSH_WATCH_SECONDS (a reload; open connections stay where they are)
#   push-nginx.sh render    render once and exit (the benchmark and the tests use this)
#
# It writes three files into PUSH_NGINX_GENERATED (default /etc/nginx/push), which nginx.conf and
# push-cluster.conf include:
#   main.conf    worker_processes and worker_rlimit_nofile
#   events.conf  worker_connections
#   nodes.conf   the session routing map ($push_upstream) and the upstream push_nodes of every node
#
# Limits, from one setting. PUSH_MAX_CLIENTS (default 10000) is how many clients this nginx must
# hold at once. Each holds two connections in nginx (its own and the one to its node); the listen
# socket is `reuseport`, so the kernel spreads connections evenly over the workers, and each worker
# gets its share with a quarter to spare, plus room for API requests and idle keep-alives. The
# start fails, saying what to change, when the container's file-descriptor limit cannot hold that.
#
# Nodes, from one of two sources:
#   PUSH_NODE_SOCKETS=/run/push   every <node id>.sock in that directory (one host: the nodes share
#                                 the directory with nginx, e.g. a Docker volume). A session id
#                                 "<node id>.<random>" is routed to <dir>/<node id>.sock.
#   PUSH_NODE_DNS=<name>          every address <name> resolves to, on PUSH_NODE_PORT (default 3000)
#                                 (e.g. a Kubernetes headless Service of ready pods). A session id is
#                                 routed to <node id>.PUSH_SESSION_DOMAIN, resolved by the resolver
#                                 of /etc/resolv.conf (e.g. the pods' names under the StatefulSet's
#                                 headless Service).
set -eu

die() {
  echo "push-nginx: $*" >&2
  exit 1
}

is_count() {
  case $1 in
    '' | *[!0-9]*) return 1 ;;
    *) [ "$1" -ge 1 ] ;;
  esac
}

generated=${PUSH_NGINX_GENERATED:-/etc/nginx/push}
clients=${PUSH_MAX_CLIENTS:-10000}
workers=${PUSH_NGINX_WORKERS:-$(nproc)}
sockets=${PUSH_NODE_SOCKETS:-}
dns=${PUSH_NODE_DNS:-}
port=${PUSH_NODE_PORT:-3000}
session_domain=${PUSH_SESSION_DOMAIN:-}
watch_seconds=${PUSH_WATCH_SECONDS:-2}

is_count "$clients" || die "PUSH_MAX_CLIENTS must be a whole number of clients >= 1, not '$clients'"
is_count "$workers" || die "PUSH_NGINX_WORKERS must be a whole number >= 1, not '$workers'"
is_count "$port" || die "PUSH_NODE_PORT must be a port number, not '$port'"
is_count "$watch_seconds" || die "PUSH_WATCH_SECONDS must be a whole number >= 1, not '$watch_seconds'"
if [ -n "$sockets" ] && [ -n "$dns" ]; then
  die "set PUSH_NODE_SOCKETS (nodes on this host) or PUSH_NODE_DNS (nodes found by DNS), not both"
fi
[ -n "$sockets" ] || [ -n "$dns" ] ||
  die "set PUSH_NODE_SOCKETS (the nodes' Unix socket directory) or PUSH_NODE_DNS (a name resolving to every node)"
case $sockets in
  '' | /*) ;;
  *) die "PUSH_NODE_SOCKETS must be an absolute directory, not '$sockets'" ;;
esac
if [ -n "$dns" ] && [ -z "$session_domain" ]; then
  die "PUSH_NODE_DNS needs PUSH_SESSION_DOMAIN: the domain under which <node id>.<domain> resolves to that node"
fi

# Per worker: its share of 2 connections per client, a quarter to spare, 512 for the rest.
per_worker=$(((2 * clients * 5 / 4 + workers - 1) / workers + 512))
# A descriptor per connection, and a few for logs and the listen sockets.
descriptors=$((per_worker + 64))

render_limits() {
  hard=$(ulimit -Hn)
  if [ "$hard" != unlimited ] && [ "$hard" -lt "$descriptors" ]; then
    die "PUSH_MAX_CLIENTS=$clients over $workers worker(s) needs $descriptors file descriptors per nginx worker, but this container allows $hard (ulimit -Hn). Raise the limit (docker run --ulimit nofile=$descriptors, compose 'ulimits: nofile:', systemd LimitNOFILE), run more workers (PUSH_NGINX_WORKERS, one per core) or lower PUSH_MAX_CLIENTS."
  fi
  mkdir -p "$generated"
  cat >"$generated/main.conf.new" <<EOF
# Rendered by push-nginx.sh for PUSH_MAX_CLIENTS=$clients; edits are overwritten at start.
worker_processes $workers;
worker_rlimit_nofile $descriptors;
EOF
  cat >"$generated/events.conf.new" <<EOF
# Rendered by push-nginx.sh: $clients clients, 2 connections each, over $workers worker(s), with room to spare.
worker_connections $per_worker;
EOF
  mv "$generated/main.conf.new" "$generated/main.conf"
  mv "$generated/events.conf.new" "$generated/events.conf"
}

# The nodes' upstream servers, one per line, sorted (so that an unchanged set renders the same).
node_servers() {
  if [ -n "$sockets" ]; then
    for socket in "$sockets"/*.sock; do
      [ -S "$socket" ] && echo "unix:$socket"
    done
  else
    getent ahostsv4 "$dns" 2>/dev/null | awk -v port="$port" '{ print $1 ":" port }'
  fi | sort -u
}

render_nodes() {
  servers=$(node_servers)
  {
    echo "# Rendered by push-nginx.sh from the nodes it found; rewritten when they change."
    if [ -n "$sockets" ]; then
      route="unix:$sockets/\$push_node.sock:"
      node_id='[A-Za-z0-9_.-]{1,64}'
    else
      route="\$push_node.$session_domain:$port"
      # A DNS label: no dots.
      node_id='[A-Za-z0-9_-]{1,63}'
      nameservers=$(awk '$1 == "nameserver" { printf " %s", ($2 ~ /:/ ? "[" $2 "]" : $2) }' /etc/resolv.conf)
      [ -n "$nameservers" ] || die "no nameserver in /etc/resolv.conf to resolve <node id>.$session_domain"
      # Short-lived answers: a restarted pod comes back with a new address.
      echo "resolver$nameservers valid=5s;"
      echo "resolver_timeout 2s;"
    fi
    cat <<EOF
# A request of a session (?sid=<node id>.<random>) goes to the node that issued it; anything else
# (handshakes, WebSocket-only connections, the HTTP API) to the least busy node.
map \$arg_sid \$push_upstream {
    default push_nodes;
    "~^(?<push_node>$node_id)\\.[A-Za-z0-9_-]+\$" "$route";
}

upstream push_nodes {
    least_conn;
EOF
    if [ -z "$servers" ]; then
      echo "    # No node yet: nginx answers 503 unavailable until one appears."
      echo "    server 127.0.0.1:9 down;"
    fi
    for server in $servers; do
      echo "    server $server max_fails=1 fail_timeout=5s;"
    done
    cat <<EOF
    keepalive 64;
    # Shorter than the nodes' own keep-alive timeout (65 s): nginx closes idle connections first.
    keepalive_timeout 60s;
}
EOF
  } >"$generated/nodes.conf.new"
  if cmp -s "$generated/nodes.conf.new" "$generated/nodes.conf" 2>/dev/null; then
    rm -f "$generated/nodes.conf.new"
    return 1
  fi
  mv "$generated/nodes.conf.new" "$generated/nodes.conf"
  echo "push-nginx: nodes: ${servers:-none yet}" | tr "\n" " " >&2
  echo >&2
}

case ${1:-} in
  render)
    render_limits
    render_nodes || true
    ;;
  run)
    render_limits
    render_nodes || true
    # The watcher runs beside nginx; nginx itself is the container's main process (its signals,
    # e.g. SIGQUIT for a graceful stop, reach it directly).
    (
      while sleep "$watch_seconds"; do
        if render_nodes; then
          nginx -s reload || echo "push-nginx: reload failed; nginx keeps the previous node list" >&2
        fi
      done
    ) &
    exec nginx -g 'daemon off;'
    ;;
  *)
    die "usage: push-nginx.sh run | render"
    ;;
esac
