// SPDX-License-Identifier: Apache-2.0
// Validation speed: validate() over about 100 MiB of realistic detection
// records (process, network and 20-input template records with paths,
// command lines, hashes and wildcards), against two peers that read the same
// bytes once and do nothing else: memchr for a byte that never occurs, and
// std::accumulate of the bytes. Those are the floor of any single pass.
// Prints the median of several runs of each and the ratios. It also
// validates the same payload over a fresh read-only map of a file holding it
// (what the guard does with a slot's content: map, then validate), page
// faults included.
//
//   bench_validate [MiB] [runs]      (defaults: 100 and 7)
#include <slotguard/schema.hpp>
#include <slotguard/storage.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#if !SLOTGUARD_OS_WINDOWS
#include <unistd.h>
#else
#include <process.h>
#define getpid _getpid
#endif

namespace sg = slotguard;

namespace {

constexpr sg::enum_value kActions[] = {{"allow", 0}, {"alert", 1}, {"block", 2}, {"kill", 9}};
constexpr sg::enum_value kAccess[] = {{"none", 0}, {"read", 1}, {"write", 2}, {"exec", 4}};
constexpr sg::enum_value kVerdicts[] = {{"pass", 100}, {"drop", 200}};
constexpr std::int64_t kProtos[] = {6, 17};

constexpr sg::field_decl kProcessFields[] = {
    sg::fields::u8("severity").range(1, 5),
    sg::fields::u32("parent_pid").range(1, 4194304).wildcard(),
    sg::fields::string("image", 260).wildcard(),
    sg::fields::string("command_line", 1024).wildcard(),
    sg::fields::string("user", 64).wildcard(),
    sg::fields::bytes("sha256", 32).wildcard(),
    sg::fields::boolean("elevated").wildcard(),
    sg::fields::i32("integrity").range(-1, 16384),
    sg::fields::u64("rule_id"),
    sg::fields::enumeration("action", kActions),
};
constexpr sg::field_decl kNetFields[] = {
    sg::fields::u8("proto").allowed(kProtos),
    sg::fields::u16("remote_port").range(1, 65535).wildcard(),
    sg::fields::string("remote_host", 253).wildcard(),
    sg::fields::bytes("remote_ip", 16).wildcard(),
    sg::fields::u64("rule_id"),
    sg::fields::enumeration("verdict", kVerdicts),
};
constexpr sg::field_decl kTemplateFields[] = {
    sg::fields::u32("f00").wildcard(),        sg::fields::u32("f01").wildcard(),
    sg::fields::string("f02", 128).wildcard(), sg::fields::string("f03", 128).wildcard(),
    sg::fields::u16("f04").range(0, 1024).wildcard(), sg::fields::u8("f05").wildcard(),
    sg::fields::boolean("f06").wildcard(),    sg::fields::string("f07", 260).wildcard(),
    sg::fields::string("f08", 260).wildcard(), sg::fields::u64("f09").wildcard(),
    sg::fields::i32("f10").range(-1, 2147483647).wildcard(), sg::fields::enumeration("f11", kAccess).wildcard(),
    sg::fields::bytes("f12", 64).wildcard(),   sg::fields::string("f13", 32).wildcard(),
    sg::fields::u32("f14").wildcard(),         sg::fields::u16("f15").wildcard(),
    sg::fields::i64("f16").wildcard(),         sg::fields::string("f17", 512).wildcard(),
    sg::fields::boolean("f18").wildcard(),     sg::fields::u32("f19").range(0, 100).wildcard(),
};
constexpr sg::record_decl kRecords[] = {
    {1, "process_rule", kProcessFields}, {2, "net_rule", kNetFields}, {291, "template_input", kTemplateFields}};
constexpr sg::schema_decl kDecl{"bench.rules", 1, kRecords};

std::mt19937_64 rng(20240719);
std::uint64_t pick(std::uint64_t n) { return rng() % n; }

const char* const kDirs[] = {"C:\\Windows\\System32\\", "C:\\Program Files\\Vendor\\", "C:\\Users\\alice\\AppData\\Local\\Temp\\",
                             "/usr/bin/", "/opt/sensor/libexec/", "C:\\ProgramData\\Updater\\bin\\"};
const char* const kExes[] = {"cmd.exe", "powershell.exe", "rundll32.exe", "svchost.exe", "bash", "python3",
                             "updater-service.exe", "regsvr32.exe", "wscript.exe", "curl"};
const char* const kArgs[] = {" -NoProfile -ExecutionPolicy Bypass -EncodedCommand ", " /c start ", " --silent --install ",
                             " -o /tmp/x ", " shell32.dll,Control_RunDLL ", " /s /i:http://example.invalid/x.sct "};

std::string path() { return std::string(kDirs[pick(6)]) + kExes[pick(10)]; }
std::string command_line() {
  std::string s = path();
  const std::uint64_t n = 1 + pick(3);
  for (std::uint64_t i = 0; i < n; ++i) s += kArgs[pick(6)];
  while (s.size() < 60 + pick(120)) s.push_back(static_cast<char>('a' + pick(26)));
  return s;
}
std::string random_bytes(std::size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(pick(256));
  return s;
}

void process_record(sg::payload_writer& w) {
  w.begin_record(1);
  w.add_u8(static_cast<std::uint8_t>(1 + pick(5)));
  if (pick(4) == 0) w.add_wildcard(); else w.add_u32(static_cast<std::uint32_t>(1 + pick(4194304)));
  w.add_string(path());
  if (pick(3) == 0) w.add_wildcard(); else w.add_string(command_line());
  if (pick(2) == 0) w.add_wildcard(); else w.add_string(pick(2) ? "NT AUTHORITY\\SYSTEM" : "alice");
  if (pick(2) == 0) w.add_wildcard(); else w.add_bytes(sg::byte_view(std::string_view(random_bytes(32))));
  if (pick(2) == 0) w.add_wildcard(); else w.add_bool(pick(2) != 0);
  w.add_i32(static_cast<std::int32_t>(pick(16385)));
  w.add_u64(rng());
  w.add_enum(kActions[pick(4)].code);
}
void net_record(sg::payload_writer& w) {
  w.begin_record(2);
  w.add_u8(pick(2) ? 6 : 17);
  if (pick(3) == 0) w.add_wildcard(); else w.add_u16(static_cast<std::uint16_t>(1 + pick(65535)));
  if (pick(3) == 0) w.add_wildcard(); else w.add_string("telemetry-" + std::to_string(pick(100000)) + ".example.invalid");
  if (pick(2) == 0) w.add_wildcard(); else w.add_bytes(sg::byte_view(std::string_view(random_bytes(pick(2) ? 4 : 16))));
  w.add_u64(rng());
  w.add_enum(pick(2) ? 100 : 200);
}
void template_record(sg::payload_writer& w) {
  w.begin_record(291);
  auto wild = [&] { return pick(3) == 0; };
  if (wild()) w.add_wildcard(); else w.add_u32(static_cast<std::uint32_t>(rng()));
  if (wild()) w.add_wildcard(); else w.add_u32(static_cast<std::uint32_t>(rng()));
  if (wild()) w.add_wildcard(); else w.add_string(kExes[pick(10)]);
  if (wild()) w.add_wildcard(); else w.add_string("\\Device\\HarddiskVolume3\\Windows");
  if (wild()) w.add_wildcard(); else w.add_u16(static_cast<std::uint16_t>(pick(1025)));
  if (wild()) w.add_wildcard(); else w.add_u8(static_cast<std::uint8_t>(pick(256)));
  if (wild()) w.add_wildcard(); else w.add_bool(pick(2) != 0);
  if (wild()) w.add_wildcard(); else w.add_string(path());
  if (wild()) w.add_wildcard(); else w.add_string(path());
  if (wild()) w.add_wildcard(); else w.add_u64(rng());
  if (wild()) w.add_wildcard(); else w.add_i32(static_cast<std::int32_t>(pick(1u << 30)));
  if (wild()) w.add_wildcard(); else w.add_enum(kAccess[pick(4)].code);
  if (wild()) w.add_wildcard(); else w.add_bytes(sg::byte_view(std::string_view(random_bytes(static_cast<std::size_t>(pick(64))))));
  if (wild()) w.add_wildcard(); else w.add_string("tag-" + std::to_string(pick(1000)));
  if (wild()) w.add_wildcard(); else w.add_u32(static_cast<std::uint32_t>(rng()));
  if (wild()) w.add_wildcard(); else w.add_u16(static_cast<std::uint16_t>(rng()));
  if (wild()) w.add_wildcard(); else w.add_i64(static_cast<std::int64_t>(rng()));
  if (wild()) w.add_wildcard(); else w.add_string(command_line());
  if (wild()) w.add_wildcard(); else w.add_bool(pick(2) != 0);
  if (wild()) w.add_wildcard(); else w.add_u32(static_cast<std::uint32_t>(pick(101)));
}

// Wall time, and the process's CPU time (std::clock), which a busy shared
// machine does not inflate by descheduling us.
struct stamp {
  std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
  std::clock_t cpu = std::clock();
};
struct lap {
  double wall, cpu;
};
lap since(const stamp& t0) {
  const stamp t1;
  return {std::chrono::duration<double>(t1.wall - t0.wall).count(),
          static_cast<double>(t1.cpu - t0.cpu) / CLOCKS_PER_SEC};
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t mib = argc > 1 ? static_cast<std::size_t>(std::strtoul(argv[1], nullptr, 10)) : 100;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 7;
  auto s = sg::schema::from_decl(kDecl);
  if (!s) {
    std::fprintf(stderr, "schema: %s\n", s.error().message.c_str());
    return 1;
  }
  sg::payload_writer w(s->id(), s->version());
  while (w.size() < mib * 1024 * 1024) {
    const std::uint64_t k = pick(10);
    if (k < 5) process_record(w);
    else if (k < 8) net_record(w);
    else template_record(w);
  }
  const std::vector<std::uint8_t> payload = w.finish();
  const double n = static_cast<double>(payload.size());

  // memchr looks for the payload's rarest byte, so it runs as long as it can.
  std::uint64_t histogram[256] = {};
  for (std::uint8_t b : payload) ++histogram[b];
  const std::uint8_t needle =
      static_cast<std::uint8_t>(std::min_element(histogram, histogram + 256) - histogram);

  // The payload as a file, for the map runs.
  const std::string map_path =
      (std::filesystem::temp_directory_path() / ("slotguard-bench-validate-" + std::to_string(::getpid()))).string();
  {
    std::ofstream out(map_path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(payload.data()), static_cast<std::streamsize>(payload.size()));
  }
  sg::native_storage disk;
  std::vector<lap> t_validate, t_memchr, t_accum, t_map, t_mapped;
  std::size_t records = 0;
  std::uint64_t sink = 0;
  for (int r = 0; r < runs; ++r) {
    stamp t0;
    auto v = sg::validate(*s, payload);
    t_validate.push_back(since(t0));
    if (!v) {
      std::fprintf(stderr, "validation failed: %s\n", v.error().message.c_str());
      return 1;
    }
    records = v->record_count();

    t0 = stamp();
    // memchr restarts after each (rare) hit, so it still reads every byte once.
    const std::uint8_t* p = payload.data();
    const std::uint8_t* e = p + payload.size();
    std::uint64_t hits = 0;
    while (p < e) {
      const void* q = std::memchr(p, needle, static_cast<std::size_t>(e - p));
      if (!q) break;
      ++hits;
      p = static_cast<const std::uint8_t*>(q) + 1;
    }
    t_memchr.push_back(since(t0));
    sink += hits;

    t0 = stamp();
    sink += std::accumulate(payload.begin(), payload.end(), std::uint64_t{0});
    t_accum.push_back(since(t0));

    t0 = stamp();
    {
      auto m = disk.map(map_path, payload.size());
      if (!m) {
        std::fprintf(stderr, "map: %s\n", sg::to_string(m.error()));
        return 1;
      }
      auto vm = sg::validate(*s, (*m)->bytes());
      if (!vm || vm->record_count() != records) {
        std::fprintf(stderr, "validation over the map differs\n");
        return 1;
      }
      t_map.push_back(since(t0));
      // Again over the same map, its pages now mapped: what the guard's
      // validation sees after its SHA-256 check has read the slot.
      t0 = stamp();
      auto again = sg::validate(*s, (*m)->bytes());
      t_mapped.push_back(since(t0));
      if (!again) return 1;
    }
  }
  std::remove(map_path.c_str());
  std::printf("payload: %.1f MiB, %zu records (median of %d runs each)\n", n / 1048576.0, records, runs);
  std::printf("  memchr looks for byte 0x%02x (%llu hits a pass)\n", needle,
              static_cast<unsigned long long>(histogram[needle]));
  for (int clock = 0; clock < 2; ++clock) {
    auto pick_time = [clock](const std::vector<lap>& v) {
      std::vector<double> t;
      for (const lap& l : v) t.push_back(clock == 0 ? l.wall : l.cpu);
      return median(t);
    };
    const double mv = pick_time(t_validate), mm = pick_time(t_memchr), ma = pick_time(t_accum),
                 mp = pick_time(t_map), mq = pick_time(t_mapped);
    std::printf("%s time:\n", clock == 0 ? "wall" : "CPU");
    std::printf("  validate            %8.2f ms  %6.2f GB/s\n", mv * 1e3, n / mv / 1e9);
    std::printf("  map + validate      %8.2f ms  %6.2f GB/s  (a fresh map of a file each run)\n", mp * 1e3,
                n / mp / 1e9);
    std::printf("  validate over a map %8.2f ms  %6.2f GB/s  (its pages mapped, as after the hash check)\n",
                mq * 1e3, n / mq / 1e9);
    std::printf("  peer memchr         %8.2f ms  %6.2f GB/s\n", mm * 1e3, n / mm / 1e9);
    std::printf("  peer accumulate     %8.2f ms  %6.2f GB/s\n", ma * 1e3, n / ma / 1e9);
    std::printf("  validate/memchr     %8.2fx the time\n", mv / mm);
    std::printf("  validate/accumulate %8.2fx the time\n", mv / ma);
  }
  std::printf("(checksum %llu)\n", static_cast<unsigned long long>(sink));
  return 0;
}
