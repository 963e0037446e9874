"""Generated protobuf and gRPC stubs for agentcoord.v1 (grpcio-tools; never edited by hand)."""
