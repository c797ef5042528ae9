// UdpTtlSocket: a UDP socket that reports the TTL / hop limit each datagram arrived with and
// sends with a fixed one. BFD needs both (RFC 5881 §5: send with TTL 255, discard anything that
// did not arrive with 255), and Node's dgram can set the outgoing TTL but never reports the
// received one: that needs IP_RECVTTL / IPV6_RECVHOPLIMIT and recvmsg() control messages.
#pragma once

#include <napi.h>
#include <uv.h>

#include <vector>

namespace beacon {

class UdpTtlSocket : public Napi::ObjectWrap<UdpTtlSocket> {
 public:
  static Napi::Function Define(Napi::Env env);

  // new UdpTtlSocket(family 4|6, address, port, ttl, onMessage(data, address, port, ttl), onError(err))
  // Port 0 binds an ephemeral port; the bound port is `port`. ttl is also the hop limit (v6).
  explicit UdpTtlSocket(const Napi::CallbackInfo& info);
  ~UdpTtlSocket() override;

 private:
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetPort(const Napi::CallbackInfo& info);
  Napi::Value SetPeriodic(const Napi::CallbackInfo& info);
  Napi::Value ClearPeriodic(const Napi::CallbackInfo& info);
  Napi::Value RenewPeriodicLease(const Napi::CallbackInfo& info);
  Napi::Value PeriodicStats(const Napi::CallbackInfo& info);

  static void OnPoll(uv_poll_t* handle, int status, int events);
  void Drain();
  void Shutdown();

  int fd_ = -1;
  int family_ = 0;
  int port_ = 0;
  bool closed_ = true;
  uv_poll_t* poll_ = nullptr;
  std::vector<unsigned char> buffer_;
  Napi::FunctionReference on_message_;
  Napi::FunctionReference on_error_;
};

}  // namespace beacon
