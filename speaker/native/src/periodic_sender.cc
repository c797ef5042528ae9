// BFD's periodic transmission (RFC 5880 §6.8.7) on a native thread. A peer declares the
// session down after DetectMult intervals without a packet (§6.8.4): 300 ms at 100 ms x 3.
// The BFD worker thread runs JavaScript, and a JavaScript thread can be held for that long
// without doing anything wrong: its isolate's garbage collection waits for V8's helper
// threads, which run at normal priority and starve beside a CPU hog (measured: 100-1,000 ms
// with the worker itself idle). Raising the worker's own priority cannot fix that, and
// raising it to real-time made it worse (a real-time thread waiting on starved helpers).
//
// So the JavaScript session decides *what* to send (state, discriminators, intervals, Poll:
// the whole packet), and this thread decides *when*: it keeps one packet per session and
// sends it every interval, jittered as §6.8.7 requires (75-100% of the interval, 75-90% with
// DetectMult 1). It never calls into V8, so nothing on the JavaScript side can delay it; it
// asks for SCHED_RR (keepalived does the same for its BFD process, keepalived.conf(5)
// bfd_rt_priority) and falls back to nice -10. Its work is one sendto(2) per packet.
// Packets that must go at once (a Final answering a Poll, AdminDown) are still sent by the
// worker directly.
//
// The thread must not outlive the JavaScript that feeds it: a worker stuck for good would
// otherwise keep telling the peers that all is well while nothing on our side detects their
// failures or follows our own state. So packets go only under a lease the JavaScript side
// renews (PeriodicLease), a few seconds long: well above the longest stall measured (~1 s),
// far below what a stuck process could hide.
#include "periodic_sender.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>

namespace beacon {

namespace {

using Clock = std::chrono::steady_clock;

// Above every normal thread, below the kernel's own real-time threads (threaded interrupts
// run at 50). The same value the speaker's worker threads would ask for.
constexpr int kRealtimePriority = 10;
constexpr int kNice = -10;

// A mutex with priority inheritance (pthread_mutexattr_setprotocol(3)): a JavaScript thread
// that holds it while preempted by a CPU hog is lifted to the sender's priority, so the sender
// never waits behind the very starvation it exists to avoid.
class PiMutex {
 public:
  PiMutex() {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT);
    pthread_mutex_init(&mu_, &attr);
    pthread_mutexattr_destroy(&attr);
  }
  PiMutex(const PiMutex&) = delete;
  PiMutex& operator=(const PiMutex&) = delete;
  void lock() { pthread_mutex_lock(&mu_); }
  void unlock() { pthread_mutex_unlock(&mu_); }
  bool try_lock() { return pthread_mutex_trylock(&mu_) == 0; }

 private:
  pthread_mutex_t mu_;
};

struct Entry {
  int fd = -1;
  sockaddr_storage to{};
  socklen_t to_len = 0;
  std::vector<unsigned char> data;
  std::chrono::microseconds interval{0};
  bool detect_mult_one = false;
  bool active = false;
  Clock::time_point next_at{};
  Clock::time_point last_sent{};
  Clock::time_point lease_until{};
  bool sent_once = false;
  PeriodicStats stats;
};

class Sender {
 public:
  static Sender& Get() {
    // Never destroyed: the thread runs until the process ends, and a joinable std::thread
    // destroyed at exit would terminate the process.
    static Sender* instance = new Sender();
    return *instance;
  }

  int Set(const void* owner, int fd, const sockaddr_storage& to, socklen_t to_len, std::vector<unsigned char> data,
          uint64_t interval_us, bool detect_mult_one, uint64_t lease_ms) {
    std::lock_guard<PiMutex> lock(mu_);
    const int err = EnsureThread();
    if (err != 0) return err;
    Entry& e = entries_[owner];
    const auto now = Clock::now();
    const auto interval = std::chrono::microseconds(interval_us);
    if (!e.active) {
      e.next_at = now;  // the first packet of a session goes at once
    } else if (e.sent_once) {
      // A shorter interval may bring the next packet forward, never closer to the last one
      // than the new interval less the largest jitter allows (§6.8.7).
      auto earliest = e.last_sent + interval * 3 / 4;
      if (earliest < now) earliest = now;
      if (earliest < e.next_at) e.next_at = earliest;
    }
    e.fd = fd;
    e.to = to;
    e.to_len = to_len;
    e.data = std::move(data);
    e.interval = interval;
    e.detect_mult_one = detect_mult_one;
    e.lease_until = now + std::chrono::milliseconds(lease_ms);
    e.active = true;
    cv_.notify_one();
    return 0;
  }

