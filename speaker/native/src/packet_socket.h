// PacketSocket: an AF_PACKET SOCK_RAW socket bound to one interface and one ethertype,
// read from the Node event loop through a libuv poll handle.
#pragma once

#include <napi.h>
#include <uv.h>

#include <memory>
#include <vector>

namespace beacon {

class PacketSocket : public Napi::ObjectWrap<PacketSocket> {
 public:
  static Napi::Function Define(Napi::Env env);

  // new PacketSocket(ifindex, ethertype, onFrame(frame, pkttype), onError(err))
  explicit PacketSocket(const Napi::CallbackInfo& info);
  ~PacketSocket() override;

 private:
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value AddMembership(const Napi::CallbackInfo& info);
  Napi::Value AttachFilter(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetHardwareAddress(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);

  static void OnPoll(uv_poll_t* handle, int status, int events);
  void Drain();
  // One non-blocking recvfrom of a frame that is not our own into buffer_: its length, 0 when
  // nothing is queued, or -errno.
  ssize_t ReadFrame(int* pkttype);
  void ReportError(int err, const char* syscall);
  void Shutdown();

  int fd_ = -1;
  int ifindex_ = 0;
  bool closed_ = true;
  uv_poll_t* poll_ = nullptr;
  unsigned char hwaddr_[8] = {0};
  unsigned hwaddr_len_ = 0;
  std::vector<unsigned char> buffer_;
  // The async context every frame callback runs in: one callback scope per wake-up, so
  // process.nextTick and promise jobs run once after a batch instead of after each frame.
  std::unique_ptr<Napi::AsyncContext> async_context_;
  Napi::FunctionReference on_frame_;
  Napi::FunctionReference on_error_;
};

}  // namespace beacon
