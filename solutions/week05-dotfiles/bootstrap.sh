#!/bin/sh
# Install this dotfiles repository for one profile, then prove it worked.
#
#   ./bootstrap.sh laptop
#   ./bootstrap.sh server
#
# The profile is required: dotdrop's own default (the host name) is a random
# string in a container. The exit code is dotdrop compare's: 0 when every
# dotfile of the profile is installed and matches its template, 1 otherwise.
# (dotdrop install itself exits 0 even when a dotfile fails to render.)
set -eu

if [ "$#" -ne 1 ]; then
    echo "usage: $0 PROFILE   (see: dotdrop profiles -c config.yaml)" >&2
    exit 2
fi
profile=$1

if ! command -v dotdrop >/dev/null 2>&1; then
    echo "bootstrap: dotdrop is not installed (pipx install dotdrop==1.12.9, or: sudo apt install dotdrop)" >&2
    exit 127
fi

repo=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
config="$repo/config.yaml"

# An unknown profile is not an error for dotdrop compare (it compares nothing
# and exits 0), so refuse it here, naming the profiles the config defines.
# (`dotdrop profiles -G` prints a heading line, then one profile a line.)
profiles=$(dotdrop profiles -b -G -c "$config" |
    awk 'NR > 1 && NF { printf "%s%s", sep, $0; sep = " " }')
case " $profiles " in
    *" $profile "*) ;;
    *)
        echo "bootstrap: no profile '$profile' in $config (profiles: $profiles)" >&2
        exit 2
        ;;
esac

# -f: overwrite files that differ (the old copy is kept as <name>.dotdropbak).
dotdrop install -b -c "$config" -p "$profile" -f
# install's exit code says nothing about failed dotfiles: compare decides.
dotdrop compare -b -c "$config" -p "$profile"
