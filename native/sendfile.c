/*
 * tandem_native, part 1: zero-copy file → socket sends for the download paths.
 *
 * JS API (loaded by src/engine/io/sendfile.ts, never used directly elsewhere):
 *
 *   sendfile(outFd, inFd, offset, length, timeoutMs[, head]) → { done: Promise<number>, cancel(): void }
 *
 * With `head` (a Buffer, e.g. a protocol reply header) those bytes go out first, from the
 * same thread-pool job (send(2) with MSG_MORE, so they share segments with the file's
 * first bytes): one job per header + body instead of a write, its completion on the event
 * loop, then the job. The caller must have nothing queued on the socket.
 *
 * Sends `length` bytes of the file `inFd` starting at `offset` to the socket
 * `outFd` with sendfile(2), on a libuv thread-pool thread (napi_create_async_work),
 * so the event loop never copies the bytes through user space. `done` resolves
 * with the number of bytes sent (less than `length` only when the file turned
 * out shorter) or rejects with an Error carrying `code` ('EPIPE', 'ECONNRESET',
 * 'ETIMEDOUT', 'ECANCELED', ...), `errno`, `syscall` and `bytesSent`.
 *
 * The socket stays non-blocking (libuv owns it and its flags are never touched):
 * on EAGAIN the worker waits in poll(POLLOUT) for at most `timeoutMs`; a wait
 * that times out fails with ETIMEDOUT. EINTR is retried.
 *
 * Descriptor lifetime: both descriptors are dup'ed on the calling (main) thread
 * before the work is queued, and the duplicates are closed on the main thread
 * when the work completes. So JS may close its own descriptors at any time (a
 * socket destroyed by an error, a timeout sweep or a shutdown) without the
 * worker ever writing to a descriptor number that was closed and reused for
 * another file or connection. `cancel()` shuts the socket down through the
 * duplicate, which wakes the worker at once (it then fails with ECANCELED);
 * the loader calls it when the JS socket closes. After completion it is a no-op.
 *
 * SIGPIPE: Node ignores it process-wide, so a peer that went away shows up as
 * EPIPE from sendfile(2), not as a signal.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include "napi_util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__)
#include <fcntl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>
#define HAVE_SENDFILE 1
#endif

#ifdef HAVE_SENDFILE

/* Linux transfers at most this many bytes per sendfile(2) call. */
#define MAX_PER_CALL ((size_t)0x7ffff000)

typedef struct {
  sock_job_t base; /* first: the socket duplicate and the job's lifetime (napi_util.h) */
  napi_async_work work;
  napi_deferred deferred;
  int in_fd;  /* our duplicate of the file */
  int64_t offset;
  int64_t length;
  int timeout_ms;
  napi_ref head_ref; /* keeps `head` alive until completion; NULL without one */
  const unsigned char *head;
  size_t head_len;
  /* Written by the worker, read on the main thread after completion. */
  int64_t sent;
  int err;
  const char *syscall;
} job_t;

