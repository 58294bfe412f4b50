/*
 * tandem_native, part 2: filesystem calls Node does not offer.
 *
 * JS API (loaded by src/engine/io/native-fs.ts, never used directly elsewhere):
 *
 *   renameNoReplace(from, to) → undefined, or throws an Error with `code`
 *   tmpfileWrite(dir, buf, len, mtimeSec) → [fd, mtimeMs, ino], or throws
 *   linkFd(fd, to) → undefined, or throws (EEXIST when `to` exists)
 *   statInto(path, out) → 0 with out = [size, mtimeMs, ino, isFile], or -errno
 *   readInto(path, dst, dstOff, start, end, maxLen, out) → bytes read, or -errno
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

#if defined(__linux__)

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

#endif /* __linux__ */

#ifdef HAVE_RENAMEAT2

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

#if defined(__linux__) && defined(O_TMPFILE)
#define HAVE_TMPFILE 1
#include <stdio.h>
#include <sys/stat.h>

/*
 * tmpfileWrite(dir, buf, len, mtimeSec[, sameSecondOk]): an unnamed file (O_TMPFILE)
 * in `dir` holding buf[0..len), with mtime set when mtimeSec is a number (NaN =
 * leave it), returned open as [fd, mtimeMs, ino]. With sameSecondOk true and an
 * integral mtimeSec, a file whose own mtime already falls in that second is left
 * as written: callers that only compare whole seconds (FastDFS names carry
 * seconds) skip a futimens(2), which is most files (a new upload's name takes
 * the current second). The small-blob commit then names
 * it with linkFd. Why: an unnamed file needs no temp directory entry to add
 * and remove, and naming it is one link(2) into the final directory, where a
 * temp file's rename(2) between two directories takes the filesystem-wide
 * rename lock; two daemons writing small files on one filesystem contend on
 * that lock (measured: 48-55 us of kernel time per file with temp + rename,
 * 33-46 us with this, two writers on one ext4). A crash before the link
 * leaves nothing behind: the kernel frees an unnamed inode on close or, after
 * a crash, at journal recovery. Errors: EOPNOTSUPP / EISDIR / EINVAL where the
 * filesystem or kernel has no O_TMPFILE (the caller falls back to temp + rename).
 */
static napi_value tmpfile_write(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "tmpfileWrite(dir, buf, len, mtimeSec[, sameSecondOk])");
    return NULL;
  }
  bool same_second_ok = false;
  if (argc >= 5) {
    napi_valuetype t;
    CHECK(env, napi_typeof(env, argv[4], &t));
    if (t == napi_boolean) CHECK(env, napi_get_value_bool(env, argv[4], &same_second_ok));
  }
  void *data = NULL;
  size_t cap = 0;
  if (napi_get_buffer_info(env, argv[1], &data, &cap) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "buf must be a Buffer");
    return NULL;
  }
  int64_t len = 0;
  double mtime = 0;
  CHECK(env, napi_get_value_int64(env, argv[2], &len));
  CHECK(env, napi_get_value_double(env, argv[3], &mtime));
  if (len < 0 || (size_t)len > cap) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "len outside the buffer");
    return NULL;
  }
  char *dir = path_arg(env, argv[0]);
  if (!dir) return NULL;
  int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
  int e = errno;
  free(dir);
  if (fd < 0) {
    napi_throw(env, make_error(env, e, "open"));
    return NULL;
  }
  const char *p = data;
  size_t left = (size_t)len;
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      e = n < 0 ? errno : EIO;
      close(fd);
      napi_throw(env, make_error(env, e, "write"));
      return NULL;
    }
    p += n;
    left -= (size_t)n;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    e = errno;
    close(fd);
    napi_throw(env, make_error(env, e, "fstat"));
    return NULL;
  }
  if (mtime == mtime) { /* not NaN */
    bool keep = same_second_ok && mtime == (double)(time_t)mtime && st.st_mtim.tv_sec == (time_t)mtime;
    if (!keep) {
      struct timespec ts[2];
      ts[0].tv_sec = ts[1].tv_sec = (time_t)mtime;
      ts[0].tv_nsec = ts[1].tv_nsec = (long)((mtime - (double)(time_t)mtime) * 1e9);
      /* fstat again after: the filesystem may store the time coarser than given. */
      if (futimens(fd, ts) != 0 || fstat(fd, &st) != 0) {
        e = errno;
        close(fd);
        napi_throw(env, make_error(env, e, "futimens"));
        return NULL;
      }
    }
  }
  napi_value out, v;
  CHECK(env, napi_create_array_with_length(env, 3, &out));
  CHECK(env, napi_create_int32(env, fd, &v));
  CHECK(env, napi_set_element(env, out, 0, v));
  CHECK(env, napi_create_double(env, (double)st.st_mtim.tv_sec * 1e3 + (double)st.st_mtim.tv_nsec / 1e6, &v));
  CHECK(env, napi_set_element(env, out, 1, v));
  CHECK(env, napi_create_double(env, (double)st.st_ino, &v));
  CHECK(env, napi_set_element(env, out, 2, v));
  return out;
}

