/*
 * tandem_native, part 3: socket → file receives for large request bodies.
 *
 * JS API (loaded by src/engine/io/recv-file.ts, never used directly elsewhere):
 *
 *   recvToFile(sockFd, fileFd, position, prefix, length, crcSeed, wantCrc, timeoutMs)
 *     → { done: Promise<number>, cancel(): void }
 *   recvCrcAvailable: boolean
 *
 * Writes `prefix` (a Buffer of body bytes the caller had already read, possibly
 * empty) and then exactly `length` more bytes read from the socket `sockFd` into
 * the file `fileFd` at `position` (pwrite, the file offset is untouched), on a
 * libuv thread-pool thread (napi_create_async_work), so the event loop never
 * sees the bytes. With `wantCrc` the CRC-32 (zlib) of prefix + received bytes,
 * continued from `crcSeed`, is what `done` resolves with (else 0).
 *
 * Never reads past `length`: each recv(2) asks for at most what is left of the
 * body, so a request the peer pipelined behind it stays in the kernel for the
 * event loop. The caller must have stopped its own reads (uv_read_stop, which
 * `socket.pause()` does at once for a socket with an `onread` buffer) before
 * calling, and must not read until `done` settles.
 *
 * The socket stays non-blocking (libuv owns it): on EAGAIN the worker writes
 * what it gathered, then waits in poll(POLLIN) for at most `timeoutMs`; a wait
 * that times out fails with ETIMEDOUT. The peer closing before `length` bytes
 * fails with ECONNRESET (syscall "recv"). Failures carry `bytesReceived`.
 *
 * Descriptor lifetime: as in sendfile.c, both descriptors are dup'ed on the
 * main thread and the duplicates closed there on completion, so JS may close
 * its own at any time; `cancel()` shuts the socket down through the duplicate,
 * which wakes the worker (it then fails with ECANCELED).
 *
 * CRC: the zlib crc32 that the Node binary itself exports (its bundled,
 * SIMD-accelerated zlib), looked up with dlsym and checked against the
 * standard test vector at load. When it is not there, `recvCrcAvailable` is
 * false and a call with `wantCrc` throws; callers then keep their JS path.
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <node_api.h>

#include "napi_util.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__)
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#define HAVE_RECVFILE 1
#endif

#ifdef HAVE_RECVFILE

/*
 * Bytes gathered before each pwrite. Why 512 KiB: a 1 MiB body then costs two
 * writes, and the buffer is written whenever the socket runs dry, so disk
 * writes overlap the next bytes arriving.
 */
#define GATHER (512 * 1024)

typedef unsigned long (*crc_fn)(unsigned long, const unsigned char *, unsigned int);
static crc_fn crc_impl = NULL;

typedef struct {
  sock_job_t base; /* first: the socket duplicate and the job's lifetime (napi_util.h) */
  napi_async_work work;
  napi_deferred deferred;
  napi_ref prefix_ref; /* keeps the prefix Buffer alive until completion */
  const unsigned char *prefix;
  size_t prefix_len;
  int file_fd; /* our duplicate of the file */
  int64_t position;
  int64_t length;
  int want_crc;
  int timeout_ms;
  uint32_t crc;
  /* Written by the worker, read on the main thread after completion. */
  int64_t received;
  int err;
  const char *syscall;
} rjob_t;

static uint32_t crc_update(uint32_t crc, const unsigned char *p, size_t n) {
  while (n > 0) {
    unsigned int k = n > 0x40000000u ? 0x40000000u : (unsigned int)n;
    crc = (uint32_t)crc_impl(crc, p, k);
    p += k;
    n -= k;
  }
  return crc;
}

/* pwrite all of `n` bytes at `pos`; 0 or an errno. */
static int pwrite_all(int fd, const unsigned char *p, size_t n, int64_t pos) {
  while (n > 0) {
    ssize_t w = pwrite(fd, p, n, (off_t)pos);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (w == 0) return EIO;
    p += w;
    n -= (size_t)w;
    pos += w;
  }
  return 0;
}

