{
  "targets": [
    {
      "target_name": "tandem_native",
      "sources": ["native/addon.c", "native/napi_util.c", "native/sendfile.c", "native/fsops.c", "native/recvfile.c"],
      "libraries": ["-ldl"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
