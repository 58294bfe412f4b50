/* Shared by the tandem_native addon's source files; see napi_util.c. */
#ifndef TANDEM_NAPI_UTIL_H
#define TANDEM_NAPI_UTIL_H

#include <node_api.h>
#include <stdint.h>

#define CHECK(env, call)                                       \
  do {                                                         \
    if ((call) != napi_ok) {                                   \
      napi_throw_error((env), NULL, "napi call failed: " #call); \
      return NULL;                                             \
    }                                                          \
  } while (0)

/* The errno's symbolic name ("EPIPE", "EEXIST", ...), "UNKNOWN" for others. */
const char *errno_code(int e);

/* `Error("<CODE>: <strerror>, <syscall>")` with `code`, negative `errno` and `syscall`, like Node's own. */
napi_value make_error(napi_env env, int e, const char *syscall);

/* A JS number that is a non-negative safe integer, into *out; 0 when it is not. */
int get_int64(napi_env env, napi_value v, int64_t *out);

/*
 * A thread-pool job's wait for `events` (POLLIN or POLLOUT) on its non-blocking socket, at most
 * `timeout_ms`. 0: retry the call (ready; or POLLERR/POLLHUP, which the retried call reports as
 * its real error, and *hangup is set). Else the errno that ends the job: ETIMEDOUT, EBADF, a
 * poll error, or `hangup_err` when *hangup was set already (the connection is gone, yet the
 * call said "try again"). *syscall names the call that failed.
 */
int wait_socket(int fd, short events, int timeout_ms, int *hangup, int hangup_err, const char **syscall);

/*
 * What the socket jobs (sendfile.c, recvfile.c) share, embedded as the first member of each job:
 * the duplicate of the socket that cancel() shuts down, and the job's lifetime. The job is
 * malloc'ed and freed (as a whole, through this first member) when `refs` reaches 0.
 */
typedef struct {
  int sock_fd;   /* the job's duplicate of the socket */
  int done;      /* main thread: duplicates closed, cancel() must not touch sock_fd any more */
  int cancelled; /* main thread: cancel() ran before completion */
  int refs;      /* the async work + the cancel function */
} sock_job_t;

/* Drop one reference; at 0 the whole job is freed. */
void sock_job_unref(sock_job_t *b);

/*
 * The job's JS cancel(): shuts the socket down through the job's duplicate, which wakes a worker
 * blocked in poll() and makes its next call fail; a no-op once the job is done. Takes a reference
 * (dropped when the function is collected). `undefined` when it cannot be made.
 */
napi_value sock_job_cancel_fn(napi_env env, sock_job_t *b);

napi_value register_sendfile(napi_env env, napi_value exports);
napi_value register_fsops(napi_env env, napi_value exports);
napi_value register_recvfile(napi_env env, napi_value exports);

#endif
