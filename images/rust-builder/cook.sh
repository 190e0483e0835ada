#!/bin/sh
# cook.sh CRATE_DIR...: compile the dependencies of each lab crate into
# /src/target, exactly as the labs' Dockerfiles build them (WORKDIR /src,
# --release, --target x86_64-unknown-linux-gnu, a static C library), so that a
# lab's build in the builder image compiles only the lab's own crate.
#
# This is cargo-chef's "cook" done with cargo itself: build the crate (its
# lockfile pins every dependency), then `cargo clean -p` the crate's own
# artifacts, keeping its dependencies'. Cargo keys a registry dependency's
# artifacts by name, version, features, profile, target and flags, never by
# the path of the workspace that built it, so a student's crate in /src with
# the same lockfile reuses them; a dependency the student adds is compiled
# alone. A directory without Cargo.toml, Cargo.lock and Dockerfile is skipped.
set -eu
target=x86_64-unknown-linux-gnu
export CARGO_TARGET_DIR=/src/target
export RUSTFLAGS="-C target-feature=+crt-static"
for crate in "$@"; do
    if [ ! -f "$crate/Cargo.toml" ] || [ ! -f "$crate/Cargo.lock" ] || [ ! -f "$crate/Dockerfile" ]; then
        continue
    fi
    echo "cook: $crate"
    # A copy on its own, as in a Docker build context: no enclosing workspace
    # (a solution is a member of the course's) changes the resolution.
    work=$(mktemp -d)
    cp -R "$crate"/. "$work"/
    rm -rf "$work/target"
    manifest="$work/Cargo.toml"
    cargo build --quiet --release --locked --target "$target" --manifest-path "$manifest"
    # Unpack every package of the graph, dev-dependencies too: a judge that
    # reads the graph offline as a non-root user (cargo-deny's `cargo
    # metadata`) cannot unpack a crate into the registry itself.
    cargo metadata --quiet --locked --offline --format-version 1 \
        --filter-platform "$target" --manifest-path "$manifest" > /dev/null
    cargo clean --quiet --release --target "$target" --manifest-path "$manifest" \
        -p "$(cargo pkgid --manifest-path "$manifest")"
    rm -rf "$work"
done
# The .crate files this image holds, one name per line: the grader compares
# a submission's Cargo.lock with it before the build (grader/src/crates.rs),
# so a crate the offline build cannot have is one clear line, not cargo's
# offline error at the end of a log.
list=/usr/local/share/mlops-course/crates.txt
mkdir -p "$(dirname "$list")"
find "${CARGO_HOME:-/usr/local/cargo}/registry/cache" -name '*.crate' -exec basename {} \; \
    | sort -u > "$list"
echo "cook: $(wc -l < "$list") crates listed in $list"
# Builds may run as a non-root user: let them add to the target directory.
chmod -R a+rwX /src
