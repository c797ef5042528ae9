// TCP MD5 signatures (RFC 2385) for BGP sessions. The option has to be on the socket before
// the SYN leaves (active side) or on the listener before the peer's SYN arrives (passive
// side), and Node's net module exposes no setsockopt, hence these two functions.
#include "tcp_md5.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>  // not <linux/tcp.h>: uv.h already pulls this one in
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "errors.h"
#include <uv.h>

namespace beacon {

namespace {

// Parses "192.0.2.1", "2001:db8::1" or "fe80::1%eth0" into a sockaddr with the given port.
bool ParseAddress(const std::string& text, uint16_t port, sockaddr_storage* out, socklen_t* len) {
  std::memset(out, 0, sizeof(*out));
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  std::string host = text;
  uint32_t scope = 0;
  size_t percent = text.find('%');
  if (percent != std::string::npos) {
    host = text.substr(0, percent);
    std::string zone = text.substr(percent + 1);
    scope = if_nametoindex(zone.c_str());
    if (scope == 0) {
      char* end = nullptr;
      unsigned long n = std::strtoul(zone.c_str(), &end, 10);
      if (zone.empty() || *end != '\0' || n == 0) return false;
      scope = static_cast<uint32_t>(n);
    }
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) != 1) return false;
  v6->sin6_family = AF_INET6;
  v6->sin6_port = htons(port);
  v6->sin6_scope_id = scope;
  *len = sizeof(sockaddr_in6);
  return true;
}

// An IPv4 peer on an AF_INET6 socket (a dual-stack listener on "::") reaches it as a
// v4-mapped address, and the kernel only accepts the key in that form on such a socket.
void MapToSocketFamily(int domain, sockaddr_storage* addr) {
  if (domain != AF_INET6 || addr->ss_family != AF_INET) return;
  in_addr v4 = reinterpret_cast<sockaddr_in*>(addr)->sin_addr;
  sockaddr_in6 mapped{};
  mapped.sin6_family = AF_INET6;
  mapped.sin6_addr.s6_addr[10] = 0xff;
  mapped.sin6_addr.s6_addr[11] = 0xff;
  std::memcpy(&mapped.sin6_addr.s6_addr[12], &v4, 4);
  std::memset(addr, 0, sizeof(*addr));
  std::memcpy(addr, &mapped, sizeof(mapped));
}

// Returns 0 or an errno value. An empty key removes the peer's key (tcpm_keylen 0).
int ApplyMd5(int fd, const sockaddr_storage& peer, const unsigned char* key, size_t key_len) {
  int domain = 0;
  socklen_t domain_len = sizeof(domain);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &domain_len) < 0) return errno;
  tcp_md5sig sig{};
  std::memcpy(&sig.tcpm_addr, &peer, sizeof(peer));
  MapToSocketFamily(domain, &sig.tcpm_addr);
  sig.tcpm_keylen = static_cast<uint16_t>(key_len);
  std::memcpy(sig.tcpm_key, key, key_len);
  if (setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof(sig)) < 0) return errno;
  return 0;
}

bool ReadKey(const Napi::Value& value, std::string* key) {
  if (!value.IsBuffer()) return false;
  auto buffer = value.As<Napi::Buffer<unsigned char>>();
  key->assign(reinterpret_cast<const char*>(buffer.Data()), buffer.Length());
  return key->size() <= TCP_MD5SIG_MAXKEYLEN;
}

}  // namespace

// setTcpMd5(fd: number, peer: string, key: Buffer): void
Napi::Value SetTcpMd5(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string key;
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsString() || !ReadKey(info[2], &key)) {
    return ThrowTypeError(env, "setTcpMd5(fd: number, peer: string, key: Buffer of at most 80 bytes)");
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  std::string peer_text = info[1].As<Napi::String>().Utf8Value();
  sockaddr_storage peer{};
  socklen_t peer_len = 0;
  if (!ParseAddress(peer_text, 0, &peer, &peer_len)) {
    return ThrowTypeError(env, "setTcpMd5: peer \"" + peer_text + "\" is not an IPv4 or IPv6 address");
  }
  int err = ApplyMd5(fd, peer, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  if (err != 0) return ThrowSystemError(env, "setsockopt", err, "TCP_MD5SIG peer " + peer_text);
  return env.Undefined();
}

// connectTcpMd5(peer: string, port: number, key: Buffer, localAddress?: string, ttl?: number): fd
Napi::Value ConnectTcpMd5(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string key;
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsNumber() || !ReadKey(info[2], &key)) {
    return ThrowTypeError(env,
                          "connectTcpMd5(peer: string, port: number, key: Buffer of at most 80 bytes, "
                          "localAddress?: string, ttl?: number)");
  }
  std::string peer_text = info[0].As<Napi::String>().Utf8Value();
  int port = info[1].As<Napi::Number>().Int32Value();
  if (port <= 0 || port > 65535) return ThrowTypeError(env, "connectTcpMd5: port must be in 1..65535");
  sockaddr_storage peer{};
  socklen_t peer_len = 0;
  if (!ParseAddress(peer_text, static_cast<uint16_t>(port), &peer, &peer_len)) {
    return ThrowTypeError(env, "connectTcpMd5: peer \"" + peer_text + "\" is not an IPv4 or IPv6 address");
  }
  sockaddr_storage local{};
  socklen_t local_len = 0;
  bool has_local = info.Length() > 3 && info[3].IsString();
  std::string local_text;
  if (has_local) {
    local_text = info[3].As<Napi::String>().Utf8Value();
    if (!ParseAddress(local_text, 0, &local, &local_len) || local.ss_family != peer.ss_family) {
      return ThrowTypeError(env, "connectTcpMd5: localAddress \"" + local_text +
                                     "\" is not an address of the same family as peer \"" + peer_text + "\"");
    }
  }
  int ttl = 0;
  if (info.Length() > 4 && info[4].IsNumber()) {
    ttl = info[4].As<Napi::Number>().Int32Value();
    if (ttl < 1 || ttl > 255) return ThrowTypeError(env, "connectTcpMd5: ttl must be in 1..255");
  }

  int fd = socket(peer.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowSystemError(env, "socket", errno);
  const char* failed = nullptr;
  int err = 0;
  std::string detail = "peer " + peer_text;
  if (!key.empty()) {
    err = ApplyMd5(fd, peer, reinterpret_cast<const unsigned char*>(key.data()), key.size());
    if (err != 0) failed = "setsockopt", detail = "TCP_MD5SIG " + detail;
  }
  if (failed == nullptr && ttl > 0) {
    // ebgpMultiHop: the session's TTL (IPv4) or hop limit (IPv6) on every segment.
    int rc = peer.ss_family == AF_INET ? setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl))
                                       : setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof(ttl));
    if (rc < 0) err = errno, failed = "setsockopt", detail = "TTL " + std::to_string(ttl);
  }
  if (failed == nullptr && has_local) {
    if (bind(fd, reinterpret_cast<sockaddr*>(&local), local_len) < 0) {
      err = errno, failed = "bind", detail = "local address " + local_text;
    }
  }
  if (failed == nullptr) {
    int rc;
    do {
      rc = connect(fd, reinterpret_cast<sockaddr*>(&peer), peer_len);
    } while (rc < 0 && errno == EINTR);
    // EINPROGRESS is the normal answer of a non-blocking connect; the handshake goes on in
    // the kernel and the fd turns writable when it is done (or failed).
    if (rc < 0 && errno != EINPROGRESS) {
      err = errno, failed = "connect", detail = peer_text + ":" + std::to_string(port);
    }
  }
  if (failed != nullptr) {
    ::close(fd);
    return ThrowSystemError(env, failed, err, detail);
  }
  return Napi::Number::New(env, fd);
}

