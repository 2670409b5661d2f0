#!/usr/bin/env bash
# antrea-migrate.sh: the seed's migration script, kept as a thin wrapper over `kubectl antrea-migrate`.
#
# Every step the seed did by hand (drain, install Antrea, convert policies, restart pods, remove
# Calico, clean the nodes) is now one resumable command; this script only maps its verbs onto the
# plugin's commands and passes every other argument through unchanged. The exit code is the plugin's:
# 0 ok, 1 blockers/refused, 2 bad usage, 3 cluster or agent failure.
#
# Usage:
#   ./antrea-migrate.sh check    [check options]   # every blocker, per node, with the fix
#   ./antrea-migrate.sh plan     [run options]     # = run --plan: the ordered plan, changes nothing
#   ./antrea-migrate.sh migrate  [run options]     # = run: migrate (or resume) node by node
#   ./antrea-migrate.sh status   [-o json|yaml]    # progress, lock holder, cordoned nodes
#   ./antrea-migrate.sh rollback [rollback options]
#   ./antrea-migrate.sh <any other plugin command and options>
#
# Examples:
#   ./antrea-migrate.sh plan --antrea-manifest antrea.yml
#   ./antrea-migrate.sh migrate --strategy multus --batch-size 5 --antrea-manifest antrea.yml --yes
#
# Environment:
#   ANTREA_MIGRATE  the plugin command (default: kubectl-antrea_migrate on PATH, else
#                   `kubectl antrea-migrate`, else the Python package's entry point).
#   KUBECONFIG      honoured by the plugin, like kubectl.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

plugin() {
    if [[ -n "${ANTREA_MIGRATE:-}" ]]; then
        read -r -a cmd <<<"$ANTREA_MIGRATE"
    elif command -v kubectl-antrea_migrate >/dev/null 2>&1; then
        cmd=(kubectl-antrea_migrate)
    elif command -v kubectl >/dev/null 2>&1 && kubectl plugin list 2>/dev/null | grep -q 'kubectl-antrea_migrate'; then
        cmd=(kubectl antrea-migrate)
    else
        cmd=(python3 -c 'from kubectl_antrea_migrate.cli.app import main; main()')
    fi
    exec "${cmd[@]}" "$@"
}

verb="${1:-help}"
[[ $# -gt 0 ]] && shift
case "$verb" in
    help|-h|--help) usage ;;
    plan) plugin run --plan "$@" ;;
    migrate) plugin run "$@" ;;
    *) plugin "$verb" "$@" ;;
esac
