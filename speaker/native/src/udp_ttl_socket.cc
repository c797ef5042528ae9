#include "udp_ttl_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "errors.h"
#include "periodic_sender.h"
#include "uv_handles.h"

namespace beacon {

namespace {

// BFD Control packets are 24-ish bytes; anything bigger is truncated and then rejected.
constexpr size_t kMaxDatagram = 2048;
constexpr int kMaxPerWake = 256;

void RethrowPending(Napi::Env env) {
  if (!env.IsExceptionPending()) return;
  Napi::Error error = env.GetAndClearPendingException();
  napi_fatal_exception(env, error.Value());
}

bool ParseAddress(int family, const std::string& text, int port, sockaddr_storage* out, socklen_t* len) {
  std::memset(out, 0, sizeof(*out));
  if (family == 4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(*sin);
    return inet_pton(AF_INET, text.c_str(), &sin->sin_addr) == 1;
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(out);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(static_cast<uint16_t>(port));
  *len = sizeof(*sin6);
  return inet_pton(AF_INET6, text.c_str(), &sin6->sin6_addr) == 1;
}

}  // namespace

Napi::Function UdpTtlSocket::Define(Napi::Env env) {
  return DefineClass(env, "UdpTtlSocket",
                     {
                         InstanceMethod<&UdpTtlSocket::Send>("send"),
                         InstanceMethod<&UdpTtlSocket::Close>("close"),
                         InstanceMethod<&UdpTtlSocket::SetPeriodic>("setPeriodic"),
                         InstanceMethod<&UdpTtlSocket::ClearPeriodic>("clearPeriodic"),
                         InstanceMethod<&UdpTtlSocket::RenewPeriodicLease>("renewPeriodicLease"),
                         InstanceMethod<&UdpTtlSocket::PeriodicStats>("periodicStats"),
                         InstanceAccessor<&UdpTtlSocket::GetPort>("port"),
                     });
}

UdpTtlSocket::UdpTtlSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UdpTtlSocket>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsNumber() || !info[1].IsString() || !info[2].IsNumber() ||
      !info[3].IsNumber() || !info[4].IsFunction() || !info[5].IsFunction()) {
    ThrowTypeError(env, "UdpTtlSocket(family: 4|6, address: string, port: number, ttl: number, onMessage, onError)");
    return;
  }
  int family = info[0].As<Napi::Number>().Int32Value();
  std::string address = info[1].As<Napi::String>().Utf8Value();
  int port = info[2].As<Napi::Number>().Int32Value();
  int ttl = info[3].As<Napi::Number>().Int32Value();
  if ((family != 4 && family != 6) || port < 0 || port > 65535 || ttl < 1 || ttl > 255) {
    ThrowTypeError(env, "UdpTtlSocket: family 4 or 6, port 0..65535, ttl 1..255");
    return;
  }
  sockaddr_storage addr;
  socklen_t addr_len = 0;
  if (!ParseAddress(family, address, port, &addr, &addr_len)) {
    ThrowTypeError(env, "UdpTtlSocket: \"" + address + "\" is not an IPv" + std::to_string(family) + " address");
    return;
  }
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ThrowSystemError(env, "socket", errno);
    return;
  }
  int on = 1;
  int rc;
  const char* opt;
  if (family == 4) {
    opt = "IP_TTL";
    rc = setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl));
    if (rc == 0) {
      opt = "IP_RECVTTL";
      rc = setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &on, sizeof(on));
    }
  } else {
    opt = "IPV6_V6ONLY";  // v4 has its own socket: its TTL arrives in a different cmsg
    rc = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    if (rc == 0) {
      opt = "IPV6_UNICAST_HOPS";
      rc = setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof(ttl));
    }
    if (rc == 0) {
      opt = "IPV6_RECVHOPLIMIT";
      rc = setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof(on));
    }
  }
  if (rc < 0) {
    int err = errno;
    ::close(fd);
    ThrowSystemError(env, "setsockopt", err, opt);
    return;
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) < 0) {
    int err = errno;
    ::close(fd);
    ThrowSystemError(env, "bind", err, address + " port " + std::to_string(port));
    return;
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len) == 0) {
    port_ = ntohs(family == 4 ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                              : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  }

  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  poll_ = StartReadPoll(loop, fd, this, &UdpTtlSocket::OnPoll, &rc);
  if (poll_ == nullptr) {
    ::close(fd);
    ThrowSystemError(env, "uv_poll_start", -rc);
    return;
  }
  fd_ = fd;
  family_ = family;
  closed_ = false;
  buffer_.resize(kMaxDatagram);
  on_message_ = Napi::Persistent(info[4].As<Napi::Function>());
  on_error_ = Napi::Persistent(info[5].As<Napi::Function>());
  Ref();  // open sockets own themselves until close(), like PacketSocket
}

