#!/bin/sh
# push-nginx: nginx for the push cluster, for any number of nodes and a client count of your choice.
#
#   push-nginx.sh run       render the files below, then run nginx in the foreground and keep the
#                           node list current: a node that appears or goes is in nginx's balancing
#                           within two looks, PUSH_WATCH_SECONDS (2) apart (a reload; open
#                           connections stay where they are). It says each list it applies
#                           ("push-nginx: nodes: ...") once the reload is asked for; nginx's new
#                           workers take over a moment later
#   push-nginx.sh render    render once and exit (the benchmark and the tests use this)
#
# It writes three files into PUSH_NGINX_GENERATED (default /etc/nginx/push), which nginx.conf and
# push-cluster.conf include:
#   main.conf    worker_processes, worker_rlimit_nofile (and worker_shutdown_timeout, if set)
#   events.conf  worker_connections
#   nodes.conf   the session routing map ($push_upstream), the upstream push_nodes of every node,
#                and (sockets) one upstream per listed node for its sessions' requests, whose
#                connections nginx keeps open
#
# Limits, from one setting. PUSH_MAX_CLIENTS (default 10000) is how many clients this nginx must
# hold at once. Each holds two connections in nginx (its own and the one to its node); the listen
# socket is `reuseport`, so the kernel spreads connections evenly over the workers, and each worker
# gets its share with a quarter to spare, plus room for API requests and idle keep-alives. A
# long-polling client holds two while it waits and two more for the moment it sends: the quarter
# covers that in a crowd of mostly WebSocket clients; count a long-polling-only crowd twice. The
# start fails, saying what to change, when the container's file-descriptor limit cannot hold that.
#
# Nodes, from one of two sources:
#   PUSH_NODE_SOCKETS=/run/push   every <node id>.sock in that directory (one host: the nodes share
#                                 the directory with nginx, e.g. a Docker volume) whose node answers
#                                 GET /readyz 200: a socket file left by a killed node, a node still
#                                 starting and a draining one take no new sessions. When none is
#                                 ready, every node that answers at all, and failing that every
#                                 socket file: a probe never empties the list. A session id
#                                 "<node id>.<random>" goes to <dir>/<node id>.sock, listed or not
#                                 (a listed node's over connections kept open between requests).
#   PUSH_NODE_DNS=<name>          every address <name> resolves to (IPv4, else IPv6), on
#                                 PUSH_NODE_PORT (default 3000), e.g. a Kubernetes headless Service
#                                 of ready pods. A look that finds no address keeps the last list
#                                 (a DNS hiccup must not empty it). A session id goes to
#                                 <node id>.PUSH_SESSION_DOMAIN, resolved by the resolver of
#                                 /etc/resolv.conf (e.g. the pods' names under the StatefulSet's
#                                 headless Service): the node id is then one DNS label (no dot), and
#                                 the domain a full name (nginx's resolver has no search domains).
#
# Reloads. A changed list is applied once two looks in a row agree (at once while nginx has no
# node), so that the passing states of a rolling restart cost fewer reloads: each reload leaves
# the previous generation of workers running until its last connection closes, with its
# connection tables (about 0.5 KB per worker_connections slot, per worker).
# PUSH_WORKER_SHUTDOWN_SECONDS (default: unset, no bound) bounds that: an old generation then
# closes the connections it still holds after that long, and those clients reconnect (and
# recover) together. A new list is checked with `nginx -t` first; a list nginx refuses or a
# reload that fails is said once and tried again at every look until it succeeds.
set -eu

say() {
  echo "push-nginx: $*" >&2
}

die() {
  say "$*"
  exit 1
}

