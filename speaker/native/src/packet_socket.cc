#include "packet_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "errors.h"
#include "uv_handles.h"

namespace beacon {

namespace {

// Larger than any frame on a standard or jumbo-MTU link; recvfrom truncates the rest.
constexpr size_t kMaxFrame = 65536;
// Frames handled per wake-up before yielding to the loop; the poll handle is level-triggered,
// so whatever is left is read on the next iteration.
constexpr int kMaxFramesPerWake = 256;
// Receive buffer asked for. The default (net.core.rmem_default, 208 KiB) holds ~270 small
// frames, i.e. 2 ms of an ARP storm at 130,000 requests/s: a speaker descheduled that long on
// a busy node drops requests it would have answered. The kernel doubles the value and caps
// it at net.core.rmem_max; SO_RCVBUFFORCE is not used, the speaker only has CAP_NET_RAW.
constexpr int kReceiveBuffer = 1 << 20;
// Frames the answer thread holds for a loop that is behind; beyond that it drops them, as a
// full receive buffer would.
constexpr size_t kMaxQueued = 4096;
// Frames per second the answer thread hands to the loop, and the burst it may hand at once.
// Anyone on the segment can send frames the thread cannot settle (malformed ones, claims of
// an owned IP from random MACs); without a bound each costs the loop a copy, a decode and a
// decision, and a flood of them delays the speaker's membership heartbeats until peers are
// declared dead. 2,000/s at a few microseconds each is a few per cent of one core; past it
// frames are dropped and counted (overload), which only delays a conflict report.
constexpr double kLoopFramesPerSecond = 2000;
constexpr double kLoopBurst = 512;

int64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

uint32_t Be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
uint16_t Be16(const unsigned char* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// The ICMPv6 checksum (RFC 4443 §2.3) of `len` message bytes over the IPv6 pseudo-header
// (RFC 8200 §8.1) with next header 58, as upperLayerChecksum() in speaker/layer2/wire/ipv6.ts computes
// it: 0 for a received message that verifies, the value to write for one with a zero field.
uint16_t Icmpv6Checksum(const unsigned char* src, const unsigned char* dst, const unsigned char* msg, size_t len) {
  uint64_t sum = len + 58;  // upper-layer length (< 65536 here) and next header
  for (int i = 0; i < 16; i += 2) sum += Be16(src + i) + Be16(dst + i);
  for (size_t i = 0; i + 1 < len; i += 2) sum += Be16(msg + i);
  if (len % 2 != 0) sum += uint64_t{msg[len - 1]} << 8;  // RFC 1071 §4.1: pad with zero
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}

// A JS callback that threw must surface as an uncaught exception, as it would for any
// event emitter, instead of being left pending on a native frame that nobody checks.
void RethrowPending(Napi::Env env) {
  if (!env.IsExceptionPending()) return;
  Napi::Error error = env.GetAndClearPendingException();
  napi_fatal_exception(env, error.Value());
}

}  // namespace

Napi::Function PacketSocket::Define(Napi::Env env) {
  return DefineClass(env, "PacketSocket",
                     {
                         InstanceMethod<&PacketSocket::Send>("send"),
                         InstanceMethod<&PacketSocket::AddMembership>("addMembership"),
                         InstanceMethod<&PacketSocket::AttachFilter>("attachFilter"),
                         InstanceMethod<&PacketSocket::Close>("close"),
                         InstanceAccessor<&PacketSocket::GetHardwareAddress>("hardwareAddress"),
                         InstanceAccessor<&PacketSocket::GetClosed>("closed"),
                         InstanceMethod<&PacketSocket::SetArpAnswers>("setArpAnswers"),
                         InstanceMethod<&PacketSocket::TakeArpAnswered>("takeArpAnswered"),
                         InstanceMethod<&PacketSocket::SetNdpAnswers>("setNdpAnswers"),
                         InstanceMethod<&PacketSocket::TakeNdpAnswered>("takeNdpAnswered"),
                         InstanceMethod<&PacketSocket::SetAnswerDeadline>("setAnswerDeadline"),
                         InstanceMethod<&PacketSocket::TakeDropped>("takeDropped"),
                         InstanceMethod<&PacketSocket::SetLoopBudget>("setLoopBudget"),
                         InstanceMethod<&PacketSocket::SetAnswerDeadlineCell>("setAnswerDeadlineCell"),
                     });
}

PacketSocket::PacketSocket(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<PacketSocket>(info), loop_rate_(kLoopFramesPerSecond), loop_burst_(kLoopBurst) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsFunction() ||
      !info[3].IsFunction()) {
    ThrowTypeError(env, "PacketSocket(ifindex: number, ethertype: number, onFrame: Function, onError: Function)");
    return;
  }
  int ifindex = info[0].As<Napi::Number>().Int32Value();
  int ethertype = info[1].As<Napi::Number>().Int32Value();
  if (ifindex <= 0 || ethertype <= 0 || ethertype > 0xffff) {
    ThrowTypeError(env, "PacketSocket: ifindex must be > 0 and ethertype in 1..65535");
    return;
  }

