{
  "targets": [
    {
      "target_name": "beacon_native",
      "sources": ["src/addon.cc", "src/errors.cc", "src/packet_socket.cc", "src/periodic_sender.cc", "src/tcp_md5.cc", "src/udp_ttl_socket.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"],
      "cflags": ["-Wall", "-Wextra", "-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-fno-exceptions"]
    }
  ]
}