/* Write the gathered bytes at *pos; 0, or fails the job and returns -1. */
static int flush_gathered(rjob_t *j, const unsigned char *buf, size_t *fill, int64_t *pos) {
  int e = pwrite_all(j->file_fd, buf, *fill, *pos);
  if (e) {
    j->err = e;
    j->syscall = "pwrite";
    return -1;
  }
  *pos += (int64_t)*fill;
  *fill = 0;
  return 0;
}

/* Thread-pool side: no napi calls here. */
static void rexecute(napi_env env, void *data) {
  (void)env;
  rjob_t *j = (rjob_t *)data;
  int64_t pos = j->position;
  if (j->prefix_len > 0) {
    if (j->want_crc) j->crc = crc_update(j->crc, j->prefix, j->prefix_len);
    int e = pwrite_all(j->file_fd, j->prefix, j->prefix_len, pos);
    if (e) {
      j->err = e;
      j->syscall = "pwrite";
      return;
    }
    pos += (int64_t)j->prefix_len;
  }
  int64_t left = j->length;
  if (left == 0) return;
  size_t cap = left < GATHER ? (size_t)left : GATHER;
  unsigned char *buf = (unsigned char *)malloc(cap);
  if (!buf) {
    j->err = ENOMEM;
    j->syscall = "malloc";
    return;
  }
  size_t fill = 0;
  int hangup = 0;
  while (left > 0) {
    size_t want = cap - fill;
    if ((int64_t)want > left) want = (size_t)left;
    ssize_t n = recv(j->base.sock_fd, buf + fill, want, MSG_DONTWAIT);
    if (n > 0) {
      if (j->want_crc) j->crc = crc_update(j->crc, buf + fill, (size_t)n);
      fill += (size_t)n;
      left -= n;
      j->received += n;
      hangup = 0;
      if ((fill == cap || left == 0) && flush_gathered(j, buf, &fill, &pos) < 0) break;
      continue;
    }
    if (n == 0) {
      j->err = ECONNRESET; /* the peer closed before the body was complete */
      j->syscall = "recv";
      break;
    }
    int e = errno;
    if (e == EINTR) continue;
    if (e != EAGAIN && e != EWOULDBLOCK) {
      j->err = e;
      j->syscall = "recv";
      break;
    }
    /* The socket ran dry: write what we have while the next bytes arrive. */
    if (fill > 0) {
      if (flush_gathered(j, buf, &fill, &pos) < 0) break;
      continue; /* data may have arrived during the write */
    }
    /* POLLERR/POLLHUP without POLLIN: the next recv reports it (0 or an error). */
    if ((j->err = wait_socket(j->base.sock_fd, POLLIN, j->timeout_ms, &hangup, ECONNRESET, &j->syscall)) != 0) break;
  }
  free(buf);
}

static void rcomplete(napi_env env, napi_status status, void *data) {
  rjob_t *j = (rjob_t *)data;
  close(j->base.sock_fd);
  close(j->file_fd);
  j->base.done = 1;
  if (j->prefix_ref) {
    napi_delete_reference(env, j->prefix_ref);
    j->prefix_ref = NULL;
  }
  if (status == napi_cancelled && j->err == 0) j->err = ECANCELED;
  if (j->base.cancelled && j->err != 0 && j->err != ETIMEDOUT) {
    j->err = ECANCELED;
    j->syscall = "recv";
  }
  if (j->err != 0) {
    napi_value err = make_error(env, j->err, j->syscall ? j->syscall : "recv");
    napi_value got;
    napi_create_double(env, (double)j->received, &got);
    napi_set_named_property(env, err, "bytesReceived", got);
    napi_reject_deferred(env, j->deferred, err);
  } else {
    napi_value v;
    napi_create_uint32(env, j->crc, &v);
    napi_resolve_deferred(env, j->deferred, v);
  }
  napi_delete_async_work(env, j->work);
  sock_job_unref(&j->base);
}

