#!/usr/bin/env bash
# Refresh the GraphiQL page's vendored assets (app/callbox/graphql/ide/vendor/) from the
# npm registry, so that /graphql's GraphiQL needs no CDN: it works offline and behind a
# strict Content-Security-Policy. Run from anywhere; needs npm (only `npm pack` is used:
# nothing is installed, no node_modules). Commit what changes, SHA256SUMS included
# (tests/graphql/test_graphiql.py checks the files against it).
#
# GraphiQL 4 is the last major version with a UMD build (one <script>, no bundler); it
# bundles graphql-js and the graphql-ws client. React 18 is the last with UMD builds.
set -euo pipefail

GRAPHIQL=graphiql@4.1.2
REACT=react@18.3.1
REACT_DOM=react-dom@18.3.1

here="$(cd "$(dirname "$0")/.." && pwd)"
vendor="$here/app/callbox/graphql/ide/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

unpack() {  # unpack <package@version>: into $work/<name>, the tarball's integrity in $work/<name>.integrity
    local spec="$1" name="${1%@*}"
    (cd "$work" && npm pack --silent "$spec" >"$name.tarball" && npm view "$spec" dist.integrity >"$name.integrity")
    mkdir -p "$work/$name"
    tar -xzf "$work/$(cat "$work/$name.tarball")" -C "$work/$name"
}

unpack "$GRAPHIQL"
unpack "$REACT"
unpack "$REACT_DOM"

rm -rf "$vendor"
mkdir -p "$vendor"
cp "$work/graphiql/package/graphiql.min.js" "$work/graphiql/package/graphiql.min.css" "$vendor/"
cp "$work/graphiql/package/LICENSE" "$vendor/graphiql.LICENSE"
cp "$work/react/package/umd/react.production.min.js" "$vendor/"
cp "$work/react/package/LICENSE" "$vendor/react.LICENSE"
cp "$work/react-dom/package/umd/react-dom.production.min.js" "$vendor/"
cp "$work/react-dom/package/LICENSE" "$vendor/react-dom.LICENSE"

{
    echo "# Vendored GraphiQL assets"
    echo
    echo "Written by scripts/vendor-graphiql.sh; do not edit. Files as published on npm:"
    echo
    for spec in "$GRAPHIQL" "$REACT" "$REACT_DOM"; do
        name="${spec%@*}"
        echo "- \`$spec\` ($(cat "$work/$name.integrity")), MIT: \`$name.LICENSE\`"
    done
    echo
    echo "\`graphiql.min.js\` bundles GraphiQL's own dependencies (graphql-js, the graphql-ws"
    echo "client, CodeMirror 5 and others): see the \`dependencies\` of $GRAPHIQL and of the"
    echo "packages it names for each one's licence."
} >"$vendor/README.md"

(cd "$vendor" && sha256sum -- *.js *.css *.LICENSE >SHA256SUMS)
echo "vendored into $vendor:"
ls -l "$vendor"
