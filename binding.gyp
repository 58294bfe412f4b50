{
  "targets": [
    {
      "target_name": "tandem_native",
      "sources": ["native/addon.c", "native/napi_util.c", "native/sendfile.c", "native/fsops.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
