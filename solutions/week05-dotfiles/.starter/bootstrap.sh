#!/bin/sh
# Install this dotfiles repository for one profile:
#
#   ./bootstrap.sh laptop
set -eu

profile=${1:-laptop}
config="$(dirname -- "$0")/config.yaml"

# TODO(week 5): stop with a clear one-line error when dotdrop is not installed.
# TODO(week 5): require the profile instead of defaulting to laptop, and refuse
# a profile the configuration does not define.

dotdrop install -c "$config" -p "$profile" -f

# TODO(week 5): `dotdrop install` exits 0 even when a dotfile fails to render.
# Follow it with `dotdrop compare` and exit with compare's code.
