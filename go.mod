module github.com/pocket-sync/pocket-sync

go 1.26.8

require (
	connectrpc.com/connect v1.19.1
	github.com/pocket-sync/pocket-sync/gen/go v0.0.0
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261110000943-09e21b237f2c
	google.golang.org/protobuf v1.36.12
)

require buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go v1.36.12-20260825204119-511051f7f437.2 // indirect

replace github.com/pocket-sync/pocket-sync/gen/go => ./gen/go
