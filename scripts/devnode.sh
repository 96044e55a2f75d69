#!/usr/bin/env bash
# The dev/test Elasticsearch node: a real single-node cluster on loopback, built only from what
# Maven Central has, with our Chinese analysis plugin (es-plugin/) installed. Or a local
# multi-node cluster of such nodes, formed over the transport protocol like a real one.
#
#   scripts/devnode.sh install   fetch + unpack Elasticsearch under .es/, build + install the plugin
#   scripts/devnode.sh up        install, then start a node on ES_PORT (idempotent)
#   scripts/devnode.sh down      stop the node on ES_PORT (idempotent)
#   scripts/devnode.sh status    is it running, its URL, its log
#   scripts/devnode.sh cluster-up [N]      start (or complete) an N-node cluster, default 3, on HTTP
#                                          ports ES_PORT .. ES_PORT+N-1 (idempotent: a stopped or
#                                          killed node is started again and rejoins)
#   scripts/devnode.sh cluster-down [N]    stop its nodes (idempotent)
#   scripts/devnode.sh cluster-status [N]  each node, the cluster's health, the ES_URL to use
#
# Environment:
#   ES_URL        an existing cluster: every command but install then does nothing (not ours to manage)
#   ES_PORT       HTTP port, default 9200; each port is its own instance under .es/instances/PORT/
#                 so `make run` (9200) and `make test` (9250) nodes run side by side. For a cluster:
#                 the first node's port, the others follow
#   ES_TRANSPORT_PORT  default ES_PORT+100 (must differ between instances too; a cluster's nodes
#                 use ES_TRANSPORT_PORT .. ES_TRANSPORT_PORT+N-1)
#   ES_HEAP       JVM heap per node, default 1g (512m per node of a cluster)
#   ES_JAVA_HOME  JDK 17+ to run Elasticsearch with; default: the newest JDK 21+ under /usr/lib/jvm
#                 (Lucene's SIMD vector code and Elasticsearch's native int8 vector scorer need 21+;
#                 on 17 kNN search and HNSW indexing run scalar code, measured several times slower:
#                 bench/results/perf-notes.md), else JAVA_HOME, else the `java` on PATH. The plugin
#                 is always built with JAVA_HOME / the `java` on PATH (it targets Java 17)
#   ES_USER       the unprivileged account used when run as root, default govsearch
#   ES_START_TIMEOUT  seconds to wait for the node to answer, default 120
#   MAVEN_REPO_LOCAL  Maven's local repository, default ~/.m2/repository
#
# Why this distribution: Elastic's full tarballs are not on a package registry, but the
# "integ-test-zip" build of the server is on Maven Central. It has no bundled JDK (we use the
# machine's) and only a few modules, which is all the project needs. Elastic's analysis-smartcn
# plugin is not on Maven Central either, hence es-plugin/, which registers the same names.
set -euo pipefail

ES_VERSION=8.19.9
ES_ARTIFACT="org.elasticsearch.distribution.integ-test-zip:elasticsearch:${ES_VERSION}:zip"
PLUGIN_NAME=analysis-smartcn-govsearch

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ES_DIR="$ROOT/.es"
ES_HOME="$ES_DIR/elasticsearch-$ES_VERSION"
PLUGIN_SRC="$ROOT/es-plugin"
PLUGIN_ZIP="$PLUGIN_SRC/target/releases/$PLUGIN_NAME-$ES_VERSION.zip"
# Records which build of the plugin zip is installed in ES_HOME (its sha256), so that `install`
# reinstalls exactly when the plugin was rebuilt.
PLUGIN_STAMP="$ES_HOME/.$PLUGIN_NAME.sha256"

ES_PORT="${ES_PORT:-9200}"
ES_TRANSPORT_PORT="${ES_TRANSPORT_PORT:-$((ES_PORT + 100))}"
ES_USER="${ES_USER:-govsearch}"
ES_START_TIMEOUT="${ES_START_TIMEOUT:-120}"
ES_STOP_TIMEOUT="${ES_STOP_TIMEOUT:-60}"

