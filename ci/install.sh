#!/bin/sh
# Installs a released `parity`, verified before anything is unpacked or run.
# For CI systems other than GitHub Actions; the action (action.yml) runs it too.
#
#   install.sh VERSION [DIR]
#
# Downloads parity-VERSION-TARGET.tar.gz and SHA256SUMS from the release
# VERSION (0.2.0 or v0.2.0), checks the archive's SHA-256 against its line in
# SHA256SUMS (and against PARITY_SHA256 when set), and only then unpacks it
# and installs `parity` into DIR (default ~/.local/bin). An archive that does
# not match, or that SHA256SUMS does not list, or a release without
# SHA256SUMS, is refused: nothing is unpacked, nothing runs.
#
# Environment:
#   PARITY_RELEASE_URL  where the releases are; the tag's directory (vVERSION/)
#                       is below it (default: GitHub's, for PARITY_REPOSITORY)
#   PARITY_REPOSITORY   OWNER/REPO of that default (your-org/webprofile-parity)
#   PARITY_TARGET       the target triple (default: this machine's)
#   PARITY_SHA256       the archive's SHA-256 as you pinned it: a release
#                       rebuilt under the same tag is then refused too
# Plain http:// is accepted only for a loopback address (tests, local mirrors).
#
# Exit: 0 installed (its path on stdout); 1 refused or failed (said on
# stderr); 2 usage; 3 no release VERSION for this target (build from source:
# cargo install --locked --git https://github.com/OWNER/REPO --tag vVERSION).
set -eu

say() { printf 'install.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
usage() {
  say "usage: install.sh VERSION [DIR]  (the comment at the top of this script says more)"
  exit 2
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
case "$1" in -h|--help) usage ;; esac
version="${1#v}"
dir="${2:-$HOME/.local/bin}"
printf '%s\n' "$version" | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$' \
  || { say "\`$1\` is not a version (expected MAJOR.MINOR.PATCH, optionally with a v)"; usage; }

if [ -n "${PARITY_TARGET:-}" ]; then
  target="$PARITY_TARGET"
else
  case "$(uname -s)" in
    Linux) ;;
    *) say "releases are built for Linux only, not $(uname -s): build from source"; exit 3 ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) target=x86_64-unknown-linux-gnu ;;
    aarch64 | arm64) target=aarch64-unknown-linux-gnu ;;
    *) say "no release is built for $(uname -m): build from source"; exit 3 ;;
  esac
fi

base="${PARITY_RELEASE_URL:-https://github.com/${PARITY_REPOSITORY:-your-org/webprofile-parity}/releases/download}"
base="${base%/}"
case "$base" in
  https://*) protocols='=https' ;;
  http://127.* | http://localhost | http://localhost[:/]* | http://\[::1\]*) protocols='=http,https' ;;
  *) die "refusing $base: releases are fetched over https (plain http only from a loopback address)" ;;
esac

# fetch URL FILE: 0 fetched, 3 not there (HTTP 404 or 410), 1 failed.
fetch() {
  if command -v curl >/dev/null 2>&1; then
    code="$(curl --silent --show-error --location --proto "$protocols" --proto-redir "$protocols" \
      --retry 3 --connect-timeout 20 --max-time 600 --output "$2" --write-out '%{http_code}' "$1")" \
      || { say "could not download $1"; return 1; }
  elif command -v wget >/dev/null 2>&1; then
    wget --server-response --tries=3 --timeout=60 --output-document="$2" "$1" 2>"$2.headers" || true
    code="$(sed -n 's/^ *HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p' "$2.headers" | tail -n 1)"
    [ -n "$code" ] || { say "could not download $1"; return 1; }
  else
    say "neither curl nor wget is installed: one is needed to download the release"
    return 1
  fi
  case "$code" in
    200) return 0 ;;
    404 | 410) return 3 ;;
    *) say "$1 answered HTTP $code"; return 1 ;;
  esac
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  elif command -v openssl >/dev/null 2>&1; then
    openssl dgst -sha256 -r "$1" | cut -d ' ' -f 1
  fi
}

release="$base/v$version"
archive="parity-$version-$target.tar.gz"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

sums=0
fetch "$release/SHA256SUMS" "$tmp/SHA256SUMS" || sums=$?
got=0
fetch "$release/$archive" "$tmp/$archive" || got=$?
if [ "$got" -eq 3 ]; then
  if [ "$sums" -eq 3 ]; then
    say "there is no release v$version at $base"
  else
    say "release v$version has no $archive: nothing is built for $target"
  fi
  exit 3
fi
[ "$got" -eq 0 ] || die "could not download $archive"
[ "$sums" -ne 3 ] || die "release v$version has no SHA256SUMS: refusing $archive, which cannot be verified"
[ "$sums" -eq 0 ] || die "could not download SHA256SUMS"

# The archive's line: "<64 hex>  <name>" (or "*<name>", binary mode).
listed="$(awk -v f="$archive" '$2 == f || $2 == "*" f { print tolower($1) }' "$tmp/SHA256SUMS" | sort -u)"
count="$(printf '%s' "$listed" | grep -c '^' || true)"
case "$count" in
  0) die "SHA256SUMS of v$version does not list $archive: refusing it, nothing unpacked" ;;
  1) ;;
  *) die "SHA256SUMS of v$version lists $archive with different digests: refusing it, nothing unpacked" ;;
esac
printf '%s\n' "$listed" | grep -Eq '^[0-9a-f]{64}$' \
  || die "SHA256SUMS of v$version has no SHA-256 for $archive (\`$listed\`): refusing it"
actual="$(sha256_of "$tmp/$archive")"
[ -n "$actual" ] || die "no sha256sum, shasum or openssl to verify $archive with"
[ "$actual" = "$listed" ] || die "checksum mismatch: SHA256SUMS says $archive is $listed, the download is $actual; refused, nothing unpacked"
if [ -n "${PARITY_SHA256:-}" ]; then
  pinned="$(printf '%s' "$PARITY_SHA256" | tr 'A-F' 'a-f')"
  [ "$actual" = "$pinned" ] || die "checksum mismatch: PARITY_SHA256 pins $pinned, the download is $actual; refused, nothing unpacked"
fi
say "verified $archive (sha256 $actual)"

member="parity-$version-$target/parity"
mkdir "$tmp/unpacked"
tar -xzf "$tmp/$archive" -C "$tmp/unpacked" "$member" || die "$archive holds no $member"
binary="$tmp/unpacked/$member"
if [ ! -f "$binary" ] || [ -L "$binary" ]; then die "$member in $archive is not a regular file"; fi
named="$("$binary" --version 2>&1)" || die "the released parity does not run on this machine: $named"
case "$named" in
  "parity $version "*) ;;
  *) die "the archive's parity names itself \`$named\`, not version $version" ;;
esac

mkdir -p "$dir"
cp "$binary" "$dir/.parity.$$"
chmod 0755 "$dir/.parity.$$"
mv -f "$dir/.parity.$$" "$dir/parity"
say "installed $named as $dir/parity"
case ":$PATH:" in
  *":$dir:"*) ;;
  *) say "$dir is not on PATH: export PATH=\"$dir:\$PATH\"" ;;
esac
printf '%s\n' "$dir/parity"
