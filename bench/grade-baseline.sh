#!/usr/bin/env bash
# The floor under a grade, for `cargo xtask bench grade`: the least any grader
# must do with an already built image. Start it on a network of its own, wait
# until GET /health answers, remove it. No sandbox options, no checks.
#
#   bench/grade-baseline.sh IMAGE
#
# The service must listen on port 8080. Everything made here carries the label
# dev.mlops-course.bench=true and is removed on exit, whatever happened.
set -euo pipefail

image=${1:?usage: grade-baseline.sh IMAGE}
label=dev.mlops-course.bench=true
network=mlops-bench-$$
container=

cleanup() {
  if [[ -n $container ]]; then docker rm -f "$container" >/dev/null 2>&1 || true; fi
  docker network rm "$network" >/dev/null 2>&1 || true
}
trap cleanup EXIT
# A signal ends the script through its EXIT trap, so Ctrl-C cleans up too.
trap 'exit 130' INT TERM

# --internal: no route out; the host still reaches the container over the bridge.
docker network create --internal --label "$label" "$network" >/dev/null
container=$(docker run -d --network "$network" --label "$label" "$image")
ip=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$network\").IPAddress}}" "$container")

# The service needs a moment to load its model and listen: retry, 10 s at most.
for _ in $(seq 500); do
  if curl -fsS --max-time 1 -o /dev/null "http://$ip:8080/health" 2>/dev/null; then
    exit 0
  fi
  sleep 0.02
done
echo "grade-baseline.sh: $image did not answer GET /health on $ip:8080 within 10 s" >&2
exit 1