# Points the node functions below at one node: use_node HTTP_PORT TRANSPORT_PORT CLUSTER NODE_NAME.
# Every node has its own instance directory (config, data, logs, pid file) named by its HTTP port.
use_node() {
  NODE_PORT="$1"
  NODE_TRANSPORT_PORT="$2"
  # Our cluster name carries a port: it is how we tell our node from anything else on that port.
  CLUSTER_NAME="$3"
  NODE_NAME="$4"
  INSTANCE="$ES_DIR/instances/$NODE_PORT"
  CONF_DIR="$INSTANCE/config"
  PID_FILE="$INSTANCE/es.pid"
  LOG_FILE="$INSTANCE/logs/$CLUSTER_NAME.log"
  # The launcher's own output: configuration errors are printed there, not in the node's log.
  LAUNCH_LOG="$INSTANCE/logs/launcher.out"
  URL="http://127.0.0.1:$NODE_PORT"
}

# The single dev node of `up`, `down` and `status`.
use_dev_node() { use_node "$ES_PORT" "$ES_TRANSPORT_PORT" "govsearch-dev-$ES_PORT" "devnode-$ES_PORT"; }

# Node I (0-based) of the cluster whose first node is on ES_PORT.
use_cluster_node() {
  use_node "$((ES_PORT + $1))" "$((ES_TRANSPORT_PORT + $1))" "govsearch-cluster-$ES_PORT" "node-$((ES_PORT + $1))"
}

log() { printf '[devnode] %s\n' "$*"; }
die() { printf '[devnode] error: %s\n' "$*" >&2; exit 1; }

is_root() { [[ "$(id -u)" -eq 0 ]]; }

# Run a command as the account that owns the node. Elasticsearch refuses to run as root, so as
# root we switch to ES_USER; otherwise we simply are that account.
as_es_user() {
  if is_root; then
    runuser -u "$ES_USER" -- "$@"
  else
    "$@"
  fi
}

# --- prerequisites -----------------------------------------------------------------------------

# The JDK major version of $1 (a JAVA_HOME), empty if it has no working java.
java_major() {
  local version
  version="$("$1/bin/java" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')"
  [[ "${version%%.*}" =~ ^[0-9]+$ ]] && printf '%s' "${version%%.*}"
  return 0
}

