// shmap benchmarks — Boost.Interprocess as a peer: what it costs to create a
// shareable memory object, map it, touch it and give it all back, against
// shmap's mappable create + window map + unmap + unref of the same size.
//
// Boost shares memory between processes by name: shared_memory_object is a
// POSIX shm object (shm_open under /dev/shm) that must be removed by name
// when done, and mapped_region maps it wherever the kernel chooses.
#include <cstdio>
#include <string>

#include <unistd.h>

#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>

#include "peers.h"

namespace bip = boost::interprocess;

extern "C" double bench_peer_boost_create_map_unmap(uint64_t len, int iters) {
  const std::string name = "shmap-bench-boost-" + std::to_string(getpid());
  bip::shared_memory_object::remove(name.c_str()); // a leftover of a crash
  try {
    double t0 = bench_now_ns();
    for (int i = 0; i < iters; i++) {
      {
        bip::shared_memory_object shm(bip::create_only, name.c_str(),
                                      bip::read_write);
        shm.truncate(static_cast<bip::offset_t>(len));
        bip::mapped_region region(shm, bip::read_write, 0,
                                  static_cast<std::size_t>(len));
        static_cast<unsigned char *>(region.get_address())[0] =
            static_cast<unsigned char>(i); // touch one page, like the others
      }                                    // munmap, close
      bip::shared_memory_object::remove(name.c_str());
    }
    return (bench_now_ns() - t0) / iters;
  } catch (const bip::interprocess_exception &e) {
    std::fprintf(stderr, "shmap-bench: boost peer: %s\n", e.what());
    bip::shared_memory_object::remove(name.c_str());
    return -1;
  }
}
