// beacon_native: the only native code in Beacon, kept to what the npm packages cannot do.
//  - raw-socket (1.8.1) opens AF_INET/AF_INET6 raw sockets only: no AF_PACKET and no bind(),
//    so it cannot receive or send ARP (RFC 826), which is not carried over IP at all.
//    PacketSocket is an AF_PACKET socket bound to one interface and ethertype.
//  - Node's net module has no setsockopt, so TCP_MD5SIG (RFC 2385) for BGP sessions cannot
//    be set from JavaScript: setTcpMd5 covers the listener, connectTcpMd5 the active side,
//    and awaitConnect tells when that connect finished (Node emits no 'connect' for an
//    adopted fd).
//  - Node's dgram cannot report the TTL a datagram arrived with, which BFD must check
//    (RFC 5881 §5, GTSM-style TTL 255): UdpTtlSocket reads it with recvmsg().
//  - UdpTtlSocket.setPeriodic hands a BFD session's periodic packet to a native thread that
//    sends it on time whatever the JavaScript threads are doing (periodic_sender.cc);
//    periodicSenderPriority says how far that thread's priority was raised.
//  - interfaceIndex wraps if_nametoindex, which Node does not expose either.
// Everything else (frame codecs, protocol logic) is TypeScript.
#include <napi.h>
#include <net/if.h>

#include <string>

#include "errors.h"
#include "packet_socket.h"
#include "periodic_sender.h"
#include "tcp_md5.h"
#include "udp_ttl_socket.h"

namespace beacon {
namespace {

Napi::Value InterfaceIndex(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return ThrowTypeError(env, "interfaceIndex(name: string)");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  unsigned index = if_nametoindex(name.c_str());
  if (index == 0) return ThrowSystemError(env, "if_nametoindex", errno, "interface \"" + name + "\"");
  return Napi::Number::New(env, index);
}

Napi::Value PeriodicSenderPriorityName(const Napi::CallbackInfo& info) {
  switch (PeriodicSenderPriority()) {
    case SenderPriority::kRealtime:
      return Napi::String::New(info.Env(), "realtime");
    case SenderPriority::kNice:
      return Napi::String::New(info.Env(), "nice");
    case SenderPriority::kDefault:
      return Napi::String::New(info.Env(), "default");
    case SenderPriority::kUnknown:
      break;
  }
  return info.Env().Undefined();  // the thread has not started yet
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("PacketSocket", PacketSocket::Define(env));
  exports.Set("setTcpMd5", Napi::Function::New<SetTcpMd5>(env, "setTcpMd5"));
  exports.Set("connectTcpMd5", Napi::Function::New<ConnectTcpMd5>(env, "connectTcpMd5"));
  exports.Set("awaitConnect", Napi::Function::New<AwaitConnect>(env, "awaitConnect"));
  exports.Set("UdpTtlSocket", UdpTtlSocket::Define(env));
  exports.Set("periodicSenderPriority", Napi::Function::New<PeriodicSenderPriorityName>(env, "periodicSenderPriority"));
  exports.Set("interfaceIndex", Napi::Function::New<InterfaceIndex>(env, "interfaceIndex"));
  return exports;
}

}  // namespace
}  // namespace beacon

static Napi::Object InitBeaconNative(Napi::Env env, Napi::Object exports) { return beacon::Init(env, exports); }

NODE_API_MODULE(beacon_native, InitBeaconNative)
