#!/usr/bin/env bash
# Regenerate static/vendor/ from the npm registry at pinned versions (run by hand when upgrading; the
# vendored files are committed so installing the package needs no node, and the page needs no network).
set -euo pipefail
DAGRE_VERSION=3.1.4
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/static/vendor"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@dagrejs/dagre@$DAGRE_VERSION" >/dev/null && tar xzf dagrejs-dagre-$DAGRE_VERSION.tgz)
mkdir -p "$out"
# The IIFE build defines the global `dagre` (graphlib included); drop its source-map comment: no map is shipped.
sed '/^\/\/# sourceMappingURL=/d' "$tmp/package/dist/dagre.min.js" > "$out/dagre.min.js"
cp "$tmp/package/LICENSE" "$out/dagre.LICENSE"
cp "$tmp/package/dist/dagre.min.js.LEGAL.txt" "$out/dagre.min.js.LEGAL.txt"
echo "@dagrejs/dagre $DAGRE_VERSION (MIT)" > "$out/VERSIONS"
echo "vendored @dagrejs/dagre $DAGRE_VERSION into $out"