UdpTtlSocket::~UdpTtlSocket() { Shutdown(); }

void UdpTtlSocket::OnPoll(uv_poll_t* handle, int /*status*/, int /*events*/) {
  auto* self = static_cast<UdpTtlSocket*>(handle->data);
  if (self == nullptr || self->closed_) return;
  self->Drain();
}

void UdpTtlSocket::Drain() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  for (int i = 0; i < kMaxPerWake && !closed_; i++) {
    sockaddr_storage from{};
    iovec iov{buffer_.data(), buffer_.size()};
    alignas(cmsghdr) unsigned char control[256];
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof(from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = recvmsg(fd_, &msg, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR) continue;
      int err = errno;
      on_error_.MakeCallback(env.Global(), {SystemError(env, "recvmsg", err).Value()});
      RethrowPending(env);
      return;
    }
    // -1 when the kernel gave no TTL: the caller must then treat the packet as failing the check.
    int ttl = -1;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
          (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
        std::memcpy(&ttl, CMSG_DATA(c), sizeof(ttl));
      }
    }
    char text[INET6_ADDRSTRLEN] = {0};
    int port = 0;
    if (from.ss_family == AF_INET) {
      auto* sin = reinterpret_cast<sockaddr_in*>(&from);
      inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
      port = ntohs(sin->sin_port);
    } else if (from.ss_family == AF_INET6) {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&from);
      inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
      port = ntohs(sin6->sin6_port);
    }
    auto data = Napi::Buffer<unsigned char>::Copy(env, buffer_.data(), static_cast<size_t>(n));
    on_message_.MakeCallback(env.Global(), {data, Napi::String::New(env, text), Napi::Number::New(env, port),
                                            Napi::Number::New(env, ttl)});
    RethrowPending(env);
  }
}

Napi::Value UdpTtlSocket::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) return ThrowSystemError(env, "sendto", EBADF, "(socket is closed)");
  if (info.Length() < 3 || !info[0].IsBuffer() || !info[1].IsString() || !info[2].IsNumber())
    return ThrowTypeError(env, "send(data: Buffer, address: string, port: number)");
  auto data = info[0].As<Napi::Buffer<unsigned char>>();
  std::string address = info[1].As<Napi::String>().Utf8Value();
  int port = info[2].As<Napi::Number>().Int32Value();
  sockaddr_storage to;
  socklen_t to_len = 0;
  if (!ParseAddress(family_, address, port, &to, &to_len))
    return ThrowTypeError(env, "send: \"" + address + "\" is not an address of the socket's family");
  ssize_t n;
  do {
    n = sendto(fd_, data.Data(), data.Length(), 0, reinterpret_cast<sockaddr*>(&to), to_len);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ThrowSystemError(env, "sendto", errno, address + " port " + std::to_string(port));
  return Napi::Number::New(env, static_cast<double>(n));
}

void UdpTtlSocket::Shutdown() {
  if (closed_) return;
  closed_ = true;
  PeriodicForget(this);  // before close(): the sender thread must never send on a reused fd
  CloseHandle(poll_);
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  on_message_.Reset();
  on_error_.Reset();
}

