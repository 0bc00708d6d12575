{
  "targets": [
    {
      "target_name": "tcptrace",
      "sources": ["src/native/probe.cc", "src/native/loader.cc", "src/native/programs.cc", "src/native/delivery.cc", "src/native/counters.cc", "src/native/libbpf-log.cc", "src/native/ring.cc", "src/native/drain.cc", "src/native/btf-names.cc", "src/native/listeners.cc", "src/native/listen-queues.cc", "src/native/sockdiag.cc", "src/native/census.cc", "src/native/privileges.cc", "src/native/conn-totals.cc", "src/native/hidden-calls.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "cflags_cc": ["-std=c++17", "-Wall", "<!@(pkg-config --cflags libbpf)"],
      "libraries": ["<!@(pkg-config --libs libbpf)"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"]
    }
  ]
}
