#include "errors.h"

#include <uv.h>

#include <cstring>

namespace beacon {

Napi::Error SystemError(Napi::Env env, const char* syscall, int err, const std::string& detail) {
  // libuv's names match Node's `err.code` values; uv_translate_sys_error maps errno to them.
  int uv_code = uv_translate_sys_error(err);
  const char* name = uv_err_name(uv_code);
  std::string message = std::string(syscall) + " " + name + " (" + std::strerror(err) + ")";
  if (!detail.empty()) message += " " + detail;
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, name));
  error.Set("errno", Napi::Number::New(env, uv_code));
  error.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

Napi::Value ThrowSystemError(Napi::Env env, const char* syscall, int err, const std::string& detail) {
  SystemError(env, syscall, err, detail).ThrowAsJavaScriptException();
  return Napi::Value();
}

Napi::Value ThrowTypeError(Napi::Env env, const std::string& message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return Napi::Value();
}

}  // namespace beacon
