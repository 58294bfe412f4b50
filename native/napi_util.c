/*
 * Helpers shared by the addon's parts (sendfile.c, fsops.c): Node-style
 * system errors built from an errno.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

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

