#!/usr/bin/env bash
# Refreshes the third-party .proto files our schema imports or serves
# (protovalidate rules, google.rpc error details, grpc.health.v1). They are vendored
# (committed under third_party/proto) because buf cannot reach the Buf Schema
# Registry from our build machines; both come from Maven Central jars, which
# ship the sources beside the generated Java classes.
set -euo pipefail
cd "$(dirname "$0")/.."
PROTOVALIDATE_VERSION=1.3.0        # keep in step with @bufbuild/protovalidate in package.json
COMMON_PROTOS_VERSION=2.59.0
GRPC_SERVICES_VERSION=1.85.1
fetch() {
  mvn -q -B dependency:get -Dartifact="$1" -Dtransitive=false >&2
  echo "$HOME/.m2/repository/$(echo "$1" | awk -F: '{gsub(/\./,"/",$1); print $1"/"$2"/"$3"/"$2"-"$3".jar"}')"
}
out=third_party/proto
rm -rf "$out/buf" "$out/google" "$out/grpc"
unzip -q -o "$(fetch build.buf:protovalidate:$PROTOVALIDATE_VERSION)" 'buf/validate/validate.proto' -d "$out"
unzip -q -o "$(fetch com.google.api.grpc:proto-google-common-protos:$COMMON_PROTOS_VERSION)" 'google/rpc/error_details.proto' -d "$out"
unzip -q -o "$(fetch io.grpc:grpc-services:$GRPC_SERVICES_VERSION)" 'grpc/health/v1/health.proto' -d "$out"
echo "vendored into $out"
