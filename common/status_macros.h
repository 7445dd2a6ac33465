#pragma once

// Early-return helpers for absl::Status / absl::StatusOr (Abseil 20220623 ships neither).

#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define PLUMB_STATUS_CONCAT_INNER_(a, b) a##b
#define PLUMB_STATUS_CONCAT_(a, b) PLUMB_STATUS_CONCAT_INNER_(a, b)

#define PLUMB_RETURN_IF_ERROR(expr)                 \
  do {                                              \
    ::absl::Status plumb_status_ = (expr);          \
    if (!plumb_status_.ok()) return plumb_status_;  \
  } while (0)

#define PLUMB_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(*tmp)

#define PLUMB_ASSIGN_OR_RETURN(lhs, expr) \
  PLUMB_ASSIGN_OR_RETURN_IMPL_(PLUMB_STATUS_CONCAT_(plumb_statusor_, __LINE__), lhs, expr)

// For conditions that cannot happen unless the program itself is wrong.
#define PLUMB_CHECK(cond)                                                              \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);    \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)
