// PacketSocket: an AF_PACKET SOCK_RAW socket bound to one interface and one ethertype,
// read from the Node event loop through a libuv poll handle, or (answer thread mode) by a
// native thread that answers ARP requests and Neighbor Solicitations itself and hands every
// other frame to the loop.
#pragma once

#include <napi.h>
#include <uv.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace beacon {

class PacketSocket : public Napi::ObjectWrap<PacketSocket> {
 public:
  static Napi::Function Define(Napi::Env env);

  // new PacketSocket(ifindex, ethertype, onFrame(frame, pkttype), onError(err), answerThread?)
  explicit PacketSocket(const Napi::CallbackInfo& info);
  ~PacketSocket() override;

 private:
  // What the answer thread answers: ARP requests for `ips` (host order), from `mac`.
  struct ArpAnswers {
    unsigned char mac[6];
    std::vector<uint32_t> ips;
  };
  using Ipv6 = std::array<unsigned char, 16>;
  // What the answer thread answers: Neighbor Solicitations for `ips`, from `mac`.
  struct NdpAnswers {
    unsigned char mac[6];
    std::vector<Ipv6> ips;  // sorted
  };
  // A frame (or a receive error, err != 0) the answer thread passes to the loop.
  struct Queued {
    std::vector<unsigned char> frame;
    int pkttype;
    int err;
  };

  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value AddMembership(const Napi::CallbackInfo& info);
  Napi::Value AttachFilter(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetHardwareAddress(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);
  Napi::Value SetArpAnswers(const Napi::CallbackInfo& info);
  Napi::Value TakeArpAnswered(const Napi::CallbackInfo& info);
  Napi::Value SetNdpAnswers(const Napi::CallbackInfo& info);
  Napi::Value TakeNdpAnswered(const Napi::CallbackInfo& info);
  Napi::Value SetAnswerDeadline(const Napi::CallbackInfo& info);
  Napi::Value TakeDropped(const Napi::CallbackInfo& info);
  Napi::Value SetLoopBudget(const Napi::CallbackInfo& info);
  Napi::Value SetAnswerDeadlineCell(const Napi::CallbackInfo& info);

  static void OnPoll(uv_poll_t* handle, int status, int events);
  void Drain();
  // One non-blocking recvfrom of a frame that is not our own into buffer_: its length, 0 when
  // nothing is queued, or -errno.
  ssize_t ReadFrame(int* pkttype);
  void ReportError(int err, const char* syscall);
  void Shutdown();
  // Answer thread mode.
  void RunAnswerThread();
  bool TryAnswerArp(const unsigned char* f, size_t n);
  bool TryAnswerNdp(const unsigned char* f, size_t n);
  // True while an answer may go out: no deadline set, or CLOCK_MONOTONIC still before it.
  bool AnswerAllowed() const;
  // Token bucket of frames handed to the loop (see kLoopFramesPerSecond).
  bool AdmitToLoop();
  static void OnQueued(uv_async_t* handle);
  void DeliverQueued();

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

  // Answer thread mode: the thread owns all reads of fd_; stop_fd_ (an eventfd) ends it.
  std::thread thread_;
  int stop_fd_ = -1;
  uv_async_t* async_ = nullptr;
  std::mutex mu_;  // guards the five below
  std::shared_ptr<const ArpAnswers> answers_;
  std::unordered_map<uint32_t, double> answered_;  // IP -> replies sent since the last take
  std::shared_ptr<const NdpAnswers> ndp_answers_;
  std::map<Ipv6, double> ndp_answered_;  // target -> NAs sent since the last take
  std::deque<Queued> queue_;
  // The answer fence: CLOCK_MONOTONIC nanoseconds after which nothing is answered
  // (INT64_MAX: no fence). Set from JS, read by the thread on every answer.
  std::atomic<int64_t> answer_deadline_ns_{INT64_MAX};
  // Or, when set, a Float64 deadline (CLOCK_MONOTONIC ms) in memory shared with a worker
  // thread of the speaker, which writes it without the main thread: read on every answer.
  // NaN or -Infinity fences, +Infinity removes the fence. The references keep every cell
  // ever given alive until the socket is destroyed, so the thread never reads freed memory.
  std::atomic<const double*> answer_deadline_cell_{nullptr};
  std::vector<Napi::Reference<Napi::Float64Array>> deadline_cells_;
  // Frames not answered and not handed to the loop, by reason, since the last TakeDropped.
  std::atomic<uint64_t> dropped_fenced_{0};
  std::atomic<uint64_t> dropped_not_owned_{0};
  std::atomic<uint64_t> dropped_overload_{0};
  std::atomic<uint64_t> dropped_queue_full_{0};
  // The thread's token bucket toward the loop; only the thread touches these.
  std::atomic<double> loop_rate_;
  std::atomic<double> loop_burst_;
  double loop_tokens_ = 0;
  int64_t loop_tokens_at_ns_ = 0;
};

}  // namespace beacon
