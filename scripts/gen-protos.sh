#!/usr/bin/env bash
# Regenerate node_agent/_pb/ from protos/ (the agent API and the trimmed CRI v1 API).
#
#   bash scripts/gen-protos.sh
#
# Needs grpcio-tools (pip install -e '.[test]'). The output is committed and never edited by hand:
# change the .proto files and run this again. Imports are rewritten to be package-relative so the
# stubs live inside node_agent._pb without touching sys.path.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$repo/node_agent/_pb"
protos=(antrea_migrate/agent/v1/agent.proto runtime/v1/api.proto)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$repo/protos"
python -m grpc_tools.protoc -I . \
    --python_out="$work" --pyi_out="$work" --grpc_python_out="$work" \
    "${protos[@]}"

rm -rf "$out"
mkdir -p "$out"
# Flatten: agent_pb2*.py and api_pb2*.py do not collide, and a flat package keeps imports short.
for proto in "${protos[@]}"; do
    stem="${proto%.proto}"
    for suffix in _pb2.py _pb2.pyi _pb2_grpc.py; do
        cp "$work/$stem$suffix" "$out/"
    done
done
# protoc writes absolute imports from the proto package path (e.g. "from runtime.v1 import api_pb2").
sed -i -E 's/^from (antrea_migrate\.agent\.v1|runtime\.v1) import /from . import /' "$out"/*.py "$out"/*.pyi
# The grpc stubs carry no annotations and protoc writes no .pyi for them: keep mypy out of them.
sed -i '1i # mypy: ignore-errors' "$out"/*_grpc.py
cat > "$out/__init__.py" <<'PY'
"""Generated gRPC/protobuf stubs (scripts/gen-protos.sh); never edit by hand."""
PY
echo "regenerated $(ls "$out" | wc -l) files in ${out#"$repo"/}"