namespace {

// Node adopts a connecting fd (new net.Socket({ fd })) but never emits 'connect' for it, and
// writes to it are accepted before the handshake ends, so nothing in JavaScript tells when
// the session's TCP connection is up. This waits for the fd to turn writable, reads SO_ERROR,
// and reports after both libuv handles are closed, so the fd is no longer watched by libuv
// when JavaScript hands it to net.Socket (one fd must not have two watchers on one loop).
struct ConnectWait {
  uv_poll_t poll;
  uv_timer_t timer;
  napi_env env;
  Napi::FunctionReference callback;
  int fd;
  int result = 0;  // errno value, 0 when connected
  int open_handles = 2;
  bool finished = false;
};

void OnWaitHandleClosed(uv_handle_t* handle) {
  auto* wait = static_cast<ConnectWait*>(handle->data);
  if (--wait->open_handles > 0) return;
  Napi::Env env(wait->env);
  {
    Napi::HandleScope scope(env);
    Napi::Value arg = wait->result == 0
                          ? env.Null()
                          : SystemError(env, "connect", wait->result, "fd " + std::to_string(wait->fd)).Value();
    wait->callback.MakeCallback(env.Global(), {arg});
    if (env.IsExceptionPending()) napi_fatal_exception(env, env.GetAndClearPendingException().Value());
  }
  delete wait;
}

void FinishWait(ConnectWait* wait, int result) {
  if (wait->finished) return;
  wait->finished = true;
  wait->result = result;
  uv_close(reinterpret_cast<uv_handle_t*>(&wait->poll), OnWaitHandleClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&wait->timer), OnWaitHandleClosed);
}

void OnConnectPoll(uv_poll_t* handle, int status, int /*events*/) {
  auto* wait = static_cast<ConnectWait*>(handle->data);
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(wait->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err == 0 && status < 0) err = -status;
  FinishWait(wait, err);
}

void OnConnectTimeout(uv_timer_t* handle) { FinishWait(static_cast<ConnectWait*>(handle->data), ETIMEDOUT); }

}  // namespace

// awaitConnect(fd: number, timeoutMs: number, callback: (err: Error | null) => void): void
Napi::Value AwaitConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsFunction()) {
    return ThrowTypeError(env, "awaitConnect(fd: number, timeoutMs: number, callback: Function)");
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  int64_t timeout = info[1].As<Napi::Number>().Int64Value();
  if (fd < 0 || timeout <= 0) return ThrowTypeError(env, "awaitConnect: fd must be >= 0 and timeoutMs > 0");
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  auto* wait = new ConnectWait();
  wait->env = env;
  wait->fd = fd;
  int rc = uv_poll_init(loop, &wait->poll, fd);
  if (rc != 0) {
    delete wait;
    return ThrowSystemError(env, "uv_poll_init", -rc, "fd " + std::to_string(fd));
  }
  uv_timer_init(loop, &wait->timer);
  wait->poll.data = wait;
  wait->timer.data = wait;
  wait->callback = Napi::Persistent(info[2].As<Napi::Function>());
  rc = uv_poll_start(&wait->poll, UV_WRITABLE, OnConnectPoll);
  if (rc != 0) {
    // Reported through the callback, after the handles are closed, like any other outcome.
    FinishWait(wait, -rc);
    return env.Undefined();
  }
  uv_update_time(loop);  // the cached loop time may be stale inside a JS call
  uv_timer_start(&wait->timer, OnConnectTimeout, static_cast<uint64_t>(timeout), 0);
  return env.Undefined();
}

}  // namespace beacon
