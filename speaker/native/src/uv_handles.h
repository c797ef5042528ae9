// The libuv handle chores the sockets share: a poll that reports readability of a socket to
// its owner, and closing a heap-allocated handle whose memory libuv releases later.
#pragma once

#include <uv.h>

namespace beacon {

// Detaches `handle` from its owner and closes it; libuv frees it in the close callback on the
// next loop turn. For a poll, uv_close stops polling at once (the fd leaves epoll), so the fd
// may be closed right after. Sets `handle` to nullptr; nothing happens if it already is.
template <typename Handle>
void CloseHandle(Handle*& handle) {
  if (handle == nullptr) return;
  handle->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(handle), [](uv_handle_t* h) { delete reinterpret_cast<Handle*>(h); });
  handle = nullptr;
}

// Polls `fd` for readability, calling `cb` with handle->data = `owner`. Returns the handle, or
// nullptr with the negative libuv error in *rc (the fd stays the caller's to close).
inline uv_poll_t* StartReadPoll(uv_loop_t* loop, int fd, void* owner, uv_poll_cb cb, int* rc) {
  auto* poll = new uv_poll_t;
  *rc = uv_poll_init(loop, poll, fd);
  if (*rc != 0) {
    delete poll;  // never registered with the loop
    return nullptr;
  }
  poll->data = owner;
  *rc = uv_poll_start(poll, UV_READABLE, cb);
  if (*rc != 0) {
    CloseHandle(poll);  // registered: only libuv may free it
    return nullptr;
  }
  return poll;
}

}  // namespace beacon
