#!/usr/bin/env bash
# The spec-file workflow: a model in version control, validated, fitted, cached, compared.
#
#   bash examples/spec_workflow.sh          # sleepstudy, 2 chains x 500 draws
#   bash examples/spec_workflow.sh --fast   # shorter chains (what CI runs)
#
# Works in a scratch directory so the repository's specs/ stay untouched.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
draws=500; tune=500; logo=3
if [ "${1:-}" = "--fast" ]; then draws=150; tune=200; logo=2; fi

# 1. write a spec (in a real project: edit it in your editor and commit it)
cat > "$work/sleep.toml" <<TOML
description = "sleepstudy, correlated intercept and slope"
[data]
dataset = "sleepstudy"
[model]
formula = "Reaction ~ Days + (Days | Subject)"
[priors]
template = "weakly_informative"
[sampler]
chains = 2
draws = $draws
tune = $tune
seed = 1
[compare]
group = "Subject"
logo_max_groups = $logo
logo_draws = $draws
logo_tune = $tune
TOML

echo "== hiermodel check: validate and build, no sampling"
hiermodel check "$work/sleep.toml"

echo "== a typo is caught before anything runs (exit code 1)"
sed 's/draws = /draw = /' "$work/sleep.toml" > "$work/typo.toml"
hiermodel check "$work/typo.toml" || echo "(exit code $?)"

echo "== hiermodel fit: sample and store the run"
hiermodel fit --quiet "$work/sleep.toml"

echo "== the same spec and data again: the stored run is reused instantly"
time hiermodel fit --quiet "$work/sleep.toml"

echo "== change the model: it refits"
sed -i 's/(Days | Subject)/(Days || Subject)/' "$work/sleep.toml"
hiermodel fit --quiet "$work/sleep.toml"

echo "== the stored run, without refitting"
hiermodel report "$work/runs/sleep"

echo "== pooled vs unpooled vs hierarchical"
hiermodel compare --quiet "$work/sleep.toml"
ls "$work/runs/sleep/compare"
