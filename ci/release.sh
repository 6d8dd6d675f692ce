#!/usr/bin/env bash
# Builds and packages a release of `parity`.
#
#   ci/release.sh [--target TRIPLE] [--binary PATH] VERSION [OUTDIR]
#
# VERSION is the crate's version (0.2.0, or the tag v0.2.0) and must equal
# Cargo.toml's. Without --binary the script builds a fully static binary
#   RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked --target TRIPLE
# named after the commit it was built from (PARITY_BUILD_COMMIT), and refuses
# one that is not static. TRIPLE defaults to the host's; the binary must run
# here (it writes its own completions and manual page), so build each target
# on a machine of that architecture (the release workflow does).
# --binary PATH packages a binary built elsewhere (the tests package the one
# under test); its `parity --version` must name VERSION, and names the target.
#
# OUTDIR (default dist/) receives
#   parity-VERSION-TRIPLE.tar.gz   parity-VERSION-TRIPLE/{parity, README.md, LICENSE,
#                                  completions/{parity.bash,_parity,parity.fish}, man/parity.1}
#   install.sh                     a copy of ci/install.sh
#   SHA256SUMS                     sha256sum lines for every archive in OUTDIR and install.sh
# Archives are reproducible: names sorted, owner 0, every mtime the commit's
# time (or SOURCE_DATE_EPOCH), gzip without a timestamp.
#
# Exit: 0 packaged; 1 a build or a check failed (said on stderr); 2 usage.
set -euo pipefail

say() { printf 'release: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

root="$(cd "$(dirname "$0")/.." && pwd)"
target=""
binary=""
while [ $# -gt 0 ]; do
  case "$1" in
    --target) [ $# -ge 2 ] || usage; target="$2"; shift 2 ;;
    --binary) [ $# -ge 2 ] || usage; binary="$2"; shift 2 ;;
    -h|--help) usage ;;
    --) shift; break ;;
    -*) say "unknown option $1"; usage ;;
    *) break ;;
  esac
done
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
version="${1#v}"
out="${2:-$root/dist}"

[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]] \
  || die "\`$1\` is not a version (expected MAJOR.MINOR.PATCH, optionally with a v)"
crate_version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)"
[ "$version" = "$crate_version" ] \
  || die "version $version is not Cargo.toml's ($crate_version): bump Cargo.toml before tagging"

if [ -z "$binary" ]; then
  command -v cargo >/dev/null || die "cargo not found: building needs a Rust toolchain"
  host="$(rustc -vV | sed -n 's/^host: //p')"
  target="${target:-$host}"
  commit="$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
  if [ "$commit" != unknown ] && ! git -C "$root" diff --quiet HEAD -- 2>/dev/null; then
    commit="$commit-dirty"
  fi
  say "building $target at commit $commit (static; a cold build takes minutes)"
  (cd "$root" && PARITY_BUILD_COMMIT="$commit" RUSTFLAGS='-C target-feature=+crt-static' \
    cargo build --release --locked --target "$target") || die "cargo build failed"
  binary="$root/target/$target/release/parity"
  if ! ldd "$binary" 2>&1 | grep -qE 'not a dynamic executable|statically linked'; then
    die "$binary is not static (ldd lists: $(ldd "$binary" 2>&1 | tr '\n' ' '))"
  fi
fi
if [ ! -f "$binary" ] || [ ! -x "$binary" ]; then die "$binary is not an executable file"; fi

# The binary names itself: "parity 0.2.0 (commit 0123456789ab, x86_64-unknown-linux-gnu)".
named="$("$binary" --version 2>/dev/null)" \
  || die "$binary does not run here: package each target on a machine of its architecture"
[[ "$named" =~ ^parity\ ([^ ]+)\ \(commit\ ([^,]+),\ ([^\)]+)\)$ ]] \
  || die "\`$binary --version\` printed \`$named\`, not \`parity VERSION (commit C, TARGET)\`"
[ "${BASH_REMATCH[1]}" = "$version" ] || die "$binary is version ${BASH_REMATCH[1]}, not $version"
built_for="${BASH_REMATCH[3]}"
[ -z "$target" ] || [ "$target" = "$built_for" ] || die "$binary was built for $built_for, not $target"
target="$built_for"

name="parity-$version-$target"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
stage="$work/$name"
mkdir -p "$stage/completions" "$stage/man" "$out"
install -m 0755 "$binary" "$stage/parity"
install -m 0644 "$root/README.md" "$root/LICENSE" "$stage/"
"$binary" completions bash > "$stage/completions/parity.bash"
"$binary" completions zsh > "$stage/completions/_parity"
"$binary" completions fish > "$stage/completions/parity.fish"
"$binary" man > "$stage/man/parity.1"

epoch="${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -C "$work" -cf - "$name" \
  | gzip -n > "$work/$name.tar.gz"
mv "$work/$name.tar.gz" "$out/$name.tar.gz"
install -m 0755 "$root/ci/install.sh" "$out/install.sh"

# One checksum file for everything in OUTDIR, so that targets packaged one by
# one into the same directory share it.
(cd "$out" && sha256sum parity-*.tar.gz install.sh > "$work/SHA256SUMS") && mv "$work/SHA256SUMS" "$out/SHA256SUMS"
say "packaged $out/$name.tar.gz ($(du -h "$out/$name.tar.gz" | cut -f1)): $named"
echo "$out/$name.tar.gz"