  // SOCK_RAW keeps the Ethernet header: the responder needs the requester's MAC and writes
  // whole frames. Binding with the protocol set means the kernel only queues that ethertype.
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(static_cast<uint16_t>(ethertype)));
  if (fd < 0) {
    ThrowSystemError(env, "socket", errno, "(AF_PACKET needs CAP_NET_RAW)");
    return;
  }
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(static_cast<uint16_t>(ethertype));
  addr.sll_ifindex = ifindex;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
    int err = errno;
    ::close(fd);
    ThrowSystemError(env, "bind", err, "ifindex " + std::to_string(ifindex));
    return;
  }
  // Best effort: a smaller buffer only means drops under bursts, never wrong answers.
  int rcvbuf = kReceiveBuffer;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  // After bind, getsockname reports the interface's hardware address (packet_getname).
  sockaddr_ll bound{};
  socklen_t bound_len = sizeof(bound);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len) == 0 && bound.sll_halen <= 8) {
    hwaddr_len_ = bound.sll_halen;
    std::memcpy(hwaddr_, bound.sll_addr, hwaddr_len_);
  }

  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  bool answer_thread = info.Length() > 4 && info[4].ToBoolean().Value();
  if (answer_thread) {
    // The thread reads; the loop only hears about frames the thread did not answer.
    stop_fd_ = eventfd(0, EFD_CLOEXEC);
    async_ = new uv_async_t;
    int rc = stop_fd_ < 0 ? -errno : uv_async_init(loop, async_, &PacketSocket::OnQueued);
    if (rc != 0) {
      delete async_;
      async_ = nullptr;
      if (stop_fd_ >= 0) ::close(stop_fd_);
      stop_fd_ = -1;
      ::close(fd);
      ThrowSystemError(env, "uv_async_init", -rc);
      return;
    }
    async_->data = this;
  } else {
    int rc = 0;
    poll_ = StartReadPoll(loop, fd, this, &PacketSocket::OnPoll, &rc);
    if (poll_ == nullptr) {
      ::close(fd);
      ThrowSystemError(env, "uv_poll_start", -rc);
      return;
    }
  }

  fd_ = fd;
  ifindex_ = ifindex;
  closed_ = false;
  buffer_.resize(kMaxFrame);
  async_context_ = std::make_unique<Napi::AsyncContext>(env, "PacketSocket");
  on_frame_ = Napi::Persistent(info[2].As<Napi::Function>());
  on_error_ = Napi::Persistent(info[3].As<Napi::Function>());
  // While open, the socket owns itself: dropping the last JS reference must not stop it
  // answering ARP. close() releases this.
  Ref();
  if (answer_thread) thread_ = std::thread(&PacketSocket::RunAnswerThread, this);
}

PacketSocket::~PacketSocket() { Shutdown(); }

void PacketSocket::OnPoll(uv_poll_t* handle, int status, int /*events*/) {
  auto* self = static_cast<PacketSocket*>(handle->data);
  if (self == nullptr || self->closed_) return;
  if (status < 0) {
    // libuv reports POLLERR as a status; the socket error itself is read by recvfrom below.
    self->Drain();
    return;
  }
  self->Drain();
}

ssize_t PacketSocket::ReadFrame(int* pkttype) {
  for (;;) {
    sockaddr_ll from{};
    socklen_t from_len = sizeof(from);
    ssize_t n = recvfrom(fd_, buffer_.data(), buffer_.size(), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      if (errno == EINTR) continue;
      return -errno;
    }
    // Taps see frames leaving the host as PACKET_OUTGOING. A socket bound to one ethertype
    // gets none on current kernels (only ETH_P_ALL taps do), but never answer ourselves.
    if (from.sll_pkttype == PACKET_OUTGOING) continue;
    *pkttype = from.sll_pkttype;
    return n;
  }
}

