/*
 * tandem_native: the optional addon's module entry. Each part adds its
 * functions to the exports: sendfile.c (zero-copy downloads) and fsops.c
 * (renameat2 without replace) and recvfile.c (socket → file receives). A part the platform lacks adds nothing, and
 * the JS loaders treat a missing function as "absent".
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include "napi_util.h"

static napi_value init(napi_env env, napi_value exports) {
  if (!register_sendfile(env, exports)) return NULL;
  if (!register_fsops(env, exports)) return NULL;
  if (!register_recvfile(env, exports)) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
