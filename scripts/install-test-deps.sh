#!/usr/bin/env bash
# Installs the real clients and tools the test suite drives (Debian packages), when they
# are missing. Idempotent and quiet when everything is present. Needs root (CI and the
# developer machines run as root); without root it only reports what is missing.
set -euo pipefail

declare -A PKG_FOR=(
  [skopeo]=skopeo
  [umoci]=umoci
  [oci-image-tool]=oci-image-tool
  [ctr]=containerd
  [podman]=podman
  [docker-registry]=docker-registry
  [htpasswd]=apache2-utils
  [openssl]=openssl
  [slapd]=slapd
  [ldapadd]=ldap-utils
  [ss]=iproute2
)

missing=()
for tool in "${!PKG_FOR[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${PKG_FOR[$tool]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != "0" ]; then
  echo "install-test-deps: missing ${missing[*]} and not root; tests that need them will be skipped" >&2
  exit 0
fi
echo "install-test-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# Services these packages ship (containerd, docker-registry) must not start on install:
# the tests run their own instances on loopback.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
rm -f /usr/sbin/policy-rc.d