# A whole number >= 1, written plainly (the shell would read a leading zero as octal).
is_count() {
  case $1 in
    '' | 0* | *[!0-9]*) return 1 ;;
    *) [ ${#1} -le 9 ] ;;
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
shutdown_seconds=${PUSH_WORKER_SHUTDOWN_SECONDS:-}

is_count "$clients" || die "PUSH_MAX_CLIENTS must be a whole number of clients >= 1, not '$clients'"
is_count "$workers" || die "PUSH_NGINX_WORKERS must be a whole number >= 1, not '$workers'"
is_count "$port" || die "PUSH_NODE_PORT must be a port number, not '$port'"
is_count "$watch_seconds" || die "PUSH_WATCH_SECONDS must be a whole number >= 1, not '$watch_seconds'"
[ -z "$shutdown_seconds" ] || is_count "$shutdown_seconds" ||
  die "PUSH_WORKER_SHUTDOWN_SECONDS must be a whole number of seconds >= 1, or unset, not '$shutdown_seconds'"
if [ -n "$sockets" ] && [ -n "$dns" ]; then
  die "set PUSH_NODE_SOCKETS (nodes on this host) or PUSH_NODE_DNS (nodes found by DNS), not both"
fi
[ -n "$sockets" ] || [ -n "$dns" ] ||
  die "set PUSH_NODE_SOCKETS (the nodes' Unix socket directory) or PUSH_NODE_DNS (a name resolving to every node)"
case $sockets in
  *[!A-Za-z0-9_./-]*) die "PUSH_NODE_SOCKETS must be a directory named with letters, digits and _ . / - only, not '$sockets'" ;;
  '' | /*) ;;
  *) die "PUSH_NODE_SOCKETS must be an absolute directory, not '$sockets'" ;;
esac
nameservers=''
if [ -n "$dns" ]; then
  [ -n "$session_domain" ] ||
    die "PUSH_NODE_DNS needs PUSH_SESSION_DOMAIN: the domain under which <node id>.<domain> resolves to that node"
  # nginx's resolver takes every name as absolute: a trailing dot adds nothing.
  session_domain=${session_domain%.}
  nameservers=$(awk '$1 == "nameserver" { printf " %s", ($2 ~ /:/ ? "[" $2 "]" : $2) }' /etc/resolv.conf)
  [ -n "$nameservers" ] || die "no nameserver in /etc/resolv.conf to resolve <node id>.$session_domain"
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
  {
    echo "# Rendered by push-nginx.sh for PUSH_MAX_CLIENTS=$clients; edits are overwritten at start."
    echo "worker_processes $workers;"
    echo "worker_rlimit_nofile $descriptors;"
    if [ -n "$shutdown_seconds" ]; then
      echo "# PUSH_WORKER_SHUTDOWN_SECONDS: how long workers replaced by a reload keep their connections."
      echo "worker_shutdown_timeout ${shutdown_seconds}s;"
    fi
  } >"$generated/main.conf.new"
  cat >"$generated/events.conf.new" <<EOF
# Rendered by push-nginx.sh: $clients clients, 2 connections each, over $workers worker(s), with room to spare.
worker_connections $per_worker;
EOF
  mv "$generated/main.conf.new" "$generated/main.conf"
  mv "$generated/events.conf.new" "$generated/events.conf"
}

# Of the socket paths given, prints "ready <path>" for each whose node answers GET /readyz 200
# within 2 s, and "alive <path>" for each that answers otherwise. perl-base is in every Debian
# image, nginx's included.
probe_sockets() {
  perl -MIO::Socket::UNIX -e '
    for my $path (@ARGV) {
      my $status = eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm 2;
        my $socket = IO::Socket::UNIX->new(Peer => $path) or die "refused\n";
        print $socket "GET /readyz HTTP/1.0\r\nHost: push-nginx\r\n\r\n";
        my $line = <$socket>;
        alarm 0;
        defined $line && $line =~ m{^HTTP/1\.\d (\d+)} ? $1 : die "no answer\n";
      };
      alarm 0;
      print(($status == 200 ? "ready" : "alive"), " $path\n") if defined $status;
    }
  ' "$@"
}

# The nodes' upstream servers, one per line, sorted (so that an unchanged set renders the same).
node_servers() {
  if [ -n "$sockets" ]; then
    set --
    for socket in "$sockets"/*.sock; do
      [ -S "$socket" ] || continue
      # A node id as sessions carry it (see the map below); any other name is not a node's.
      name=${socket##*/}
      case $name in
        *[!A-Za-z0-9_.-]*) ;;
        *) if [ ${#name} -le 69 ]; then set -- "$@" "$socket"; fi ;;
      esac
    done
    [ $# -gt 0 ] || return 0
    probed=$(probe_sockets "$@" 2>/dev/null) || probed=''
    listed=$(echo "$probed" | awk '$1 == "ready" { print $2 }')
    [ -n "$listed" ] || listed=$(echo "$probed" | awk 'NF == 2 { print $2 }')
    [ -n "$listed" ] || listed=$(printf '%s\n' "$@")
    echo "$listed" | awk 'NF { print "unix:" $0 }'
  else
    # A trailing dot (a full name, no search domains) is tried as given, then without it (a name
    # in /etc/hosts has none).
    found=''
    for name in "$dns" "${dns%.}"; do
      [ -z "$found" ] || break
      found=$(getent ahostsv4 "$name" 2>/dev/null | awk -v port="$port" '{ print $1 ":" port }') || true
      [ -n "$found" ] ||
        found=$(getent ahostsv6 "$name" 2>/dev/null | awk -v port="$port" '{ print "[" $1 "]:" port }') || true
    done
    [ -z "$found" ] || echo "$found"
  fi | sort -u
}

# The node id of the listed socket $1 (unix:<dir>/<node id>.sock).
session_node() {
  name=${1##*/}
  echo "${name%.sock}"
}

# Writes nginx's node list for the servers in $1 (none: an upstream that answers unavailable)
# to the file $2.
write_nodes() {
  {
    echo "# Rendered by push-nginx.sh from the nodes it found; rewritten when they change."
    if [ -n "$sockets" ]; then
      route="unix:$sockets/\$push_node.sock:"
      node_id='[A-Za-z0-9_.-]{1,64}'
    else
      route="\$push_node.$session_domain:$port"
      # A DNS label: no dots.
      node_id='[A-Za-z0-9_-]{1,63}'
      # Short-lived answers: a restarted pod comes back with a new address.
      echo "resolver$nameservers valid=5s;"
      echo "resolver_timeout 2s;"
    fi
    cat <<EOF
# A request of a session (?sid=<node id>.<random>) goes to the node that issued it; anything else
# (handshakes, WebSocket-only connections, the HTTP API) to the least busy node.
map \$arg_sid \$push_upstream {
    default push_nodes;
EOF
    # A listed node's sessions go through its own upstream, whose connections nginx keeps open:
    # a long-polling client's every poll would otherwise open (and close) one to its node.
    [ -z "$sockets" ] || for server in $1; do
      id=$(session_node "$server")
      echo "    \"~^$(echo "$id" | sed 's/\./\\./g')\\.[A-Za-z0-9_-]+\$\" push_session_$id;"
    done
    cat <<EOF
    # Any other node's (one starting or draining, not listed): its address, made per request.
    "~^(?<push_node>$node_id)\\.[A-Za-z0-9_-]+\$" "$route";
}

upstream push_nodes {
    least_conn;
EOF
    if [ -z "$1" ]; then
      echo "    # No node yet: nginx answers 503 unavailable until one appears."
      echo "    server 127.0.0.1:9 down;"
    fi
    for server in $1; do
      echo "    server $server max_fails=1 fail_timeout=5s;"
    done
    cat <<EOF
    keepalive 64;
    # Shorter than the nodes' own keep-alive timeout (65 s): nginx closes idle connections first.
    keepalive_timeout 60s;
}
EOF
    [ -z "$sockets" ] || for server in $1; do
      printf 'upstream push_session_%s {\n    server %s;\n    keepalive 16;\n    keepalive_timeout 60s;\n}\n' \
        "$(session_node "$server")" "$server"
    done
  } >"$2.new"
  mv "$2.new" "$2"
}

# One line: the lines of $1, or $2 when there are none.
one_line() {
  if [ -n "$1" ]; then echo "$1" | tr '\n' ' ' | sed 's/ $//'; else echo "$2"; fi
}

# nginx's complaint in $1 on one line, without the time and process of each message (so that the
# same complaint reads the same at every look).
complaint_line() {
  one_line "$(echo "$1" | sed -E 's|^[0-9/]+ [0-9:]+ (\[[a-z]+\]) [0-9]+#[0-9]+: |\1 |')" 'no message'
}

# Keeps nginx's node list current beside nginx, from $1 (the list nginx started with). It never
# exits while nginx runs: a failure is said once and retried at every look.
watch_nodes() {
  # Nothing here may end the watcher: every failure is handled below.
  set +e
  loaded=$1
  seen=$1
  complaint=''
  while sleep "$watch_seconds"; do
    servers=$(node_servers) || servers=''
    if [ -z "$servers" ] && [ -n "$dns" ] && [ -n "$loaded" ]; then
      # Not one address: keep the last list (nginx's own failure counts skip a dead node).
      [ "$complaint" = dns ] || say "$dns resolves to no address; keeping the last node list"
      complaint=dns
      servers=$loaded
    fi
    previous=$seen
    seen=$servers
    [ "$servers" != "$loaded" ] || continue
    # Apply once two looks agree, or at once while nginx has no node at all.
    [ "$servers" = "$previous" ] || [ -z "$loaded" ] || continue
    cp "$generated/nodes.conf" "$generated/nodes.conf.old"
    write_nodes "$servers" "$generated/nodes.conf"
    if ! problem=$(nginx -t -q 2>&1); then
      mv "$generated/nodes.conf.old" "$generated/nodes.conf"
      message="nginx refuses the new node list, keeps the previous one, and it is tried again: $(complaint_line "$problem")"
    elif ! problem=$(nginx -s reload 2>&1); then
      # The new file is in place: the reload that succeeds reads it.
      message="nginx reload failed, tried again at the next look: $(complaint_line "$problem")"
    else
      loaded=$servers
      complaint=''
      say "nodes: $(one_line "$servers" none)"
      continue
    fi
    [ "$message" = "$complaint" ] || say "$message"
    complaint=$message
  done
}

case ${1:-} in
  render | run)
    render_limits
    servers=$(node_servers)
    write_nodes "$servers" "$generated/nodes.conf"
    say "nodes: $(one_line "$servers" 'none yet')"
    if [ "$1" = run ]; then
      # The watcher runs beside nginx; nginx itself is the container's main process (its signals,
      # e.g. SIGQUIT for a graceful stop, reach it directly).
      watch_nodes "$servers" &
      exec nginx -g 'daemon off;'
    fi
    ;;
  *)
    die "usage: push-nginx.sh run | render"
    ;;
esac
