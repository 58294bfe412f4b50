/*
 * tandem_native, part 2: filesystem calls Node does not offer.
 *
 * JS API (loaded by src/engine/io/native-fs.ts, never used directly elsewhere):
 *
 *   renameNoReplace(from, to) → undefined, or throws an Error with `code`
 *
 * renameat2(2) with RENAME_NOREPLACE: moves `from` to `to` only if `to` does
 * not exist, atomically (EEXIST otherwise). The blob store commits finished
 * temp files with it, so "never clobber an existing blob" costs one syscall
 * instead of an existence check plus a rename, and holds even against a writer
 * in another process. Filesystems without support answer EINVAL (and old
 * kernels ENOSYS); the caller then falls back to check + rename.
 *
 * Synchronous on purpose: it is called from the blob store's synchronous
 * small-file commit, where a thread-pool hop costs more than the call.
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <node_api.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "napi_util.h"

#if defined(__linux__)
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(SYS_renameat2)
#define HAVE_RENAMEAT2 1
#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#endif
#endif

#ifdef HAVE_RENAMEAT2

/* Copies JS string argument `v` into a malloc'ed NUL-terminated buffer (NULL after throwing). */
static char *path_arg(napi_env env, napi_value v) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "path must be a string");
    return NULL;
  }
  char *p = malloc(len + 1);
  if (!p) {
    napi_throw(env, make_error(env, ENOMEM, "malloc"));
    return NULL;
  }
  napi_get_value_string_utf8(env, v, p, len + 1, &len);
  if (strlen(p) != len) { /* an embedded NUL would silently cut the path short */
    free(p);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "path must not contain NUL bytes");
    return NULL;
  }
  return p;
}

static napi_value rename_no_replace(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "renameNoReplace(from, to)");
    return NULL;
  }
  char *from = path_arg(env, argv[0]);
  if (!from) return NULL;
  char *to = path_arg(env, argv[1]);
  if (!to) {
    free(from);
    return NULL;
  }
  long r = syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
  int e = errno;
  free(from);
  free(to);
  if (r != 0) napi_throw(env, make_error(env, e, "renameat2"));
  return NULL;
}

#endif /* HAVE_RENAMEAT2 */

/* Adds `renameNoReplace` to the addon's exports where the kernel headers know renameat2. */
napi_value register_fsops(napi_env env, napi_value exports) {
#ifdef HAVE_RENAMEAT2
  napi_value fn;
  CHECK(env, napi_create_function(env, "renameNoReplace", NAPI_AUTO_LENGTH, rename_no_replace, NULL, &fn));
  CHECK(env, napi_set_named_property(env, exports, "renameNoReplace", fn));
#else
  (void)env;
#endif
  return exports;
}