Napi::Value UdpTtlSocket::Close(const Napi::CallbackInfo& info) {
  if (!closed_) {
    Shutdown();
    Unref();
  }
  return info.Env().Undefined();
}

// setPeriodic(data, address, port, intervalUs, detectMultOne, leaseMs): from now on the sender
// thread (periodic_sender.cc) sends `data` to address:port every intervalUs, jittered, for as
// long as the lease holds (renewPeriodicLease); a new call replaces the packet and interval,
// keeps the schedule and renews the lease.
Napi::Value UdpTtlSocket::SetPeriodic(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) return ThrowSystemError(env, "sendto", EBADF, "(socket is closed)");
  if (info.Length() < 6 || !info[0].IsBuffer() || !info[1].IsString() || !info[2].IsNumber() || !info[3].IsNumber() ||
      !info[4].IsBoolean() || !info[5].IsNumber())
    return ThrowTypeError(env,
                          "setPeriodic(data: Buffer, address: string, port: number, intervalUs: number, "
                          "detectMultOne: boolean, leaseMs: number)");
  const double lease_ms = info[5].As<Napi::Number>().DoubleValue();
  if (!(lease_ms >= 0 && lease_ms <= 600000))
    return ThrowTypeError(env, "setPeriodic: leaseMs " + std::to_string(lease_ms) + " is outside 0..600000");
  auto data = info[0].As<Napi::Buffer<unsigned char>>();
  std::string address = info[1].As<Napi::String>().Utf8Value();
  int port = info[2].As<Napi::Number>().Int32Value();
  double interval_us = info[3].As<Napi::Number>().DoubleValue();
  if (!(interval_us >= 1000 && interval_us <= 60e6))
    return ThrowTypeError(env, "setPeriodic: intervalUs " + std::to_string(interval_us) + " is outside 1000..60000000");
  sockaddr_storage to;
  socklen_t to_len = 0;
  if (!ParseAddress(family_, address, port, &to, &to_len))
    return ThrowTypeError(env, "setPeriodic: \"" + address + "\" is not an address of the socket's family");
  const int err =
      PeriodicSet(this, fd_, to, to_len, std::vector<unsigned char>(data.Data(), data.Data() + data.Length()),
                  static_cast<uint64_t>(interval_us), info[4].As<Napi::Boolean>().Value(),
                  static_cast<uint64_t>(lease_ms));
  if (err != 0) return ThrowSystemError(env, "pthread_create", err, "(the periodic sender thread)");
  return env.Undefined();
}

// renewPeriodicLease(ms): the periodic packet keeps going until `ms` from now.
Napi::Value UdpTtlSocket::RenewPeriodicLease(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowTypeError(env, "renewPeriodicLease(ms: number)");
  const double ms = info[0].As<Napi::Number>().DoubleValue();
  if (!(ms >= 0 && ms <= 600000))
    return ThrowTypeError(env, "renewPeriodicLease: ms " + std::to_string(ms) + " is outside 0..600000");
  PeriodicLease(this, static_cast<uint64_t>(ms));
  return env.Undefined();
}

Napi::Value UdpTtlSocket::ClearPeriodic(const Napi::CallbackInfo& info) {
  PeriodicClear(this);
  return info.Env().Undefined();
}

// { sent, errors, withheld, lastError? } of the periodic packets, since the socket opened.
Napi::Value UdpTtlSocket::PeriodicStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto stats = PeriodicGetStats(this);
  Napi::Object out = Napi::Object::New(env);
  out.Set("sent", Napi::Number::New(env, static_cast<double>(stats.sent)));
  out.Set("errors", Napi::Number::New(env, static_cast<double>(stats.errors)));
  out.Set("withheld", Napi::Number::New(env, static_cast<double>(stats.withheld)));
  if (stats.last_errno != 0) out.Set("lastError", Napi::String::New(env, std::strerror(stats.last_errno)));
  return out;
}

Napi::Value UdpTtlSocket::GetPort(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), port_); }

}  // namespace beacon
