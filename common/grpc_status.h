#pragma once

// Conversions between absl::Status and grpc::Status, used only at service edges.

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"

namespace plumb {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace plumb
