"""Generated gRPC/protobuf stubs (scripts/gen-protos.sh); never edit by hand."""