/* Thread-pool side: no napi calls here. */
static void execute(napi_env env, void *data) {
  (void)env;
  job_t *j = (job_t *)data;
  off_t off = (off_t)j->offset;
  int64_t left = j->length;
  int hangup = 0;
  size_t hoff = 0;
  while (hoff < j->head_len) {
    ssize_t n = send(j->base.sock_fd, j->head + hoff, j->head_len - hoff, MSG_NOSIGNAL | MSG_DONTWAIT | (left > 0 ? MSG_MORE : 0));
    if (n > 0) {
      hoff += (size_t)n;
      hangup = 0;
      continue;
    }
    int e = n < 0 ? errno : EIO;
    if (e == EINTR) continue;
    if (e == EAGAIN || e == EWOULDBLOCK) {
      if ((j->err = wait_socket(j->base.sock_fd, POLLOUT, j->timeout_ms, &hangup, EPIPE, &j->syscall)) != 0) return;
      continue;
    }
    j->err = e;
    j->syscall = "send";
    return;
  }
  while (left > 0) {
    size_t want = (uint64_t)left > MAX_PER_CALL ? MAX_PER_CALL : (size_t)left;
    ssize_t n = sendfile(j->base.sock_fd, j->in_fd, &off, want);
    if (n > 0) {
      j->sent += n;
      left -= n;
      hangup = 0;
      continue;
    }
    if (n == 0) break; /* end of file: the file is shorter than asked; the caller sees sent < length */
    int e = errno;
    if (e == EINTR) continue;
    if (e == EAGAIN || e == EWOULDBLOCK) {
      /* POLLERR/POLLHUP: the next sendfile reports the real error (EPIPE, ECONNRESET). */
      if ((j->err = wait_socket(j->base.sock_fd, POLLOUT, j->timeout_ms, &hangup, EPIPE, &j->syscall)) != 0) return;
      continue;
    }
    j->err = e;
    j->syscall = "sendfile";
    return;
  }
}

/* Main-thread side: settle the promise, close our duplicates. */
static void complete(napi_env env, napi_status status, void *data) {
  job_t *j = (job_t *)data;
  close(j->base.sock_fd);
  close(j->in_fd);
  j->base.done = 1;
  if (j->head_ref) {
    napi_delete_reference(env, j->head_ref);
    j->head_ref = NULL;
  }
  if (status == napi_cancelled && j->err == 0) j->err = ECANCELED;
  /* A shutdown by cancel() surfaces as EPIPE (or ENOTCONN); name the real cause. */
  if (j->base.cancelled && j->err != 0 && j->err != ETIMEDOUT) {
    j->err = ECANCELED;
    j->syscall = "sendfile";
  }
  if (j->err != 0) {
    napi_value err = make_error(env, j->err, j->syscall ? j->syscall : "sendfile");
    napi_value sent;
    napi_create_double(env, (double)j->sent, &sent);
    napi_set_named_property(env, err, "bytesSent", sent); /* what reached the socket before the failure */
    napi_reject_deferred(env, j->deferred, err);
  } else {
    napi_value v;
    napi_create_double(env, (double)j->sent, &v);
    napi_resolve_deferred(env, j->deferred, v);
  }
  napi_delete_async_work(env, j->work);
  sock_job_unref(&j->base);
}

