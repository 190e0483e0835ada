#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder's image: it
# installs a pinned release of the course's grader, checked against its
# SHA-256. Set the three values below from the release you grade with.
set -euo pipefail

GRADER_REPO="https://github.com/mlops-rust-course/mlops-rust-course"   # placeholder: your course's repository
GRADER_VERSION="v0.1.0"                                                 # placeholder: the release's tag
GRADER_SHA256="0000000000000000000000000000000000000000000000000000000000000000"  # its x86_64 archive's .sha256

# The tunnel to the course's grading engine (see run_autograder).
apt-get update -qq && apt-get install -y -qq openssh-client curl >/dev/null

asset="grader-$GRADER_VERSION-x86_64-unknown-linux-gnu"
cd /tmp
curl --fail --location --silent --show-error --proto '=https' \
  --output "$asset.tar.gz" "$GRADER_REPO/releases/download/$GRADER_VERSION/$asset.tar.gz"
echo "$GRADER_SHA256  $asset.tar.gz" | sha256sum --check --strict
tar -xzf "$asset.tar.gz"
install -m 0755 "$asset/grader" "$asset/grader-probe" /usr/local/bin/
grader --version