/*
 * linkFd(fd, to): give the unnamed file `fd` (from tmpfileWrite) the name
 * `to`; EEXIST if `to` exists (link(2) never replaces, so "never clobber a
 * blob" holds against any writer). With AT_EMPTY_PATH where the process may
 * (CAP_DAC_READ_SEARCH), else through /proc/self/fd, which needs no privilege.
 * The caller closes fd either way.
 */
/* Whether linkat(AT_EMPTY_PATH) names unnamed files here: -1 not yet known, 1 yes, 0 no (no
 * CAP_DAC_READ_SEARCH). Only the JS thread calls link_fd, so no lock. */
static int empty_path_ok = -1;

static napi_value link_fd(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "linkFd(fd, to)");
    return NULL;
  }
  int32_t fd = -1;
  CHECK(env, napi_get_value_int32(env, argv[0], &fd));
  char *to = path_arg(env, argv[1]);
  if (!to) return NULL;
  int r = -1;
  int e = 0;
  /* AT_EMPTY_PATH first unless known not to work here: it names the file without resolving
   * /proc/self/fd/N, a procfs path walk that cost ~1.5% of a storage's CPU under 4 KiB uploads.
   * Without CAP_DAC_READ_SEARCH it fails with ENOENT, which a missing directory also gives:
   * the /proc way then decides (it succeeding means the capability was missing). */
  if (empty_path_ok != 0) {
    r = linkat(fd, "", AT_FDCWD, to, AT_EMPTY_PATH);
    e = errno;
    if (r == 0) empty_path_ok = 1;
  }
  if (r != 0 && empty_path_ok != 1 && (empty_path_ok == 0 || e == ENOENT)) {
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    r = linkat(AT_FDCWD, proc, AT_FDCWD, to, AT_SYMLINK_FOLLOW);
    e = errno;
    if (r == 0) empty_path_ok = 0;
  }
  free(to);
  if (r != 0) napi_throw(env, make_error(env, e, "linkat"));
  return NULL;
}

#endif /* O_TMPFILE */

#if defined(__linux__)
#include <stdbool.h>
#include <sys/stat.h>

/*
 * statInto(path, out): stat(2) into a caller-owned Float64Array of 4:
 * [size, mtimeMs, ino, 1 if a regular file else 0]. Returns 0, or -errno
 * without throwing (ENOENT is an ordinary answer on the read path). Why: the
 * blob store checks its recent-writes cache against the file on every small
 * read; Node's statSync builds a Stats object with four Date objects for it.
 */
static napi_value stat_into(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "statInto(path, out)");
    return NULL;
  }
  napi_typedarray_type type;
  size_t n = 0;
  void *data = NULL;
  bool is_ta = false;
  CHECK(env, napi_is_typedarray(env, argv[1], &is_ta));
  if (!is_ta || napi_get_typedarray_info(env, argv[1], &type, &n, &data, NULL, NULL) != napi_ok || type != napi_float64_array || n < 4) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "out must be a Float64Array of 4");
    return NULL;
  }
  char buf[4096];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], buf, sizeof buf, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "path must be a string");
    return NULL;
  }
  napi_value ret;
  if (len >= sizeof buf - 1 || strlen(buf) != len) { /* too long to be sure it was not cut, or an embedded NUL */
    CHECK(env, napi_create_int32(env, -ENAMETOOLONG, &ret));
    return ret;
  }
  struct stat st;
  int r = stat(buf, &st) == 0 ? 0 : -errno;
  if (r == 0) {
    double *out = data;
    out[0] = (double)st.st_size;
    out[1] = (double)st.st_mtim.tv_sec * 1e3 + (double)st.st_mtim.tv_nsec / 1e6;
    out[2] = (double)st.st_ino;
    out[3] = S_ISREG(st.st_mode) ? 1 : 0;
  }
  CHECK(env, napi_create_int32(env, r, &ret));
  return ret;
}

/*
 * readInto(path, dst, dstOff, start, end, maxLen, out): open, fstat, pread and
 * close in one call. Reads the byte range [start, end) of the regular file at
 * `path` (end < 0 = to the end of the file, clamped to the size) into
 * dst[dstOff..], provided the range holds at most maxLen bytes and fits dst.
 * Returns the bytes read (short only if the file shrank meanwhile), and out =
 * [size, mtimeMs, ino, start]; or -errno without throwing: -ENOENT/-ENOTDIR
 * absent, -EISDIR not a regular file, -ERANGE start beyond the size or
 * end < start, -EFBIG range longer than maxLen (nothing read: the caller
 * streams it). Why: a small download was four calls into the runtime
 * (openSync, fstatSync with its Stats object, readSync, closeSync) and a
 * buffer of its own; this is one call reading straight into the reply.
 */