static napi_value do_sendfile(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "sendfile(outFd, inFd, offset, length, timeoutMs) takes 5 arguments");
    return NULL;
  }
  int64_t out_fd, in_fd, offset, length, timeout;
  if (!get_int64(env, argv[0], &out_fd) || !get_int64(env, argv[1], &in_fd) || !get_int64(env, argv[2], &offset) ||
      !get_int64(env, argv[3], &length) || !get_int64(env, argv[4], &timeout) || out_fd > INT32_MAX || in_fd > INT32_MAX ||
      timeout < 1 || timeout > INT32_MAX) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "sendfile: descriptors, offset and length must be non-negative integers, timeoutMs a positive int32");
    return NULL;
  }

  job_t *j = (job_t *)calloc(1, sizeof(job_t));
  if (!j) {
    napi_throw(env, make_error(env, ENOMEM, "calloc"));
    return NULL;
  }
  j->offset = offset;
  j->length = length;
  j->timeout_ms = (int)timeout;
  if (argc >= 6) {
    bool is_buf = false;
    napi_is_buffer(env, argv[5], &is_buf);
    if (is_buf) {
      void *hd = NULL;
      size_t hl = 0;
      if (napi_get_buffer_info(env, argv[5], &hd, &hl) != napi_ok || (hl > 0 && napi_create_reference(env, argv[5], 1, &j->head_ref) != napi_ok)) {
        free(j);
        napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "sendfile: head must be a Buffer");
        return NULL;
      }
      j->head = (const unsigned char *)hd;
      j->head_len = hl;
    }
  }
  j->base.sock_fd = fcntl((int)out_fd, F_DUPFD_CLOEXEC, 0);
  if (j->base.sock_fd < 0) {
    int e = errno;
    if (j->head_ref) napi_delete_reference(env, j->head_ref);
    free(j);
    napi_throw(env, make_error(env, e, "dup"));
    return NULL;
  }
  j->in_fd = fcntl((int)in_fd, F_DUPFD_CLOEXEC, 0);
  if (j->in_fd < 0) {
    int e = errno;
    close(j->base.sock_fd);
    if (j->head_ref) napi_delete_reference(env, j->head_ref);
    free(j);
    napi_throw(env, make_error(env, e, "dup"));
    return NULL;
  }

  napi_value promise, name, cancel, result;
  if (napi_create_promise(env, &j->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "tandem_sendfile", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, execute, complete, j, &j->work) != napi_ok) {
    /* Nothing queued: the promise (if made) is simply never settled and collected. */
    close(j->base.sock_fd);
    close(j->in_fd);
    if (j->head_ref) napi_delete_reference(env, j->head_ref);
    free(j);
    napi_throw_error(env, NULL, "sendfile: could not create the async work");
    return NULL;
  }
  j->base.refs = 1; /* the async work */
  cancel = sock_job_cancel_fn(env, &j->base);
  if (napi_queue_async_work(env, j->work) != napi_ok) {
    j->err = EAGAIN;
    j->syscall = "queue";
    complete(env, napi_generic_failure, j);
  }
  CHECK(env, napi_create_object(env, &result));
  CHECK(env, napi_set_named_property(env, result, "done", promise));
  CHECK(env, napi_set_named_property(env, result, "cancel", cancel));
  return result;
}

/*
 * sendNow(fd, buf): one send(2) of buf to the connected socket fd, never
 * blocking (MSG_DONTWAIT) and never raising SIGPIPE (MSG_NOSIGNAL). Returns
 * the bytes sent (possibly fewer than buf.length when the socket buffer is
 * nearly full) or -errno (-EAGAIN when it is full), without throwing. Why:
 * a small protocol reply written through net.Socket's stream machinery costs
 * more CPU than the send itself; the caller (server/lean-socket.ts
 * leanWrite) uses this only when nothing is queued in the stream ahead of
 * the bytes, and hands any rest or error to the stream.
 */
static napi_value send_now(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "sendNow(fd, buf)");
    return NULL;
  }
  int32_t fd = -1;
  CHECK(env, napi_get_value_int32(env, argv[0], &fd));
  void *data = NULL;
  size_t len = 0;
  if (napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "buf must be a Buffer");
    return NULL;
  }
  ssize_t n;
  do {
    n = send(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  napi_value out;
  CHECK(env, napi_create_int64(env, n < 0 ? -(int64_t)errno : (int64_t)n, &out));
  return out;
}

#endif /* HAVE_SENDFILE */

/* Adds `sendfile` to the addon's exports (Linux only; elsewhere the export is absent). */
napi_value register_sendfile(napi_env env, napi_value exports) {
#ifdef HAVE_SENDFILE
  napi_value fn;
  CHECK(env, napi_create_function(env, "sendfile", NAPI_AUTO_LENGTH, do_sendfile, NULL, &fn));
  CHECK(env, napi_set_named_property(env, exports, "sendfile", fn));
  napi_value with_head;
  CHECK(env, napi_get_boolean(env, true, &with_head));
  CHECK(env, napi_set_named_property(env, exports, "sendfileHead", with_head));
  napi_value sn;
  CHECK(env, napi_create_function(env, "sendNow", NAPI_AUTO_LENGTH, send_now, NULL, &sn));
  CHECK(env, napi_set_named_property(env, exports, "sendNow", sn));
#else
  (void)env;
#endif
  return exports;
}
