#!/usr/bin/env bash
# Regenerate static/vendor/ from the npm registry at pinned versions (run by hand when upgrading; the
# vendored files are committed so installing the package needs no node, and the page needs no network).
set -euo pipefail
DAGRE_VERSION=3.1.4
AWS4FETCH_VERSION=1.0.20
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/static/vendor"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@dagrejs/dagre@$DAGRE_VERSION" >/dev/null && tar xzf dagrejs-dagre-$DAGRE_VERSION.tgz)
mkdir -p "$tmp/aws4fetch"
(cd "$tmp" && npm pack --silent "aws4fetch@$AWS4FETCH_VERSION" >/dev/null \
    && tar xzf "aws4fetch-$AWS4FETCH_VERSION.tgz" -C aws4fetch --strip-components=1)
mkdir -p "$out"
# The IIFE build defines the global `dagre` (graphlib included); drop its source-map comment: no map is shipped.
sed '/^\/\/# sourceMappingURL=/d' "$tmp/package/dist/dagre.min.js" > "$out/dagre.min.js"
cp "$tmp/package/LICENSE" "$out/dagre.LICENSE"
cp "$tmp/package/dist/dagre.min.js.LEGAL.txt" "$out/dagre.min.js.LEGAL.txt"
# aws4fetch signs the page's requests (SigV4, WebCrypto) when the server requires credentials.
cp "$tmp/aws4fetch/dist/aws4fetch.umd.js" "$out/aws4fetch.umd.js"
cp "$tmp/aws4fetch/LICENSE" "$out/aws4fetch.LICENSE"
printf '@dagrejs/dagre %s (MIT)\naws4fetch %s (MIT)\n' "$DAGRE_VERSION" "$AWS4FETCH_VERSION" > "$out/VERSIONS"
echo "vendored @dagrejs/dagre $DAGRE_VERSION and aws4fetch $AWS4FETCH_VERSION into $out"