void PacketSocket::Drain() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  // Entered once for the whole batch (see async_context_); each frame is a plain call.
  Napi::CallbackScope callback_scope(env, *async_context_);
  Napi::Object receiver = env.Global();
  for (int i = 0; i < kMaxFramesPerWake && !closed_; i++) {
    int pkttype = 0;
    ssize_t n = ReadFrame(&pkttype);
    if (n == 0) return;
    if (n < 0) {
      // ENETDOWN and friends: the link went away. Report it; the socket stays usable if the
      // interface comes back, and closing it is the caller's decision.
      ReportError(static_cast<int>(-n), "recvfrom");
      return;
    }
    // A copy the callback owns: it may keep the frame, and buffer_ is reused by the next read.
    Napi::Buffer<unsigned char> frame = Napi::Buffer<unsigned char>::Copy(env, buffer_.data(), static_cast<size_t>(n));
    on_frame_.Call(receiver, {frame, Napi::Number::New(env, pkttype)});
    RethrowPending(env);
  }
}

void PacketSocket::ReportError(int err, const char* syscall) {
  // Called from Drain, inside its callback scope.
  Napi::Env env = Env();
  Napi::Error error = SystemError(env, syscall, err, "ifindex " + std::to_string(ifindex_));
  on_error_.Call(env.Global(), {error.Value()});
  RethrowPending(env);
}

Napi::Value PacketSocket::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) return ThrowSystemError(env, "send", EBADF, "(socket is closed)");
  if (info.Length() < 1 || !info[0].IsBuffer()) return ThrowTypeError(env, "send(frame: Buffer)");
  auto frame = info[0].As<Napi::Buffer<unsigned char>>();
  ssize_t n;
  do {
    n = ::send(fd_, frame.Data(), frame.Length(), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ThrowSystemError(env, "send", errno, "ifindex " + std::to_string(ifindex_));
  return Napi::Number::New(env, static_cast<double>(n));
}

Napi::Value PacketSocket::AddMembership(const Napi::CallbackInfo& info) {
  // Real NICs drop multicast frames whose MAC they were not told about; an NDP listener on
  // a packet socket must join the solicited-node group's 33:33:ff:xx:xx:xx address.
  Napi::Env env = info.Env();
  if (closed_) return ThrowSystemError(env, "setsockopt", EBADF, "(socket is closed)");
  if (info.Length() < 1 || !info[0].IsBuffer()) return ThrowTypeError(env, "addMembership(mac: Buffer)");
  auto mac = info[0].As<Napi::Buffer<unsigned char>>();
  if (mac.Length() != 6) return ThrowTypeError(env, "addMembership: mac must be 6 bytes");
  packet_mreq mreq{};
  mreq.mr_ifindex = ifindex_;
  mreq.mr_type = PACKET_MR_MULTICAST;
  mreq.mr_alen = 6;
  std::memcpy(mreq.mr_address, mac.Data(), 6);
  if (setsockopt(fd_, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) < 0) {
    return ThrowSystemError(env, "setsockopt", errno, "PACKET_ADD_MEMBERSHIP");
  }
  return env.Undefined();
}

Napi::Value PacketSocket::AttachFilter(const Napi::CallbackInfo& info) {
  // A classic BPF program (SO_ATTACH_FILTER) so the kernel drops what the socket does not
  // need before it is copied to userspace: an ETH_P_IPV6 socket would otherwise see every
  // IPv6 packet on the link. The buffer holds packed struct sock_filter (8 bytes each).
  Napi::Env env = info.Env();
  if (closed_) return ThrowSystemError(env, "setsockopt", EBADF, "(socket is closed)");
  if (info.Length() < 1 || !info[0].IsBuffer()) return ThrowTypeError(env, "attachFilter(program: Buffer)");
  auto program = info[0].As<Napi::Buffer<unsigned char>>();
  size_t count = program.Length() / sizeof(sock_filter);
  if (count == 0 || count > BPF_MAXINSNS || program.Length() % sizeof(sock_filter) != 0) {
    return ThrowTypeError(env, "attachFilter: program must be 1..4096 packed sock_filter instructions");
  }
  std::vector<sock_filter> code(count);
  std::memcpy(code.data(), program.Data(), program.Length());
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(count);
  prog.filter = code.data();
  if (setsockopt(fd_, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0) {
    return ThrowSystemError(env, "setsockopt", errno, "SO_ATTACH_FILTER");
  }
  return env.Undefined();
}

void PacketSocket::Shutdown() {
  if (closed_) return;
  closed_ = true;
  if (thread_.joinable()) {
    // The thread wakes from poll() on stop_fd_ and returns; it never blocks anywhere else.
    uint64_t one = 1;
    ssize_t ignored = write(stop_fd_, &one, sizeof(one));
    (void)ignored;
    thread_.join();
  }
  if (stop_fd_ >= 0) {
    ::close(stop_fd_);
    stop_fd_ = -1;
  }
  CloseHandle(async_);
  CloseHandle(poll_);  // stops polling at once: the fd can be closed right after
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  on_frame_.Reset();
  on_error_.Reset();
  // async_context_ lives until the destructor: close() may run inside Drain's callback scope.
}

Napi::Value PacketSocket::Close(const Napi::CallbackInfo& info) {
  if (!closed_) {
    Shutdown();
    Unref();
  }
  return info.Env().Undefined();
}

Napi::Value PacketSocket::GetHardwareAddress(const Napi::CallbackInfo& info) {
  return Napi::Buffer<unsigned char>::Copy(info.Env(), hwaddr_, hwaddr_len_);
}

Napi::Value PacketSocket::GetClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), closed_);
}

