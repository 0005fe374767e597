#!/usr/bin/env bash
# Build the production image and prove it runs, on a machine with no Docker engine and no image
# registry (buildah + podman storage, root; see README "Production"):
#   1. a Debian 12 base image from debootstrap, imported as debian:bookworm-slim (once; make-base-image.sh)
#   2. buildah bud of the Dockerfile with a layer cache (--layers), timed
#   3. the image's contents: non-root user, no compilers/chromium/ffmpeg/dev dependencies, its size
#   4. the image started (buildah run, host network) against a private redis-server: the image's
#      own HEALTHCHECK command, /healthz, /readyz, a Socket.IO join and a chat round trip
#      (scripts/smoke-server.mjs), then SIGTERM and the time the server takes to exit
# Run it twice to see the warm-cache build time. Not part of CI: a cold build compiles the mediasoup
# worker (10-15 min on 2 cores).
#
# Environment: IMAGE (default live-commerce:check), PIP_INDEX_URL (a pip mirror with meson >= 1.1 and
# ninja; default: this machine's /opt/pypi, served over HTTP for the build), NO_CACHE=1 (a cold build),
# SKIP_BUILD=1 (check an image built before), MEDIA_ENABLED=false (start it without a worker).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/node24.sh

IMAGE="${IMAGE:-live-commerce:check}"
log() { printf '[check-image] %s\n' "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

[[ $EUID -eq 0 ]] || die "run as root (buildah with chroot isolation, debootstrap)"
for tool in buildah podman debootstrap redis-server curl; do
  command -v "$tool" >/dev/null || die "$tool is missing: apt-get install -y buildah podman debootstrap redis-server curl"
done

work="$(mktemp -d /tmp/check-image.XXXXXX)"
pids=()
container=""
cleanup() {
  local status=$?
  [[ -n "$container" ]] && buildah rm "$container" >/dev/null 2>&1 || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if ((status == 0)); then rm -rf "$work"; else log "logs kept in $work"; fi
}
trap cleanup EXIT

source scripts/lib/check-kit.sh

if [[ "${SKIP_BUILD:-0}" == 1 ]]; then
  build_secs=0 cached_steps=0 total_steps=0
  log "SKIP_BUILD=1: checking the existing $IMAGE"
else
  # --- 1. base image ---------------------------------------------------------------------------
  bash scripts/make-base-image.sh debian:bookworm-slim

  # --- 2. build --------------------------------------------------------------------------------
  if [[ -z "${PIP_INDEX_URL:-}" && -d /opt/pypi/simple ]]; then
    # A fixed port: the value is a build argument of the worker stage, so it is part of its cache key.
    pip_port="${PIP_MIRROR_PORT:-3141}"
    python3 -m http.server --bind 127.0.0.1 --directory /opt/pypi "$pip_port" >"$work/pip-mirror.log" 2>&1 &
    pids+=($!)
    PIP_INDEX_URL="http://127.0.0.1:$pip_port/simple"
    for _ in $(seq 50); do curl -fsS -o /dev/null "$PIP_INDEX_URL/meson/" 2>/dev/null && break; sleep 0.1; done
    curl -fsS -o /dev/null "$PIP_INDEX_URL/meson/" || die "the pip mirror at $PIP_INDEX_URL does not answer"
  fi
  build_args=(--layers --format docker --isolation chroot --pull=never
    --ulimit nofile=1024:1024 --ulimit nproc=1000:1000
    --build-arg "PIP_INDEX_URL=${PIP_INDEX_URL:-}")
  # This machine's CA bundle (it may hold a TLS-inspecting proxy's CA) for npm, as a build secret.
  ca_bundle="${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}"
  [[ -s "$ca_bundle" ]] && build_args+=(--secret "id=ca-certs,src=$ca_bundle")
  [[ "${NO_CACHE:-0}" == 1 ]] && build_args+=(--no-cache)
  log "building $IMAGE (buildah bud ${build_args[*]})"
  build_start=$SECONDS
  buildah bud "${build_args[@]}" -f Dockerfile -t "$IMAGE" . 2>&1 | tee "$work/build.log" | grep --line-buffered -E '(^|\] )(STEP [0-9]|COMMIT)|Using cache|^Error|^error' >&2 ||
    { tail -n 40 "$work/build.log" >&2; die "buildah bud failed"; }
  [[ "${PIPESTATUS[0]}" == 0 ]] || { tail -n 40 "$work/build.log" >&2; die "buildah bud failed"; }
  build_secs=$((SECONDS - build_start))
  cached_steps=$(grep -c -- '--> Using cache' "$work/build.log" || true)
  total_steps=$(grep -c -E '(^|\] )STEP [0-9]' "$work/build.log" || true)
  log "built in ${build_secs} s (${cached_steps} of ${total_steps} steps from the layer cache)"
fi

size_bytes="$(podman image inspect --format '{{.Size}}' "$IMAGE")"
size_mb=$((size_bytes / 1000000))

# --- 3. contents -----------------------------------------------------------------------------
container="$(buildah from --pull=never "$IMAGE")"
mnt="$(buildah mount "$container")"
buildah inspect --type image "$IMAGE" >"$work/image.json"
# image_field EXPR: a field of the image's Docker config (EXPR in JavaScript on `c`), printed as JSON.
image_field() { node -e 'const c=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).Docker.config;console.log(JSON.stringify(eval(process.argv[2])??null))' "$work/image.json" "$1"; }
img_user="$(image_field c.User)"; img_stop="$(image_field c.StopSignal)"
img_health="$(image_field c.Healthcheck?.Test)"; img_cmd="$(image_field c.Cmd)"
log "image config: user $img_user, stop signal $img_stop, cmd $img_cmd, healthcheck $img_health"
img_user="${img_user//\"/}" img_stop="${img_stop//\"/}"
[[ "$img_user" == live ]] || die "the image runs as '$img_user', not the non-root user 'live'"
[[ "$img_stop" == SIGTERM ]] || die "STOPSIGNAL is '$img_stop'"
[[ "$img_health" == *"/healthz"* ]] || die "HEALTHCHECK does not probe /healthz: $img_health"
[[ "$img_cmd" == '["node","--max-semi-space-size=64","dist/main.js"]' ]] || die "CMD is $img_cmd"
for path in usr/bin/gcc usr/bin/g++ usr/bin/chromium usr/bin/ffmpeg usr/bin/npm usr/bin/python3 \
  app/node_modules/typescript app/node_modules/vite app/node_modules/tsx app/node_modules/@roamhq \
  app/node_modules/playwright-core app/node_modules/vitest app/node_modules/esbuild app/src app/test \
  app/node_modules/mediasoup/worker; do
  # (npm prune leaves empty scope directories such as @roamhq/ behind: harmless)
  [[ ! -e "$mnt/$path" || -z "$(ls -A "$mnt/$path" 2>/dev/null)" && -d "$mnt/$path" ]] || die "/$path is in the image"
done
for path in app/dist/main.js app/dist/demo/index.html usr/local/bin/node usr/local/bin/mediasoup-worker app/node_modules/mediasoup; do
  [[ -e "$mnt/$path" ]] || die "/$path is missing from the image"
done
log "contents: $(du -sh "$mnt/app/node_modules" | cut -f1) node_modules, $(du -sh "$mnt/usr/local/bin/node" | cut -f1) node, $(du -sh "$mnt/usr/local/bin/mediasoup-worker" | cut -f1) mediasoup-worker, $(du -sh "$mnt/app/dist" | cut -f1) dist"
buildah umount "$container" >/dev/null

# --- 4. run ----------------------------------------------------------------------------------
redis_port="$(free_port)"
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
wait_for "$work/redis.log" 'Ready to accept connections' 20 || die "redis-server did not start"

port="$(free_port)"
# Media on with one worker: the image's worker binary and its libraries must load. Its ports
# come from a range the tests on this machine do not use (host network).
rtc_min=$((45000 + RANDOM % 400 * 10))
log "starting the image: node --max-semi-space-size=64 dist/main.js on 127.0.0.1:$port, redis on $redis_port"
buildah run --isolation chroot \
  --env REDIS_URL="redis://127.0.0.1:$redis_port" --env PORT="$port" --env HOST=127.0.0.1 \
  --env JWT_SECRET=check-image-secret-0123456789 --env DEV_TOKENS=true --env MEDIA_ENABLED="${MEDIA_ENABLED:-true}" \
  --env MEDIA_WORKERS=1 --env MEDIA_PORT_BASE=0 --env MEDIA_RTC_MIN_PORT="$rtc_min" --env MEDIA_RTC_MAX_PORT="$((rtc_min + 9))" \
  "$container" -- node --max-semi-space-size=64 dist/main.js >"$work/server.log" 2>&1 &
server_pid=$!
pids+=("$server_pid")
wait_for "$work/server.log" 'listening|failed to start|invalid configuration' 60 || { cat "$work/server.log" >&2; die "the server did not start within 60 s"; }
grep -q listening "$work/server.log" || { cat "$work/server.log" >&2; die "the server did not start"; }
log "server: $(grep -m1 listening "$work/server.log")"

# The image's own HEALTHCHECK command, run inside the container as Docker would.
mapfile -d '' -t health_argv < <(node -e 'const t=JSON.parse(process.argv[1]);if(t?.[0]!=="CMD")process.exit(1);process.stdout.write(t.slice(1).join("\0"))' "$img_health")
((${#health_argv[@]})) || die "could not read the image's HEALTHCHECK (want the exec form, CMD [...])"
buildah run --isolation chroot --env PORT="$port" "$container" -- "${health_argv[@]}" ||
  die "the image's HEALTHCHECK command failed"
log "HEALTHCHECK command inside the image: ok"
[[ "$(buildah run --isolation chroot "$container" -- id -u)" == 10001 ]] || die "the container does not run as uid 10001"

node scripts/smoke-server.mjs "http://127.0.0.1:$port" || { tail -n 30 "$work/server.log" >&2; die "smoke test failed"; }

# SIGTERM, as `docker stop` sends it (STOPSIGNAL), to the server process inside the container.
# descendants PID: every process below PID (buildah run -> chroot runtime -> node -> mediasoup-worker).
descendants() { local c; for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done; }
node_pid=""
for pid in $(descendants "$server_pid"); do
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || continue
  [[ "$cmd" == *node\ --max-semi-space-size=64\ dist/main.js\  && "$cmd" != buildah-* ]] && { node_pid=$pid; break; }
done
[[ -n "$node_pid" ]] || die "could not find the server process under buildah run ($server_pid)"
stop_start=$(date +%s%N)
kill -TERM "$node_pid"
rc=0; wait "$server_pid" || rc=$?
stop_ms=$((($(date +%s%N) - stop_start) / 1000000))
((rc == 0)) || { tail -n 20 "$work/server.log" >&2; die "the server exited with $rc after SIGTERM"; }
((stop_ms < 10000)) || die "the server took ${stop_ms} ms to stop: more than Docker's 10 s grace"
log "SIGTERM: exited 0 in ${stop_ms} ms (Docker's default grace: 10 s)"

echo "RESULT {\"image\":\"$IMAGE\",\"sizeMB\":$size_mb,\"buildSeconds\":$build_secs,\"cachedSteps\":$cached_steps,\"steps\":$total_steps,\"stopMs\":$stop_ms}"
log "OK: $IMAGE is ${size_mb} MB, built in ${build_secs} s; /healthz, /readyz, socket join and chat round trip passed"