static napi_value read_into(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 7) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "readInto(path, dst, dstOff, start, end, maxLen, out)");
    return NULL;
  }
  void *dst = NULL;
  size_t cap = 0;
  if (napi_get_buffer_info(env, argv[1], &dst, &cap) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "dst must be a Buffer");
    return NULL;
  }
  int64_t dst_off = 0, start = 0, end = 0, max_len = 0;
  CHECK(env, napi_get_value_int64(env, argv[2], &dst_off));
  CHECK(env, napi_get_value_int64(env, argv[3], &start));
  CHECK(env, napi_get_value_int64(env, argv[4], &end));
  CHECK(env, napi_get_value_int64(env, argv[5], &max_len));
  napi_typedarray_type type;
  size_t n = 0;
  void *outp = NULL;
  bool is_ta = false;
  CHECK(env, napi_is_typedarray(env, argv[6], &is_ta));
  if (!is_ta || napi_get_typedarray_info(env, argv[6], &type, &n, &outp, NULL, NULL) != napi_ok || type != napi_float64_array || n < 4) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "out must be a Float64Array of 4");
    return NULL;
  }
  if (dst_off < 0 || (size_t)dst_off > cap || start < 0 || max_len < 0 || (size_t)max_len > cap - (size_t)dst_off) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "readInto: offsets or maxLen outside dst");
    return NULL;
  }
  char path[4096];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "path must be a string");
    return NULL;
  }
  napi_value ret;
  int64_t r;
  if (len >= sizeof path - 1 || strlen(path) != len) {
    r = -ENAMETOOLONG;
  } else {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      r = -errno;
    } else {
      struct stat st;
      if (fstat(fd, &st) != 0) {
        r = -errno;
      } else if (!S_ISREG(st.st_mode)) {
        r = -EISDIR;
      } else {
        int64_t size = (int64_t)st.st_size;
        int64_t e = end < 0 || end > size ? size : end;
        if (start > size || e < start) {
          r = -ERANGE;
        } else if (e - start > max_len) {
          r = -EFBIG;
        } else {
          char *p = (char *)dst + dst_off;
          int64_t want = e - start, got = 0;
          r = 0;
          while (got < want) {
            ssize_t k = pread(fd, p + got, (size_t)(want - got), (off_t)(start + got));
            if (k < 0 && errno == EINTR) continue;
            if (k < 0) {
              r = -errno;
              break;
            }
            if (k == 0) break;
            got += k;
          }
          if (r == 0) r = got;
        }
        double *out = outp;
        out[0] = (double)st.st_size;
        out[1] = (double)st.st_mtim.tv_sec * 1e3 + (double)st.st_mtim.tv_nsec / 1e6;
        out[2] = (double)st.st_ino;
        out[3] = (double)start;
      }
      close(fd);
    }
  }
  CHECK(env, napi_create_int64(env, r, &ret));
  return ret;
}

#endif /* __linux__ (statInto, readInto) */

/* Adds `renameNoReplace` (where the headers know renameat2) and `tmpfileWrite`/`linkFd` (where they know O_TMPFILE) to the exports. */
napi_value register_fsops(napi_env env, napi_value exports) {
#ifdef HAVE_RENAMEAT2
  napi_value fn;
  CHECK(env, napi_create_function(env, "renameNoReplace", NAPI_AUTO_LENGTH, rename_no_replace, NULL, &fn));
  CHECK(env, napi_set_named_property(env, exports, "renameNoReplace", fn));
#else
  (void)env;
#endif
#if defined(__linux__)
  napi_value si;
  CHECK(env, napi_create_function(env, "statInto", NAPI_AUTO_LENGTH, stat_into, NULL, &si));
  CHECK(env, napi_set_named_property(env, exports, "statInto", si));
  napi_value ri;
  CHECK(env, napi_create_function(env, "readInto", NAPI_AUTO_LENGTH, read_into, NULL, &ri));
  CHECK(env, napi_set_named_property(env, exports, "readInto", ri));
#endif
#ifdef HAVE_TMPFILE
  napi_value tw, lf;
  CHECK(env, napi_create_function(env, "tmpfileWrite", NAPI_AUTO_LENGTH, tmpfile_write, NULL, &tw));
  CHECK(env, napi_set_named_property(env, exports, "tmpfileWrite", tw));
  CHECK(env, napi_create_function(env, "linkFd", NAPI_AUTO_LENGTH, link_fd, NULL, &lf));
  CHECK(env, napi_set_named_property(env, exports, "linkFd", lf));
#endif
  return exports;
}