# Sets JAVA_HOME_FOR_BUILD (JAVA_HOME, else the `java` on PATH: Maven builds the plugin with it) and
# JAVA_HOME_FOR_ES (ES_JAVA_HOME, else the newest JDK 21+ in /usr/lib/jvm, else the build JDK), both
# 17+, or dies saying what is missing.
find_java() {
  local home="${JAVA_HOME:-}" java version candidate best="" best_major=20 major
  if [[ -z "$home" ]]; then
    java="$(command -v java || true)"
    [[ -n "$java" ]] || die "no Java found: install a JDK 17+ (Debian: apt-get install openjdk-17-jdk-headless) or set ES_JAVA_HOME"
    home="$(dirname "$(dirname "$(readlink -f "$java")")")"
  fi
  [[ -x "$home/bin/java" ]] || die "no java in $home/bin: set JAVA_HOME to a JDK 17+"
  version="$(java_major "$home")"
  [[ -n "$version" && "$version" -ge 17 ]] \
    || die "building the plugin needs Java 17+, $home has '${version:-unknown}': set JAVA_HOME"
  JAVA_HOME_FOR_BUILD="$home"
  if [[ -n "${ES_JAVA_HOME:-}" ]]; then
    version="$(java_major "$ES_JAVA_HOME")"
    [[ -n "$version" && "$version" -ge 17 ]] \
      || die "Elasticsearch $ES_VERSION needs Java 17+, $ES_JAVA_HOME has '${version:-unknown}': set ES_JAVA_HOME"
    JAVA_HOME_FOR_ES="$ES_JAVA_HOME"
    return
  fi
  for candidate in /usr/lib/jvm/*/; do
    candidate="${candidate%/}"
    [[ -x "$candidate/bin/java" ]] || continue
    major="$(java_major "$candidate")"
    if [[ -n "$major" && "$major" -gt "$best_major" ]]; then best="$candidate" best_major="$major"; fi
  done
  JAVA_HOME_FOR_ES="${best:-$home}"
}

need_tools() {
  command -v mvn >/dev/null || die "mvn (Apache Maven) not found: it fetches Elasticsearch and builds es-plugin (Debian: apt-get install maven)"
  local tool
  for tool in unzip curl sha256sum flock; do
    command -v "$tool" >/dev/null || die "$tool not found (Debian: apt-get install $tool)"
  done
}

# Quiet, non-interactive Maven. Maven 3.8's console library prints stray colour-reset codes even
# in batch mode; strip them so our output stays clean (pipefail keeps Maven's exit status).
mvn_q() {
  local repo=()
  [[ -n "${MAVEN_REPO_LOCAL:-}" ]] && repo=(-Dmaven.repo.local="$MAVEN_REPO_LOCAL")
  mvn -B -q "${repo[@]}" "$@" 2>&1 | sed -e 's/\x1b\[[0-9;]*m//g'
}

# --- install -----------------------------------------------------------------------------------

m2_repo() {
  # Maven's local repository, without asking Maven (slow): settings.xml overrides are rare here.
  # MAVEN_REPO_LOCAL moves it (and is passed on to mvn), e.g. to time a download-everything start.
  printf '%s\n' "${MAVEN_REPO_LOCAL:-$HOME/.m2/repository}"
}

fetch_distribution() {
  ES_ZIP="$(m2_repo)/org/elasticsearch/distribution/integ-test-zip/elasticsearch/$ES_VERSION/elasticsearch-$ES_VERSION.zip"
  if [[ -f "$ES_ZIP" ]]; then
    return
  fi
  log "fetching Elasticsearch $ES_VERSION from Maven Central (~100 MB, once; cached in ~/.m2)"
  mvn_q dependency:get -Dartifact="$ES_ARTIFACT" -Dtransitive=false
  [[ -f "$ES_ZIP" ]] || die "mvn did not leave $ES_ZIP (set MAVEN_REPO_LOCAL if your local repository is elsewhere)"
}

unpack_distribution() {
  [[ -x "$ES_HOME/bin/elasticsearch" ]] && return
  log "unpacking Elasticsearch $ES_VERSION into ${ES_HOME#"$ROOT/"}"
  # Unpack beside the target and rename, so an interrupted unzip never looks like an install.
  local tmp="$ES_DIR/.unpack.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  unzip -q "$ES_ZIP" -d "$tmp"
  rm -rf "$ES_HOME"
  mv "$tmp/elasticsearch-$ES_VERSION" "$ES_HOME"
  rm -rf "$tmp"
}

build_plugin() {
  # Rebuild only when a source (or the pom) is newer than the zip: a full Maven run costs seconds.
  if [[ -f "$PLUGIN_ZIP" ]] && [[ -z "$(find "$PLUGIN_SRC/pom.xml" "$PLUGIN_SRC/src" -newer "$PLUGIN_ZIP" -print -quit)" ]]; then
    return
  fi
  log "building the analysis plugin (es-plugin/)"
  JAVA_HOME="$JAVA_HOME_FOR_BUILD" mvn_q -f "$PLUGIN_SRC/pom.xml" package
  [[ -f "$PLUGIN_ZIP" ]] || die "the plugin build did not produce $PLUGIN_ZIP"
}

install_plugin() {
  local sum
  sum="$(sha256sum "$PLUGIN_ZIP" | cut -d' ' -f1)"
  if [[ -d "$ES_HOME/plugins/$PLUGIN_NAME" && -f "$PLUGIN_STAMP" && "$(cat "$PLUGIN_STAMP")" == "$sum" ]]; then
    return
  fi
  if [[ -d "$ES_HOME/plugins/$PLUGIN_NAME" ]]; then
    log "plugin rebuilt: reinstalling $PLUGIN_NAME (running nodes pick it up on their next start)"
    ES_JAVA_HOME="$JAVA_HOME_FOR_ES" "$ES_HOME/bin/elasticsearch-plugin" remove --silent "$PLUGIN_NAME"
  else
    log "installing plugin $PLUGIN_NAME"
  fi
  # --batch: no prompt (the plugin asks for no entitlements anyway). The distribution's own config
  # dir is used here; instances read the plugins dir of ES_HOME.
  ES_JAVA_HOME="$JAVA_HOME_FOR_ES" ES_PATH_CONF="$ES_HOME/config" \
    "$ES_HOME/bin/elasticsearch-plugin" install --batch --silent "file://$PLUGIN_ZIP"
  printf '%s\n' "$sum" >"$PLUGIN_STAMP"
}

# As root: a dedicated system account runs the node and owns .es/ (Elasticsearch writes its
# data, logs and keystore there and refuses to run as root).
prepare_user() {
  is_root || return 0
  if ! id -u "$ES_USER" >/dev/null 2>&1; then
    log "creating system user $ES_USER to run Elasticsearch (it refuses to run as root)"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$ES_USER"
  fi
  if [[ -n "$(find "$ES_DIR" ! -user "$ES_USER" -print -quit)" ]]; then
    chown -R "$ES_USER:" "$ES_DIR"
  fi
  # The checkout may sit under a directory others cannot enter (e.g. /root, mode 700): grant
  # search (x) permission, and only that, on each ancestor the account cannot pass through.
  # Top-down, as a directory can only be tested once its parent can be entered.
  if ! runuser -u "$ES_USER" -- test -x "$ES_HOME/bin/elasticsearch"; then
    local dir="" part
    local -a parts
    IFS=/ read -r -a parts <<<"${ROOT#/}"
    for part in "${parts[@]}"; do
      dir="$dir/$part"
      if ! runuser -u "$ES_USER" -- test -x "$dir"; then
        log "granting o+x on $dir so that $ES_USER can reach .es/"
        chmod o+x "$dir"
      fi
    done
  fi
}

do_install() {
  need_tools
  find_java
  mkdir -p "$ES_DIR"
  # One installer at a time: `make run` and `make test` may start nodes concurrently. The lock
  # lives on fd 9 of this subshell only, so no node started later inherits it.
  (
    flock 9
    fetch_distribution
    unpack_distribution
    build_plugin
    install_plugin
    prepare_user
  ) 9>"$ES_DIR/.install.lock"
}

# --- node control: the functions act on the node chosen by use_node ----------------------------

# True while process $1 exists and is not a zombie. /proc rather than `kill -0`, which also fails
# for a live process of another account and succeeds for a zombie nobody has reaped yet.
alive() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ "${stat:0:1}" != Z ]]
}

# Prints the pid from PID_FILE if that process is alive; removes a stale pid file.
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  if [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid"; then
    printf '%s\n' "$pid"
    return 0
  fi
  rm -f "$PID_FILE" 2>/dev/null || true
  return 1
}

# GET a path on the node's port; prints the body, fails if nothing answers.
http_get() { curl -fsS --max-time 5 "$URL$1" 2>/dev/null; }

# True when the node answering on NODE_PORT is ours (our cluster name), not some other server. A
# cluster node answers only once it has joined an elected master.
ours_answers() {
  local body
  body="$(http_get /_cluster/health)" || return 1
  [[ "$body" == *"\"cluster_name\":\"$CLUSTER_NAME\""* ]]
}

# True when anything at all listens on 127.0.0.1:PORT (curl's exit code 7 = connection refused).
port_in_use() {
  local rc=0
  curl -s -o /dev/null --max-time 3 "http://127.0.0.1:$1/" || rc=$?
  [[ "$rc" -ne 7 ]]
}

# Dies unless the node's HTTP and transport ports are free (call it only when the node is not running).
ports_free_or_die() {
  local port
  for port in "$NODE_PORT" "$NODE_TRANSPORT_PORT"; do
    if port_in_use "$port"; then
      die "port $port is taken by something that is not this dev node: choose another ES_PORT (and/or ES_TRANSPORT_PORT), or set ES_URL to use an existing cluster"
    fi
  done
}

# write_config HEAP DISCOVERY: the node's config, DISCOVERY being its discovery settings (YAML lines).
write_config() {
  # Fresh from the distribution every start, so edits here always take effect.
  rm -rf "$CONF_DIR"
  # The node's temporary files (ES_TMPDIR) and its launcher's (the JVM flag probes' "final-flags"
  # dirs) go to the instance, emptied on every start, instead of two to three new dirs in /tmp per start.
  rm -rf "$INSTANCE/tmp"
  mkdir -p "$INSTANCE/data" "$INSTANCE/logs" "$INSTANCE/snapshots" "$INSTANCE/tmp"
  cp -R "$ES_HOME/config" "$CONF_DIR"
  cat >>"$CONF_DIR/elasticsearch.yml" <<CONF

# ---- added by scripts/devnode.sh (regenerated on every start) ----
cluster.name: $CLUSTER_NAME
node.name: $NODE_NAME
$2
# Loopback only: this node has no authentication.
network.host: 127.0.0.1
http.port: $NODE_PORT
transport.port: $NODE_TRANSPORT_PORT
path.data: $INSTANCE/data
path.logs: $INSTANCE/logs
# Where the fs snapshot repository may write (make backup / POST /admin/backups): the repository's
# relative location (SNAPSHOT_LOCATION) lives under it.
path.repo: $INSTANCE/snapshots
xpack.security.enabled: false
# A nearly full dev disk must not turn indices read-only under a test run.
cluster.routing.allocation.disk.threshold_enabled: false
CONF
  printf -- '-Xms%s\n-Xmx%s\n' "$1" "$1" >"$CONF_DIR/jvm.options.d/heap.options"
  # jieba_tokenizer's user dictionary (mappings/userdict.txt), where its `user_dictionary` setting
  # names it, relative to the config dir. The official image gets it from deploy/elasticsearch.Dockerfile.
  mkdir -p "$CONF_DIR/govsearch"
  cp "$ROOT/mappings/userdict.txt" "$CONF_DIR/govsearch/userdict.txt"
  : >"$LAUNCH_LOG"
  if is_root; then chown -R "$ES_USER:" "$INSTANCE"; fi
}

# Starts the node's launcher in the background and sets LAUNCHED_PID (a child of this shell, so that
# `wait` can read its exit status). -d daemonizes once the node is
# up and -p records the node's pid. Its output goes to a file so the node never holds our caller's
# stdout (a pipe in CI) open. It starts in ES_HOME because the caller's directory may be one the
# node's account cannot enter.
launch_node() {
  (
    cd "$ES_HOME"
    as_es_user env ES_JAVA_HOME="$JAVA_HOME_FOR_ES" ES_PATH_CONF="$CONF_DIR" \
      ES_TMPDIR="$INSTANCE/tmp" CLI_JAVA_OPTS="-Djava.io.tmpdir=$INSTANCE/tmp ${CLI_JAVA_OPTS:-}" \
      "$ES_HOME/bin/elasticsearch" -d -p "$PID_FILE"
  ) </dev/null >>"$LAUNCH_LOG" 2>&1 &
  LAUNCHED_PID=$!
}

show_failure() {
  printf '[devnode] --- launcher output (%s) ---\n' "$LAUNCH_LOG" >&2
  tail -n 20 "$LAUNCH_LOG" >&2 2>/dev/null || true
  printf '[devnode] --- last 40 lines of %s ---\n' "$LOG_FILE" >&2
  tail -n 40 "$LOG_FILE" >&2 2>/dev/null || printf '(no log written)\n' >&2
}

# Sends SIGTERM to the node if it runs and sets SIGNALLED_PID; fails when it does not run.
signal_node() {
  local pid
  pid="$(running_pid)" || return 1
  log "stopping Elasticsearch on $URL (pid $pid)"
  kill -TERM "$pid" || die "cannot signal pid $pid (it runs as $(stat -c %U "/proc/$pid")): run this as that user or root"
  SIGNALLED_PID="$pid"
}

# Waits for process $1 to end (SIGKILL after ES_STOP_TIMEOUT), then forgets its pid file.
await_exit() {
  local waited=0
  while alive "$1"; do
    if ((waited >= ES_STOP_TIMEOUT)); then
      log "still running after ${ES_STOP_TIMEOUT}s: sending SIGKILL"
      kill -KILL "$1" 2>/dev/null || true
      sleep 1
      break
    fi
    sleep 1
    waited=$((waited + 1))
  done
  rm -f "$PID_FILE"
}

# One status line for the node.
node_status() {
  local pid health
  if pid="$(running_pid)"; then
    if health="$(http_get '/_cluster/health')"; then
      health="$(sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' <<<"$health")"
      log "running: $URL (pid $pid, cluster health ${health:-unknown}), log $LOG_FILE"
    else
      log "starting or unresponsive: $URL (pid $pid), log $LOG_FILE"
    fi
  else
    log "not running on $URL (log of the last run: $LOG_FILE)"
  fi
}

# True (and says so) when ES_URL names a cluster that is not ours to manage.
hands_off() {
  [[ -n "${ES_URL:-}" ]] || return 1
  log "ES_URL is set: $1"
}

# --- commands ----------------------------------------------------------------------------------

# start_nodes HEAP SELECT COUNT: start every node that is not running yet among nodes 0..COUNT-1,
# each chosen by `SELECT I` (use_dev_node or use_cluster_node), all at once, and wait until each
# answers as a member of our cluster. Nodes already answering are left alone.
start_nodes() {
  local heap="$1" select="$2" count="$3" i pid discovery
  local -a waiting=() launchers=()
  for ((i = 0; i < count; i++)); do
    "$select" "$i"
    if pid="$(running_pid)" && ours_answers; then
      log "already running: $URL (pid $pid), log $LOG_FILE"
      continue
    fi
    [[ -n "${pid:-}" ]] || ports_free_or_die
    waiting+=("$i")
  done
  ((${#waiting[@]})) || return 0

  do_install

  for i in "${waiting[@]}"; do
    "$select" "$i"
    if pid="$(running_pid)"; then
      log "node process $pid exists but does not answer yet: waiting for it"
      launchers[i]=""
      continue
    fi
    discovery="$(discovery_settings "$select" "$count")"
    write_config "$heap" "$discovery"
    log "starting Elasticsearch $ES_VERSION on $URL (heap $heap, transport port $NODE_TRANSPORT_PORT)"
    launch_node
    launchers[i]="$LAUNCHED_PID"
  done

  local waited=0 pending
  printf '[devnode] waiting for /_cluster/health on %s node(s) ' "${#waiting[@]}"
  while true; do
    pending=()
    for i in "${waiting[@]}"; do
      "$select" "$i"
      ours_answers && continue
      pending+=("$i")
      if [[ -n "${launchers[i]}" ]] && ! kill -0 "${launchers[i]}" 2>/dev/null; then
        # The launcher has exited: fine if the daemon is alive, fatal otherwise.
        if ! wait "${launchers[i]}" || ! running_pid >/dev/null; then
          printf ' failed\n'
          show_failure
          die "Elasticsearch did not start on $URL (see above)"
        fi
        launchers[i]=""
      fi
    done
    ((${#pending[@]})) || break
    waiting=("${pending[@]}")
    if ((waited >= ES_START_TIMEOUT)); then
      printf ' timed out\n'
      show_failure
      die "Elasticsearch did not answer on $URL within ${ES_START_TIMEOUT}s; stop it with: ES_PORT=$ES_PORT $0 $( ((count > 1)) && echo "cluster-down $count" || echo down)"
    fi
    printf '.'
    sleep 1
    waited=$((waited + 1))
  done
  printf ' up after %ss\n' "$waited"
}

# The discovery settings of the node chosen last by SELECT ($1) in a COUNT ($2)-node cluster.
discovery_settings() {
  local select="$1" count="$2"
  if [[ "$select" == use_dev_node ]]; then
    # One node, no discovery: also keeps production bootstrap checks to warnings.
    printf 'discovery.type: single-node\n'
    return
  fi
  # Every node seeds from all transport ports; a node joins whichever master they elect. Loopback
  # transport keeps the production bootstrap checks to warnings here too.
  local i seeds="" masters=""
  for ((i = 0; i < count; i++)); do
    seeds+="${seeds:+, }\"127.0.0.1:$((ES_TRANSPORT_PORT + i))\""
    masters+="${masters:+, }\"node-$((ES_PORT + i))\""
  done
  printf 'discovery.seed_hosts: [%s]\n' "$seeds"
  # Bootstrapping names the first master-eligible nodes, only on a node's very first start: once
  # a node has joined, its data holds the cluster and the setting must go (Elasticsearch's advice).
  if [[ ! -d "$INSTANCE/data/_state" ]]; then
    printf 'cluster.initial_master_nodes: [%s]\n' "$masters"
  fi
}

do_up() {
  hands_off "using the cluster at ${ES_URL:-}, not starting a dev node" && return 0
  start_nodes "${ES_HEAP:-1g}" use_dev_node 1
  use_dev_node
  log "Elasticsearch $ES_VERSION running: $URL (pid $(running_pid || echo '?')), log $LOG_FILE"
}

do_down() {
  hands_off "the cluster at ${ES_URL:-} is not ours to stop" && return 0
  use_dev_node
  if ! signal_node; then
    log "not running on $URL"
    return 0
  fi
  await_exit "$SIGNALLED_PID"
  log "stopped"
}

do_status() {
  hands_off "using the cluster at ${ES_URL:-} (no dev node is managed)" && return 0
  use_dev_node
  node_status
}

# The ES_URL that names every node of the cluster.
cluster_url() {
  local i url=""
  for ((i = 0; i < $1; i++)); do url+="${url:+,}http://127.0.0.1:$((ES_PORT + i))"; done
  printf '%s\n' "$url"
}

cluster_size() {
  [[ "$1" =~ ^[1-9][0-9]*$ ]] || die "the number of nodes must be a positive integer, not '$1'"
}

do_cluster_up() {
  local count="$1" health nodes
  cluster_size "$count"
  hands_off "using the cluster at ${ES_URL:-}, not starting one" && return 0
  start_nodes "${ES_HEAP:-512m}" use_cluster_node "$count"
  use_cluster_node 0
  health="$(http_get '/_cluster/health')" || die "the cluster stopped answering on $URL"
  nodes="$(sed -n 's/.*"number_of_nodes":\([0-9]*\).*/\1/p' <<<"$health")"
  [[ "$nodes" == "$count" ]] || die "the cluster $CLUSTER_NAME has ${nodes:-?} nodes, not $count: see the logs under .es/instances/"
  log "cluster $CLUSTER_NAME: $count nodes, health $(sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' <<<"$health")"
  log "use it with: ES_URL=$(cluster_url "$count")"
}

