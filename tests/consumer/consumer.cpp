// consumer_cxx — the public headers from C++: the same round trip as
// consumer.c, with the handles held by std::unique_ptr.
#include <cstdio>
#include <cstring>
#include <memory>

#include <shmap.h>

namespace {

struct unref {
  void operator()(shmap_mappable *m) const { shmap_mappable_unref(m); }
};
struct release {
  void operator()(shmap_window *w) const { shmap_window_release(w); }
};

int fail(const char *what, int rc) {
  std::fprintf(stderr, "consumer_cxx: %s: %s (%s)\n", what, shmap_err_name(rc),
               shmap_last_message());
  return 1;
}

} // namespace

int main() {
  const char text[] = "written from C++";
  char back[sizeof text] = {};
  const uint64_t g = shmap_map_granularity();
  shmap_mappable *mp = nullptr;
  shmap_window *wp = nullptr;
  int rc = shmap_mappable_create(g, 0, &mp);
  if (rc != 0)
    return fail("mappable_create", rc);
  std::unique_ptr<shmap_mappable, unref> m(mp);
  if ((rc = shmap_window_reserve(16 * g, 0, &wp)) != 0)
    return fail("window_reserve", rc);
  std::unique_ptr<shmap_window, release> w(wp);
  if ((rc = shmap_window_map(w.get(), 0, m.get(), 0, g, SHMAP_PROT_RW)) != 0 ||
      (rc = shmap_window_map(w.get(), 8 * g, m.get(), 0, g, SHMAP_PROT_READ)) !=
          0)
    return fail("window_map", rc);
  if ((rc = shmap_window_write(w.get(), 0, text, sizeof text, nullptr)) != 0)
    return fail("window_write", rc);
  auto *p = static_cast<const char *>(
      shmap_window_translate(w.get(), 8 * g, sizeof back));
  if (p == nullptr)
    return fail("window_translate", SHMAP_ENOENT);
  std::memcpy(back, p, sizeof back);
  const bool ok = std::memcmp(back, text, sizeof text) == 0;
  std::printf("%s: shmap %s from C++, %s\n", ok ? "OK" : "MISMATCH",
              SHMAP_VERSION_STRING, back);
  return ok ? 0 : 1;
}
