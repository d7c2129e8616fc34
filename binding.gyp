{
  "targets": [
    {
      "target_name": "otel_blackbox_segment_io",
      "sources": ["native/segment_io.c", "native/writer_lock.c", "native/crc32.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"]
    }
  ]
}