do_cluster_down() {
  local count="$1" i
  local -a pids=()
  cluster_size "$count"
  hands_off "the cluster at ${ES_URL:-} is not ours to stop" && return 0
  # Signal every node first and then wait, so they shut down side by side.
  for ((i = 0; i < count; i++)); do
    use_cluster_node "$i"
    if signal_node; then pids[i]="$SIGNALLED_PID"; else log "not running on $URL"; fi
  done
  for i in "${!pids[@]}"; do
    use_cluster_node "$i"
    await_exit "${pids[i]}"
  done
  log "stopped"
}

do_cluster_status() {
  local count="$1" i
  cluster_size "$count"
  hands_off "using the cluster at ${ES_URL:-} (no local cluster is managed)" && return 0
  for ((i = 0; i < count; i++)); do
    use_cluster_node "$i"
    node_status
  done
  log "ES_URL=$(cluster_url "$count")"
}

case "${1:-}" in
  install) do_install; log "installed: $ES_HOME with plugin $PLUGIN_NAME" ;;
  up) do_up ;;
  down) do_down ;;
  status) do_status ;;
  cluster-up) do_cluster_up "${2:-3}" ;;
  cluster-down) do_cluster_down "${2:-3}" ;;
  cluster-status) do_cluster_status "${2:-3}" ;;
  *)
    printf 'usage: %s install|up|down|status|cluster-up [N]|cluster-down [N]|cluster-status [N]   (ES_PORT=%s)\n' "$0" "$ES_PORT" >&2
    exit 2
    ;;
esac