static napi_value do_recv_to_file(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 8) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "recvToFile(sockFd, fileFd, position, prefix, length, crcSeed, wantCrc, timeoutMs) takes 8 arguments");
    return NULL;
  }
  int64_t sock_fd, file_fd, position, length, seed, timeout;
  bool want_crc = false;
  void *pdata = NULL;
  size_t plen = 0;
  if (!get_int64(env, argv[0], &sock_fd) || !get_int64(env, argv[1], &file_fd) || !get_int64(env, argv[2], &position) ||
      napi_get_buffer_info(env, argv[3], &pdata, &plen) != napi_ok || !get_int64(env, argv[4], &length) ||
      !get_int64(env, argv[5], &seed) || napi_get_value_bool(env, argv[6], &want_crc) != napi_ok ||
      !get_int64(env, argv[7], &timeout) || sock_fd > INT32_MAX || file_fd > INT32_MAX || seed > 0xffffffffLL || timeout < 1 ||
      timeout > INT32_MAX) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "recvToFile: bad arguments");
    return NULL;
  }
  if (want_crc && !crc_impl) {
    napi_throw(env, make_error(env, ENOSYS, "crc32"));
    return NULL;
  }
  rjob_t *j = (rjob_t *)calloc(1, sizeof(rjob_t));
  if (!j) {
    napi_throw(env, make_error(env, ENOMEM, "calloc"));
    return NULL;
  }
  j->position = position;
  j->length = length;
  j->want_crc = want_crc ? 1 : 0;
  j->crc = (uint32_t)seed;
  j->timeout_ms = (int)timeout;
  j->prefix = (const unsigned char *)pdata;
  j->prefix_len = plen;
  j->base.sock_fd = fcntl((int)sock_fd, F_DUPFD_CLOEXEC, 0);
  if (j->base.sock_fd < 0) {
    int e = errno;
    free(j);
    napi_throw(env, make_error(env, e, "dup"));
    return NULL;
  }
  j->file_fd = fcntl((int)file_fd, F_DUPFD_CLOEXEC, 0);
  if (j->file_fd < 0) {
    int e = errno;
    close(j->base.sock_fd);
    free(j);
    napi_throw(env, make_error(env, e, "dup"));
    return NULL;
  }
  napi_value promise, name, cancel, result;
  if ((plen > 0 && napi_create_reference(env, argv[3], 1, &j->prefix_ref) != napi_ok) ||
      napi_create_promise(env, &j->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "tandem_recvfile", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, rexecute, rcomplete, j, &j->work) != napi_ok) {
    if (j->prefix_ref) napi_delete_reference(env, j->prefix_ref);
    close(j->base.sock_fd);
    close(j->file_fd);
    free(j);
    napi_throw_error(env, NULL, "recvToFile: could not create the async work");
    return NULL;
  }
  j->base.refs = 1;
  cancel = sock_job_cancel_fn(env, &j->base);
  if (napi_queue_async_work(env, j->work) != napi_ok) {
    j->err = EAGAIN;
    j->syscall = "queue";
    rcomplete(env, napi_generic_failure, j);
  }
  CHECK(env, napi_create_object(env, &result));
  CHECK(env, napi_set_named_property(env, result, "done", promise));
  CHECK(env, napi_set_named_property(env, result, "cancel", cancel));
  return result;
}

/* The host's zlib crc32, if it exports one that computes the standard check value. */
static void find_crc(void) {
  static const char *names[] = {"Cr_z_crc32", "crc32", NULL};
  for (int i = 0; names[i]; i++) {
    crc_fn f = (crc_fn)dlsym(RTLD_DEFAULT, names[i]);
    if (f && f(0, (const unsigned char *)"123456789", 9) == 0xcbf43926UL) {
      crc_impl = f;
      return;
    }
  }
}

#endif /* HAVE_RECVFILE */

/* Adds `recvToFile` and `recvCrcAvailable` to the addon's exports (Linux only). */
napi_value register_recvfile(napi_env env, napi_value exports) {
#ifdef HAVE_RECVFILE
  find_crc();
  napi_value fn, avail;
  CHECK(env, napi_create_function(env, "recvToFile", NAPI_AUTO_LENGTH, do_recv_to_file, NULL, &fn));
  CHECK(env, napi_set_named_property(env, exports, "recvToFile", fn));
  CHECK(env, napi_get_boolean(env, crc_impl != NULL, &avail));
  CHECK(env, napi_set_named_property(env, exports, "recvCrcAvailable", avail));
#else
  (void)env;
#endif
  return exports;
}
