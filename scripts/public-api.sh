#!/usr/bin/env bash
# Public-API listing of roster's library crates, read from rustdoc's HTML
# (stable toolchain; no nightly rustdoc JSON needed).
#
#   RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --lib
#   scripts/public-api.sh           # diff against docs/public-api.txt
#   scripts/public-api.sh --bless   # rewrite docs/public-api.txt
#
# One line per public item: `<kind> <crate>::<path>`, sorted. Items come from
# `target/doc/<crate>/all.html`; modules and crate re-exports (which
# all.html leaves out) come from each module's `index.html`. Exit 1 when
# the listing differs from the checked-in file.
set -euo pipefail
cd "$(dirname "$0")/.."

crates=(roster roster_core roster_mattermost roster_rocketchat)
doc="${CARGO_TARGET_DIR:-target}/doc"
listing=docs/public-api.txt

list() {
  local crate
  for crate in "${crates[@]}"; do
    if [[ ! -f "$doc/$crate/all.html" ]]; then
      echo "public-api: $doc/$crate/all.html missing; run cargo doc --workspace --no-deps --lib first" >&2
      exit 2
    fi
    python3 - "$doc" "$crate" <<'PY'
import html, os, re, sys

doc, crate = sys.argv[1], sys.argv[2]
root = os.path.join(doc, crate)
out = set()

def path_of(rel):
    parts = rel.split("/")
    kind, name = parts[-1][: -len(".html")].split(".", 1)
    return kind, "::".join([crate] + parts[:-1] + [name])

# Every item rustdoc documents (structs, enums, traits, functions, ...).
text = open(os.path.join(root, "all.html"), encoding="utf-8").read()
for href in re.findall(r'<li><a href="([^"]+\.html)">', text):
    kind, p = path_of(html.unescape(href))
    out.add(f"{kind} {p}")

# Modules and re-exported crates: walk each module's index.html.
def walk(rel_dir):
    index = os.path.join(root, rel_dir, "index.html")
    if not os.path.isfile(index):
        return
    prefix = "::".join([crate] + [d for d in rel_dir.split("/") if d])
    body = open(index, encoding="utf-8").read()
    for m in re.finditer(r'<a class="mod" href="([^"/]+)/index\.html"', body):
        name = m.group(1)
        out.add(f"mod {prefix}::{name}")
        walk(os.path.join(rel_dir, name))
    # `pub use other_crate as name;` is shown as a re-export line.
    for m in re.finditer(r'<code>pub use ([^<]+?)(?: as ([A-Za-z0-9_]+))?;</code>', html.unescape(re.sub(r"<a [^>]*>|</a>", "", body))):
        name = m.group(2) or m.group(1).split("::")[-1]
        out.add(f"use {prefix}::{name} = {m.group(1)}")

walk("")
print("\n".join(sorted(out)))
PY
  done
}

new="$(list)"
if [[ "${1:-}" == "--bless" ]]; then
  printf '%s\n' "$new" > "$listing"
  echo "public-api: wrote $listing ($(wc -l < "$listing") items)"
  exit 0
fi
if ! diff -u --label "$listing (checked in)" --label "public API (now)" "$listing" <(printf '%s\n' "$new"); then
  echo >&2
  echo "public-api: the public API differs from $listing (diff above)." >&2
  echo "public-api: if the change is intended, run scripts/public-api.sh --bless and commit the file." >&2
  exit 1
fi
echo "public-api: unchanged ($(wc -l < "$listing") items)"