// --- Answer thread mode ----------------------------------------------------------------
//
// Why: on a veth the kernel answers ARP inside the requester's send(), while a responder on
// the Node loop adds, on top of the unavoidable wake-up of some process, a libuv turn, a
// callback scope, a Buffer copy, the JS decision and a second N-API call to send (about 4 µs
// in the l2-arp bench, where a C responder that only blocks, builds and sends is the floor).
// So the common answers are taken here: an ARP request for an owned IP that is not a
// conflict, and a Neighbor Solicitation for an owned IPv6 address from a solicitor with an
// address, the same bytes, under the same conditions, as decideArpBytes() and
// decideNdpBytes() in speaker/layer2/responder/fast-path.ts (responder-fast-path.test.ts holds those to
// the full decoder; packet-socket.test.ts holds this code to them). Everything else,
// including any frame whose reply could not be sent, goes to onFrame as before, so
// duplicate-responder checks, malformed counts, DAD, advertisements and send errors stay in
// TypeScript; only what the hot path answers is here, which keeps this the smallest code
// that removes the loop from the common answer. The tables are what JS last set (each
// replaced whole, under mu_); replies are counted per address until JS takes the counts, so
// an answer costs the loop no wake-up at all.

Napi::Value PacketSocket::SetArpAnswers(const Napi::CallbackInfo& info) {
  // setArpAnswers(mac: Buffer(6), ips: Uint32Array of host-order IPv4 values)
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsBuffer() || !info[1].IsTypedArray())
    return ThrowTypeError(env, "setArpAnswers(mac: Buffer, ips: Uint32Array)");
  auto mac = info[0].As<Napi::Buffer<unsigned char>>();
  auto ips = info[1].As<Napi::TypedArray>();
  if (mac.Length() != 6 || ips.TypedArrayType() != napi_uint32_array)
    return ThrowTypeError(env, "setArpAnswers: mac must be 6 bytes and ips a Uint32Array");
  if (!thread_.joinable()) return ThrowTypeError(env, "setArpAnswers: the socket has no answer thread");
  auto table = std::make_shared<ArpAnswers>();
  std::memcpy(table->mac, mac.Data(), 6);
  auto values = ips.As<Napi::Uint32Array>();
  table->ips.assign(values.Data(), values.Data() + values.ElementLength());
  std::sort(table->ips.begin(), table->ips.end());
  std::lock_guard<std::mutex> lock(mu_);
  answers_ = std::move(table);
  return env.Undefined();
}

Napi::Value PacketSocket::TakeArpAnswered(const Napi::CallbackInfo& info) {
  // [ip, count, ip, count, ...] of the replies sent since the last call.
  Napi::Env env = info.Env();
  std::unordered_map<uint32_t, double> taken;
  {
    std::lock_guard<std::mutex> lock(mu_);
    taken.swap(answered_);
  }
  Napi::Array out = Napi::Array::New(env, taken.size() * 2);
  uint32_t i = 0;
  for (const auto& [ip, count] : taken) {
    out.Set(i++, Napi::Number::New(env, ip));
    out.Set(i++, Napi::Number::New(env, count));
  }
  return out;
}

