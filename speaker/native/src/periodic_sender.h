// PeriodicSender: one native thread that sends each BFD session's periodic Control packet on
// time, whatever the JavaScript threads are doing (see periodic_sender.cc).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <vector>

namespace beacon {

struct PeriodicStats {
  uint64_t sent = 0;
  uint64_t errors = 0;
  // Packets not sent because the lease had run out (PeriodicLease).
  uint64_t withheld = 0;
  int last_errno = 0;
};

// How far the sender thread's scheduling priority was raised.
enum class SenderPriority { kUnknown, kDefault, kNice, kRealtime };

// Every call is thread-safe. `owner` identifies one socket; `fd` must stay open until
// Forget(owner) returns, after which the thread never touches it again.
// Sends `data` every interval (jittered) while the owner's lease holds; renews the lease.
// Returns 0, or the errno of a sender thread that could not be started.
int PeriodicSet(const void* owner, int fd, const sockaddr_storage& to, socklen_t to_len,
                std::vector<unsigned char> data, uint64_t interval_us, bool detect_mult_one, uint64_t lease_ms);
// Stops the periodic packet of `owner`; its counters stay readable.
void PeriodicClear(const void* owner);
// Stops it and forgets the owner: call before closing the fd.
void PeriodicForget(const void* owner);
PeriodicStats PeriodicGetStats(const void* owner);
// The owner's packets go only while its lease holds: until `ms` from now. JavaScript renews
// it while its thread runs; a thread stuck for longer lets the peers detect the failure.
void PeriodicLease(const void* owner, uint64_t ms);
SenderPriority PeriodicSenderPriority();

}  // namespace beacon
