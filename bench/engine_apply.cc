// engine_apply: the KV state machine's speed.
//   - applied SETs/s: SET commands (16 B keys, 128 B values) applied through
//     KvStore::Apply in batches, first loading --keys distinct keys in random
//     order, then overwriting random existing keys;
//   - point GETs/s over those keys on one thread (a KvReader; uniformly
//     random keys): first cold (the read cache fills as it goes), then warm
//     (after one read of every key), and through the pooled KvStore::Get.
//
//   engine_apply [--dir DIR] [--keys N] [--batch B] [--seconds S]
//                [--order random|seq] [--read-cache-mb MB]
//
// Defaults: ./engine_apply.data (removed afterwards), 1000000 keys, batches
// of 1000 entries, 3 s of warm GETs, keys loaded in random order, a 512 MB
// read cache (0: every GET goes to WiredTiger's B-tree). The last line is
//   apply_per_second=<N> get_per_second=<M>
// with N over all SETs applied (load and overwrite) and M the warm KvReader
// rate.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "bench_util.h"
#include "engine/storage/store.h"

using namespace phalanx;
using bench::Clock;
using bench::Die;
using bench::Seconds;

namespace {

std::string Key(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "key:%012llu", static_cast<unsigned long long>(i));
  return buf;  // 16 bytes
}

// Applies SETs of keys[order[i]] in batches; returns SETs/s (Apply time only).
double ApplySets(storage::Store& s, const std::vector<uint64_t>& order, size_t batch,
                 uint64_t* index) {
  std::string value(128, 'v');
  double busy = 0;
  std::vector<consensus::Entry> entries;
  for (size_t i = 0; i < order.size(); i += batch) {
    entries.clear();
    size_t n = std::min(batch, order.size() - i);
    for (size_t j = 0; j < n; ++j) {
      value[0] = static_cast<char>('a' + (i + j) % 26);
      consensus::Entry e;
      e.index = ++*index;
      e.term = 1;
      e.data = storage::Command::Set(Key(order[i + j]), value, 0).Encode();
      entries.push_back(std::move(e));
    }
    auto start = Clock::now();
    auto r = s.kv().Apply(entries, std::nullopt);
    busy += Seconds(start);
    if (!r.ok()) Die("apply: " + r.status().ToString());
  }
  return static_cast<double>(order.size()) / busy;
}

}  // namespace

static int Run(int argc, char** argv) {
  std::string dir = "engine_apply.data";
  uint64_t keys = 1000000;
  size_t batch = 1000;
  double seconds = 3.0;
  bool sequential = false;
  uint64_t read_cache_mb = 512;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--order" && i + 1 < argc) {
      sequential = std::string(argv[++i]) == "seq";
      continue;
    }
    if (a == "--read-cache-mb" && i + 1 < argc) {
      read_cache_mb = std::strtoull(argv[++i], nullptr, 10);
      continue;
    }
    if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--keys" && i + 1 < argc) {
      keys = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--batch" && i + 1 < argc) {
      batch = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: engine_apply [--dir DIR] [--keys N] [--batch B] [--seconds S] "
                   "[--order random|seq] [--read-cache-mb MB]\n");
      return 2;
    }
  }
  if (keys == 0 || batch == 0) Die("--keys and --batch must be positive");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);

  storage::Options o;
  o.dir = dir;
  o.cache_size_mb = 1024;
  o.read_cache_mb = read_cache_mb;
  o.message_sink = [](std::string_view line) {
    std::fprintf(stderr, "storage: %.*s\n", static_cast<int>(line.size()), line.data());
  };
  auto opened = storage::Store::Open(o);
  if (!opened.ok()) Die("open: " + opened.status().ToString());
  std::unique_ptr<storage::Store> store = std::move(opened).value();
  std::printf(
      "engine_apply: %llu keys loaded in %s order, batches of %zu, read cache %llu MB, "
      "dir %s\n",
      static_cast<unsigned long long>(keys), sequential ? "ascending" : "random", batch,
      static_cast<unsigned long long>(read_cache_mb), dir.c_str());

  std::mt19937_64 rng(42);
  std::vector<uint64_t> order(keys);
  for (uint64_t i = 0; i < keys; ++i)
    order[i] = i;
  if (!sequential) std::shuffle(order.begin(), order.end(), rng);
  uint64_t index = 0;
  double load = ApplySets(*store, order, batch, &index);
  std::printf("SET load (new keys):                  %10.0f applied/s\n", load);
  std::vector<uint64_t> over(keys / 2);
  for (auto& k : over)
    k = rng() % keys;
  double overwrite = ApplySets(*store, over, batch, &index);
  std::printf("SET overwrite (random existing keys): %10.0f applied/s\n", overwrite);
  double total = static_cast<double>(keys + over.size()) /
                 (static_cast<double>(keys) / load + static_cast<double>(over.size()) / overwrite);
  if (store->kv().DbSize() != keys) Die("DBSIZE does not match the keys loaded");

  // GETs of uniformly random keys on one thread.
  std::vector<std::string> names(keys);
  for (uint64_t i = 0; i < keys; ++i)
    names[i] = Key(i);
  auto reader = store->kv().NewReader();
  if (!reader.ok()) Die("reader: " + reader.status().ToString());
  std::string value;
  uint64_t x = 88172645463325252ull;
  auto random_gets = [&](double secs, auto&& get) {
    uint64_t n = 0;
    auto start = Clock::now();
    while (Seconds(start) < secs) {
      for (int i = 0; i < 1000; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (!get(names[x % keys])) Die("a loaded key was not found");
      }
      n += 1000;
    }
    return static_cast<double>(n) / Seconds(start);
  };
  auto reader_get = [&](const std::string& k) {
    auto r = reader.value()->Get(k, 1, &value);
    if (!r.ok()) Die("get: " + r.status().ToString());
    return r.value();
  };
  double cold = random_gets(std::min(seconds, 1.0), reader_get);
  std::printf("GET cold (cache filling), KvReader: %10.0f gets/s\n", cold);
  auto start = Clock::now();
  for (uint64_t i = 0; i < keys; ++i)
    reader_get(names[i]);
  std::printf("GET every key once, in order:       %10.0f gets/s\n",
              static_cast<double>(keys) / Seconds(start));
  double get_rate = random_gets(seconds, reader_get);
  std::printf("GET warm, KvReader, 1 thread:       %10.0f gets/s\n", get_rate);
  double pooled = random_gets(seconds / 3, [&](const std::string& k) {
    auto r = store->kv().Get(k, 1);
    if (!r.ok()) Die("get: " + r.status().ToString());
    return r.value().has_value();
  });
  std::printf("GET warm, KvStore::Get, 1 thread:   %10.0f gets/s\n", pooled);
  reader.value().reset();
  store.reset();
  std::filesystem::remove_all(dir, ec);
  std::printf("apply_per_second=%.0f get_per_second=%.0f\n", total, get_rate);
  return 0;
}

// What escapes Run (std::bad_alloc, a library's exception) ends the process
// with one line, not std::terminate's abort.
int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", "engine_apply", e.what());
  } catch (...) {
    std::fprintf(stderr, "%s: unknown exception\n", "engine_apply");
  }
  return 1;
}