bool PacketSocket::TryAnswerArp(const unsigned char* f, size_t n) {
  // Untagged Ethernet II ARP, RFC 826 layout: 0 dst 6 src 12 type | 14 hrd 16 pro 18 hln
  // 19 pln 20 op 22 sha 28 spa 32 tha 38 tpa; 42 bytes before padding.
  // Must decide as decideArpBytes() in speaker/layer2/responder/fast-path.ts (and so decideFrame() in
  // speaker/layer2/responder/decide.ts) does: answer exactly the requests it answers, with the same bytes.
  if (n < 42 || Be16(f + 12) != 0x0806 || Be32(f + 14) != 0x00010800 || Be16(f + 18) != 0x0604) return false;
  const uint16_t op = Be16(f + 20);
  if (op != 1 && op != 2) return false;
  static const unsigned char zero[6] = {0};
  if ((f[22] & 1) != 0 || std::memcmp(f + 22, zero, 6) == 0) return false;  // malformed sha
  std::shared_ptr<const ArpAnswers> table;
  {
    std::lock_guard<std::mutex> lock(mu_);
    table = answers_;
  }
  if (!table) return false;
  uint32_t spa = Be32(f + 28);
  uint32_t tpa = Be32(f + 38);
  auto owns = [&](uint32_t ip) { return std::binary_search(table->ips.begin(), table->ips.end(), ip); };
  // A well-formed frame naming no owned address is one decideArpBytes() ignores without a
  // trace; the socket filter drops them in the kernel, but only up to ARP_FILTER_MAX_IPS
  // owned addresses (speaker/layer2/responder/bpf-filter.ts). Past that every ARP frame on the segment
  // reaches this thread, and it must not reach the loop.
  if (!owns(spa) && !owns(tpa)) {
    dropped_not_owned_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  // An owned sender may be a duplicate responder, a gratuitous frame is no question: JS decides.
  if (op != 1 || spa == tpa || owns(spa)) return false;
  static const unsigned char broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  if (std::memcmp(f, broadcast, 6) != 0 && std::memcmp(f, table->mac, 6) != 0) return false;
  if (!AnswerAllowed()) {
    dropped_fenced_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  unsigned char reply[42];
  std::memcpy(reply, f + 22, 6);  // to the requester's sha
  std::memcpy(reply + 6, table->mac, 6);
  std::memcpy(reply + 12, f + 12, 8);  // ethertype, hrd, pro, hln, pln
  reply[20] = 0;
  reply[21] = 2;
  std::memcpy(reply + 22, table->mac, 6);
  std::memcpy(reply + 28, f + 38, 4);   // spa: the requested IP
  std::memcpy(reply + 32, f + 22, 10);  // tha, tpa: the requester's
  ssize_t sent;
  do {
    sent = ::send(fd_, reply, sizeof(reply), 0);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return false;  // JS sends again and counts the error
  std::lock_guard<std::mutex> lock(mu_);
  answered_[tpa] += 1;
  return true;
}

Napi::Value PacketSocket::SetNdpAnswers(const Napi::CallbackInfo& info) {
  // setNdpAnswers(mac: Buffer(6), targets: Buffer of 16-byte IPv6 addresses)
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsBuffer() || !info[1].IsBuffer())
    return ThrowTypeError(env, "setNdpAnswers(mac: Buffer, targets: Buffer)");
  auto mac = info[0].As<Napi::Buffer<unsigned char>>();
  auto targets = info[1].As<Napi::Buffer<unsigned char>>();
  if (mac.Length() != 6 || targets.Length() % 16 != 0)
    return ThrowTypeError(env, "setNdpAnswers: mac must be 6 bytes and targets a multiple of 16 bytes");
  if (!thread_.joinable()) return ThrowTypeError(env, "setNdpAnswers: the socket has no answer thread");
  auto table = std::make_shared<NdpAnswers>();
  std::memcpy(table->mac, mac.Data(), 6);
  table->ips.resize(targets.Length() / 16);
  for (size_t i = 0; i < table->ips.size(); i++) std::memcpy(table->ips[i].data(), targets.Data() + i * 16, 16);
  std::sort(table->ips.begin(), table->ips.end());
  std::lock_guard<std::mutex> lock(mu_);
  ndp_answers_ = std::move(table);
  return env.Undefined();
}

Napi::Value PacketSocket::TakeNdpAnswered(const Napi::CallbackInfo& info) {
  // [target (Buffer of 16), count, target, count, ...] of the NAs sent since the last call.
  Napi::Env env = info.Env();
  std::map<Ipv6, double> taken;
  {
    std::lock_guard<std::mutex> lock(mu_);
    taken.swap(ndp_answered_);
  }
  Napi::Array out = Napi::Array::New(env, taken.size() * 2);
  uint32_t i = 0;
  for (const auto& [ip, count] : taken) {
    out.Set(i++, Napi::Buffer<unsigned char>::Copy(env, ip.data(), ip.size()));
    out.Set(i++, Napi::Number::New(env, count));
  }
  return out;
}

bool PacketSocket::TryAnswerNdp(const unsigned char* f, size_t n) {
  // An untagged Neighbor Solicitation without extension headers (RFC 4861 §4.3): 12 type
  // 14 version 18 payload length 20 next header 21 hop limit 22 source 38 destination |
  // 54 ICMPv6 type 55 code 56 checksum 58 reserved 62 target 78 options. Every check is one
  // of decideNdpBytes() in speaker/layer2/responder/fast-path.ts; a frame failing any of them goes to JS,
  // which decides it in full (decideFrame() in speaker/layer2/responder/decide.ts).
  if (n < 78 || Be16(f + 12) != 0x86dd || (f[14] >> 4) != 6 || f[20] != 58 || f[21] != 255) return false;
  const size_t end = 54 + size_t{Be16(f + 18)};  // what follows is link-layer padding
  if (end > n || end < 78 || f[54] != 135 || f[55] != 0) return false;
  if (f[62] == 0xff) return false;  // multicast target: malformed (§7.1.1)
  // DAD (source ::, §7.2.4: answered to all-nodes with S=0) is rare, in no one's latency path,
  // and has validity rules of its own (§7.1.1); JS answers it.
  static const unsigned char zero[16] = {0};
  if (std::memcmp(f + 22, zero, 16) == 0) return false;
  std::shared_ptr<const NdpAnswers> table;
  {
    std::lock_guard<std::mutex> lock(mu_);
    table = ndp_answers_;
  }
  if (!table) return false;
  Ipv6 target;
  std::memcpy(target.data(), f + 62, 16);
  if (!std::binary_search(table->ips.begin(), table->ips.end(), target)) return false;
  // §7.1.1/§7.2.3: to the target's solicited-node group (ff02::1:ffXX:XXXX) at its MAC
  // (33:33:ff:XX:XX:XX), or a unicast NUD probe to the target itself at our MAC.
  static const unsigned char solicited_node[13] = {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
  const bool to_group = std::memcmp(f + 38, solicited_node, 13) == 0 && std::memcmp(f + 51, f + 75, 3) == 0 &&
                        f[0] == 0x33 && f[1] == 0x33 && std::memcmp(f + 2, f + 50, 4) == 0;
  const bool to_us = std::memcmp(f + 38, f + 62, 16) == 0 && std::memcmp(f, table->mac, 6) == 0;
  if (!to_group && !to_us) return false;
  // Options (§4.6): a zero or overrunning length is malformed, a link-layer option is exactly
  // 8 bytes on Ethernet (RFC 2464 §6), the first source link-layer address counts.
  const unsigned char* source_link = nullptr;
  for (size_t at = 78; at < end;) {
    if (at + 2 > end) return false;
    const size_t length = size_t{f[at + 1]} * 8;
    if (length == 0 || at + length > end) return false;
    if (f[at] == 1 || f[at] == 2) {
      if (length != 8) return false;
      if (f[at] == 1 && source_link == nullptr) source_link = f + at + 2;
    }
    at += length;
  }
  if (Icmpv6Checksum(f + 22, f + 38, f + 54, end - 54) != 0) return false;
  if (!AnswerAllowed()) {
    dropped_fenced_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  // The NA (§7.2.4): from the target to the solicitor, at its link-layer option or else its
  // Ethernet source; S=1 O=1 (see speaker/layer2/responder/decide.ts for O), our MAC as target link-layer
  // address (option 2, one unit).
  unsigned char na[86] = {0};
  std::memcpy(na, source_link != nullptr ? source_link : f + 6, 6);
  std::memcpy(na + 6, table->mac, 6);
  na[12] = 0x86;
  na[13] = 0xdd;
  na[14] = 0x60;
  na[19] = 32;  // payload length
  na[20] = 58;
  na[21] = 255;
  std::memcpy(na + 22, f + 62, 16);  // source: the target
  std::memcpy(na + 38, f + 22, 16);  // destination: the solicitor
  na[54] = 136;
  na[58] = 0x60;  // S and O
  std::memcpy(na + 62, f + 62, 16);
  na[78] = 2;
  na[79] = 1;
  std::memcpy(na + 80, table->mac, 6);
  const uint16_t sum = Icmpv6Checksum(na + 22, na + 38, na + 54, 32);
  na[56] = static_cast<unsigned char>(sum >> 8);
  na[57] = static_cast<unsigned char>(sum);
  ssize_t sent;
  do {
    sent = ::send(fd_, na, sizeof(na), 0);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return false;  // JS sends again and counts the error
  std::lock_guard<std::mutex> lock(mu_);
  ndp_answered_[target] += 1;
  return true;
}

Napi::Value PacketSocket::SetAnswerDeadline(const Napi::CallbackInfo& info) {
  // setAnswerDeadline(deadlineMs?: number): CLOCK_MONOTONIC milliseconds (process.hrtime,
  // i.e. uv_hrtime, reads the same clock); undefined removes the fence. The fence is the
  // caller's lease: past it another node may own the addresses, so no answer goes out,
  // whatever the tables say, until JS moves the deadline or clears it.
  Napi::Env env = info.Env();
  if (info.Length() < 1 || info[0].IsUndefined()) {
    answer_deadline_ns_.store(INT64_MAX, std::memory_order_release);
    return env.Undefined();
  }
  if (!info[0].IsNumber()) return ThrowTypeError(env, "setAnswerDeadline(deadlineMs?: number)");
  const double ms = info[0].As<Napi::Number>().DoubleValue();
  if (ms != ms) return ThrowTypeError(env, "setAnswerDeadline: deadlineMs is NaN");
  const double ns = ms * 1e6;
  int64_t value = ns >= 9.2e18 ? INT64_MAX : ns <= 0 ? 0 : static_cast<int64_t>(ns);
  answer_deadline_ns_.store(value, std::memory_order_release);
  return env.Undefined();
}

Napi::Value PacketSocket::TakeDropped(const Napi::CallbackInfo& info) {
  // {fenced, notOwned, overload, queueFull}: frames dropped by the thread since the last call;
  // socketBuffer: frames the kernel dropped because the socket's receive buffer was full (its
  // reader, thread or loop, fell behind). PACKET_STATISTICS (packet(7)) resets on every read,
  // so each call returns what happened since the previous one.
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  double socket_buffer = 0;
  if (!closed_) {
    tpacket_stats stats{};
    socklen_t len = sizeof(stats);
    if (getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &stats, &len) == 0) socket_buffer = stats.tp_drops;
  }
  out.Set("socketBuffer", Napi::Number::New(env, socket_buffer));
  out.Set("fenced", Napi::Number::New(env, static_cast<double>(dropped_fenced_.exchange(0))));
  out.Set("notOwned", Napi::Number::New(env, static_cast<double>(dropped_not_owned_.exchange(0))));
  out.Set("overload", Napi::Number::New(env, static_cast<double>(dropped_overload_.exchange(0))));
  out.Set("queueFull", Napi::Number::New(env, static_cast<double>(dropped_queue_full_.exchange(0))));
  return out;
}

Napi::Value PacketSocket::SetLoopBudget(const Napi::CallbackInfo& info) {
  // setLoopBudget(framesPerSecond: number, burst: number): the answer thread's bound on
  // frames handed to the loop (kLoopFramesPerSecond, kLoopBurst by default).
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber())
    return ThrowTypeError(env, "setLoopBudget(framesPerSecond: number, burst: number)");
  const double rate = info[0].As<Napi::Number>().DoubleValue();
  const double burst = info[1].As<Napi::Number>().DoubleValue();
  if (!(rate > 0) || !(burst >= 1))
    return ThrowTypeError(env, "setLoopBudget: framesPerSecond must be > 0 and burst >= 1");
  loop_rate_.store(rate);
  loop_burst_.store(burst);
  return env.Undefined();
}

Napi::Value PacketSocket::SetAnswerDeadlineCell(const Napi::CallbackInfo& info) {
  // setAnswerDeadlineCell(cell?: Float64Array of length >= 1, over a SharedArrayBuffer):
  // element 0 is the deadline from now on (see answer_deadline_cell_); undefined goes back
  // to the value set with setAnswerDeadline.
  Napi::Env env = info.Env();
  if (info.Length() < 1 || info[0].IsUndefined()) {
    answer_deadline_cell_.store(nullptr, std::memory_order_release);
    return env.Undefined();
  }
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    return ThrowTypeError(env, "setAnswerDeadlineCell(cell?: Float64Array)");
  auto cell = info[0].As<Napi::Float64Array>();
  if (cell.ElementLength() < 1) return ThrowTypeError(env, "setAnswerDeadlineCell: the cell is empty");
  deadline_cells_.push_back(Napi::Persistent(cell));
  answer_deadline_cell_.store(cell.Data(), std::memory_order_release);
  return env.Undefined();
}

bool PacketSocket::AnswerAllowed() const {
  const double* cell = answer_deadline_cell_.load(std::memory_order_acquire);
  if (cell != nullptr) {
    // Written by another thread as a plain aligned 8-byte store: read it whole, once.
    double ms;
    __atomic_load(cell, &ms, __ATOMIC_RELAXED);
    if (ms != ms) return false;  // NaN: fenced
    if (ms == std::numeric_limits<double>::infinity()) return true;
    return static_cast<double>(MonotonicNs()) < ms * 1e6;
  }
  const int64_t deadline = answer_deadline_ns_.load(std::memory_order_acquire);
  return deadline == INT64_MAX || MonotonicNs() < deadline;
}

bool PacketSocket::AdmitToLoop() {
  const int64_t now = MonotonicNs();
  const double burst = loop_burst_.load(std::memory_order_relaxed);
  if (loop_tokens_at_ns_ == 0) loop_tokens_ = burst;
  loop_tokens_ =
      std::min(burst, loop_tokens_ + (now - loop_tokens_at_ns_) * 1e-9 * loop_rate_.load(std::memory_order_relaxed));
  loop_tokens_at_ns_ = now;
  if (loop_tokens_ < 1) return false;
  loop_tokens_ -= 1;
  return true;
}

void PacketSocket::RunAnswerThread() {
  std::vector<unsigned char> buffer(kMaxFrame);
  pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;  // only EFAULT/EINVAL/ENOMEM: nothing a retry would fix
    }
    if (fds[1].revents != 0) return;
    bool queued = false;
    for (int i = 0; i < kMaxFramesPerWake; i++) {
      sockaddr_ll from{};
      socklen_t from_len = sizeof(from);
      ssize_t n = recvfrom(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from),
                           &from_len);
      Queued q{{}, 0, 0};
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EINTR) continue;
        q.err = errno;
      } else {
        if (from.sll_pkttype == PACKET_OUTGOING) continue;
        // The socket is bound to one ethertype; each check starts with it.
        if (TryAnswerArp(buffer.data(), static_cast<size_t>(n)) || TryAnswerNdp(buffer.data(), static_cast<size_t>(n)))
          continue;
        q.frame.assign(buffer.data(), buffer.data() + n);
        q.pkttype = from.sll_pkttype;
      }
      const bool failed = q.err != 0;
      if (!failed && !AdmitToLoop()) {
        dropped_overload_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (queue_.size() < kMaxQueued)
          queue_.push_back(std::move(q));
        else
          dropped_queue_full_.fetch_add(1, std::memory_order_relaxed);
      }
      queued = true;
      if (failed) break;
    }
    // async_ outlives the thread (Shutdown joins first), so this never races uv_close.
    if (queued) uv_async_send(async_);
  }
}

void PacketSocket::OnQueued(uv_async_t* handle) {
  auto* self = static_cast<PacketSocket*>(handle->data);
  if (self == nullptr || self->closed_) return;
  self->DeliverQueued();
}

void PacketSocket::DeliverQueued() {
  std::deque<Queued> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(queue_);
  }
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  Napi::CallbackScope callback_scope(env, *async_context_);
  Napi::Object receiver = env.Global();
  for (Queued& q : batch) {
    if (closed_) return;
    if (q.err != 0) {
      ReportError(q.err, "recvfrom");
      continue;
    }
    Napi::Buffer<unsigned char> frame = Napi::Buffer<unsigned char>::Copy(env, q.frame.data(), q.frame.size());
    on_frame_.Call(receiver, {frame, Napi::Number::New(env, q.pkttype)});
    RethrowPending(env);
  }
}

}  // namespace beacon
