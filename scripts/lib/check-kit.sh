# Sourced by the operator check scripts (check-image.sh, check-cluster-profile.sh).

# A free TCP port on 127.0.0.1.
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# wait_for FILE PATTERN SECONDS: until a line of FILE matches (the event we wait for), or time out.
wait_for() {
  local deadline=$((SECONDS + $3))
  until grep -q -E "$2" "$1" 2>/dev/null; do ((SECONDS < deadline)) || return 1; sleep 0.2; done
}
