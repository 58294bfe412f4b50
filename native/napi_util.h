/* Shared by the tandem_native addon's source files; see napi_util.c. */
#ifndef TANDEM_NAPI_UTIL_H
#define TANDEM_NAPI_UTIL_H

#include <node_api.h>

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

napi_value register_sendfile(napi_env env, napi_value exports);
napi_value register_fsops(napi_env env, napi_value exports);
napi_value register_recvfile(napi_env env, napi_value exports);

#endif