  void Clear(const void* owner, bool forget) {
    std::lock_guard<PiMutex> lock(mu_);
    auto it = entries_.find(owner);
    if (it == entries_.end()) return;
    if (forget) {
      entries_.erase(it);
    } else {
      it->second.active = false;
    }
  }

  PeriodicStats Stats(const void* owner) {
    std::lock_guard<PiMutex> lock(mu_);
    auto it = entries_.find(owner);
    return it == entries_.end() ? PeriodicStats{} : it->second.stats;
  }

  void Lease(const void* owner, uint64_t ms) {
    std::lock_guard<PiMutex> lock(mu_);
    auto it = entries_.find(owner);
    if (it != entries_.end()) it->second.lease_until = Clock::now() + std::chrono::milliseconds(ms);
  }

  SenderPriority Priority() {
    std::lock_guard<PiMutex> lock(mu_);
    return priority_;
  }

 private:
  Sender() : random_(std::random_device{}()) {}

  // pthread_create rather than std::thread: built without exceptions, a failed std::thread
  // would abort the speaker; this way the failure reaches JavaScript as an error.
  int EnsureThread() {
    if (started_) return 0;
    pthread_t thread;
    const int err = pthread_create(
        &thread, nullptr,
        [](void* self) -> void* {
          static_cast<Sender*>(self)->Run();
          return nullptr;
        },
        this);
    if (err != 0) return err;
    pthread_detach(thread);
    started_ = true;
    return 0;
  }

  static SenderPriority Raise() {
    sched_param param{};
    param.sched_priority = kRealtimePriority;
    if (pthread_setschedparam(pthread_self(), SCHED_RR, &param) == 0) return SenderPriority::kRealtime;
    // The nice value is per thread on Linux (setpriority(2) with the thread id).
    if (setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), kNice) == 0) return SenderPriority::kNice;
    return SenderPriority::kDefault;
  }

  // §6.8.7: each interval shortened by 0-25%, or by 10-25% with DetectMult 1.
  std::chrono::microseconds Jittered(const Entry& e) {
    std::uniform_real_distribution<double> r(0.0, 1.0);
    const double factor = e.detect_mult_one ? 0.75 + 0.15 * r(random_) : 1.0 - 0.25 * r(random_);
    return std::chrono::microseconds(static_cast<int64_t>(static_cast<double>(e.interval.count()) * factor));
  }

  void Run() {
    const SenderPriority got = Raise();
    std::unique_lock<PiMutex> lock(mu_);
    priority_ = got;
    for (;;) {
      Clock::time_point wake = Clock::time_point::max();
      const auto now = Clock::now();
      for (auto& [owner, e] : entries_) {
        if (!e.active) continue;
        if (e.next_at <= now && now >= e.lease_until) {
          e.stats.withheld++;
          e.next_at = now + Jittered(e);
        } else if (e.next_at <= now) {
          ssize_t n;
          do {
            n = sendto(e.fd, e.data.data(), e.data.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&e.to),
                       e.to_len);
          } while (n < 0 && errno == EINTR);
          if (n < 0) {
            e.stats.errors++;
            e.stats.last_errno = errno;
          } else {
            e.stats.sent++;
          }
          e.last_sent = now;
          e.sent_once = true;
          e.next_at = now + Jittered(e);
        }
        if (e.next_at < wake) wake = e.next_at;
      }
      if (wake == Clock::time_point::max()) {
        cv_.wait(lock);
      } else {
        cv_.wait_until(lock, wake);
      }
    }
  }

  PiMutex mu_;
  std::condition_variable_any cv_;
  std::map<const void*, Entry> entries_;
  std::mt19937_64 random_;
  bool started_ = false;
  SenderPriority priority_ = SenderPriority::kUnknown;
};

}  // namespace

int PeriodicSet(const void* owner, int fd, const sockaddr_storage& to, socklen_t to_len,
                std::vector<unsigned char> data, uint64_t interval_us, bool detect_mult_one, uint64_t lease_ms) {
  return Sender::Get().Set(owner, fd, to, to_len, std::move(data), interval_us, detect_mult_one, lease_ms);
}

void PeriodicClear(const void* owner) { Sender::Get().Clear(owner, false); }

void PeriodicForget(const void* owner) { Sender::Get().Clear(owner, true); }

PeriodicStats PeriodicGetStats(const void* owner) { return Sender::Get().Stats(owner); }

SenderPriority PeriodicSenderPriority() { return Sender::Get().Priority(); }

void PeriodicLease(const void* owner, uint64_t ms) { Sender::Get().Lease(owner, ms); }

}  // namespace beacon
