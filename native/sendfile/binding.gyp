{
  "targets": [
    {
      "target_name": "skiff_sendfile",
      "sources": ["sendfile.c", "trim.c", "memory.cc", "pages.c", "direct.c", "hash.c", "recv.c", "args.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
