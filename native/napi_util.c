/*
 * Helpers shared by the addon's parts (sendfile.c, fsops.c): Node-style
 * system errors built from an errno.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#if defined(__linux__) || defined(__APPLE__)
#include <poll.h>
#include <sys/socket.h>
#endif

#include "napi_util.h"

const char *errno_code(int e) {
  switch (e) {
    case EPIPE: return "EPIPE";
    case ECONNRESET: return "ECONNRESET";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ECANCELED: return "ECANCELED";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case EIO: return "EIO";
    case ENOMEM: return "ENOMEM";
    case ENOBUFS: return "ENOBUFS";
    case ENOTSOCK: return "ENOTSOCK";
    case ENOTCONN: return "ENOTCONN";
    case ECONNABORTED: return "ECONNABORTED";
    case ENETDOWN: return "ENETDOWN";
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case EOVERFLOW: return "EOVERFLOW";
    case ESPIPE: return "ESPIPE";
    case EFAULT: return "EFAULT";
    case ENOSYS: return "ENOSYS";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case EAGAIN: return "EAGAIN";
    case EEXIST: return "EEXIST";
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EXDEV: return "EXDEV";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EDQUOT: return "EDQUOT";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ELOOP: return "ELOOP";
    case EBUSY: return "EBUSY";
    case ENOTEMPTY: return "ENOTEMPTY";
    case EMLINK: return "EMLINK";
    default: return "UNKNOWN";
  }
}

/* Build `Error(message)` with code, errno and syscall properties. */
napi_value make_error(napi_env env, int e, const char *syscall) {
  char msg[256];
  const char *code = errno_code(e);
  snprintf(msg, sizeof msg, "%s: %s, %s", code, strerror(e), syscall);
  napi_value jmsg, jcode, jerrno, jsys, err;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &jmsg);
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &jcode);
  napi_create_int32(env, -e, &jerrno); /* negative, like Node's own system errors */
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &jsys);
  napi_create_error(env, jcode, jmsg, &err);
  napi_set_named_property(env, err, "errno", jerrno);
  napi_set_named_property(env, err, "syscall", jsys);
  return err;
}


int get_int64(napi_env env, napi_value v, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return 0;
  if (!(d >= 0) || d > 9007199254740991.0 || d != (double)(int64_t)d) return 0;
  *out = (int64_t)d;
  return 1;
}

#if defined(__linux__) || defined(__APPLE__)
int wait_socket(int fd, short events, int timeout_ms, int *hangup, int hangup_err, const char **syscall) {
  if (*hangup) {
    *syscall = events == POLLIN ? "recv" : "send";
    return hangup_err;
  }
  for (;;) {
    struct pollfd p;
    p.fd = fd;
    p.events = events;
    p.revents = 0;
    int r = poll(&p, 1, timeout_ms);
    *syscall = "poll";
    if (r == 0) return ETIMEDOUT;
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (p.revents & POLLNVAL) return EBADF;
    if (!(p.revents & events)) *hangup = 1;
    return 0;
  }
}
#endif

void sock_job_unref(sock_job_t *b) {
  if (--b->refs == 0) free(b);
}

#if defined(__linux__) || defined(__APPLE__)
static napi_value sock_job_cancel(napi_env env, napi_callback_info info) {
  void *data;
  if (napi_get_cb_info(env, info, NULL, NULL, NULL, &data) != napi_ok) return NULL;
  sock_job_t *b = (sock_job_t *)data;
  if (!b->done && !b->cancelled) {
    b->cancelled = 1;
    shutdown(b->sock_fd, SHUT_RDWR);
  }
  return NULL;
}

static void sock_job_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  sock_job_unref((sock_job_t *)data);
}

napi_value sock_job_cancel_fn(napi_env env, sock_job_t *b) {
  napi_value fn;
  if (napi_create_function(env, "cancel", NAPI_AUTO_LENGTH, sock_job_cancel, b, &fn) == napi_ok &&
      napi_add_finalizer(env, fn, b, sock_job_finalize, NULL, NULL) == napi_ok) {
    b->refs++;
    return fn;
  }
  napi_get_undefined(env, &fn);
  return fn;
}
#endif
