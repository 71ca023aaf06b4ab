#!/usr/bin/env bash
# Installs the Debian packages relaycast's tests use, if they are missing. Needs root (CI runs as
# root); as a normal user it prints what to install instead.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have ffmpeg || need+=(ffmpeg)
have ffprobe || need+=(ffmpeg)
have redis-server || need+=(redis-server)
have unzip || need+=(unzip)
have prometheus || need+=(prometheus)
have promtool || need+=(prometheus)
have chromium || need+=(chromium)
have ip || need+=(iproute2)
have protoc || need+=(protobuf-compiler)
# the benches' C clients (bench/flv-swarm.c, bench/whep-swarm.c), built by test/swarm.test.ts and
# test/webrtc.test.ts; whep-swarm does DTLS-SRTP with OpenSSL
have gcc || need+=(gcc)
[ -f /usr/include/openssl/ssl.h ] || need+=(libssl-dev)
# test/image-build.test.ts builds and runs the real image without a Docker engine
have buildah || need+=(buildah)
have podman || need+=(podman)
have mmdebstrap || need+=(mmdebstrap)

if [ ${#need[@]} -eq 0 ]; then
  echo "install-deps: all Debian packages present"
  exit 0
fi
# de-duplicate
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${need[*]}; run: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "install-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "install-deps: done"
