// Errors thrown to JavaScript look like Node's own system errors: `code` is the errno name
// ("EADDRNOTAVAIL"), `errno` the negative libuv number, `syscall` the failing call, so the
// TypeScript side can switch on `code` exactly as it does for `net` errors.
#pragma once

#include <napi.h>

#include <string>

namespace beacon {

// Builds (does not throw) an Error for a failed syscall with the given errno value.
Napi::Error SystemError(Napi::Env env, const char* syscall, int err, const std::string& detail = "");

// Throws a system error; returns an empty value for `return ThrowSystemError(...)`.
Napi::Value ThrowSystemError(Napi::Env env, const char* syscall, int err, const std::string& detail = "");

// Throws a TypeError for a bad argument; returns an empty value.
Napi::Value ThrowTypeError(Napi::Env env, const std::string& message);

}  // namespace beacon
