#pragma once

#include <napi.h>

namespace beacon {

Napi::Value SetTcpMd5(const Napi::CallbackInfo& info);
Napi::Value ConnectTcpMd5(const Napi::CallbackInfo& info);
Napi::Value AwaitConnect(const Napi::CallbackInfo& info);

}  // namespace beacon
