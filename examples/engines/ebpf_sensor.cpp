// SPDX-License-Identifier: Apache-2.0
// ebpf_sensor: a sensor whose content is eBPF programs, with slotguard in
// front of them and the running kernel's verifier as the probe. Run with no
// arguments it replays five updates against a real store in a temporary
// directory and prints a table of outcomes; it exits 0 only when every
// outcome is the expected one, and 77 (skipped) when the kernel refuses
// bpf(2) to this process.
//
//   ebpf_sensor [--keep]        the replay (--keep: leave its files)
//   ebpf_sensor --probe PATH    the probe: ask the kernel's verifier to load
//                               the program at PATH (a program file, or a
//                               directory of *.sgbpf files); print the
//                               verifier's log on refusal
//
// The content format (one program per file; little-endian):
//   0   8 bytes  magic "SGBPF001"
//   8   u32      program type (BPF_PROG_TYPE_*; this sensor takes socket filters)
//   12  u32      instruction count n (1 to 4096)
//   16  16 bytes license, NUL-padded (the kernel's gpl_only helpers need "GPL")
//   32  n x 8    instructions: code u8, registers u8 (dst low nibble, src high),
//                offset i16, immediate i32
// The validator checks this layout; the verifier judges the instructions.
//
// The sensor loads the served program and attaches it as a socket filter to
// its receiving socket (SO_ATTACH_BPF replaces the filter in one step); a
// canary datagram that must pass and a marked one that must be dropped check
// it after every change, and a filter that drops the canary is reported
// unhealthy.
#include "replay_common.hpp"

#include <linux/bpf.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace {

using namespace engines;

// --- the content format ------------------------------------------------------

constexpr char magic[8] = {'S', 'G', 'B', 'P', 'F', '0', '0', '1'};
constexpr std::size_t header_size = 32;
constexpr std::uint32_t max_insns = 4096;

struct program {
  std::uint32_t type = 0;
  std::string license;
  std::vector<bpf_insn> insns;
};

std::uint32_t le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

// Parses a program file's bytes; on failure says why in `why`.
bool parse_program(sg::byte_view b, program& out, std::string& why) {
  if (b.size() < header_size || std::memcmp(b.data(), magic, sizeof magic) != 0) {
    why = "not an SGBPF001 program";
    return false;
  }
  out.type = le32(b.data() + 8);
  const std::uint32_t n = le32(b.data() + 12);
  if (n == 0 || n > max_insns) {
    why = "instruction count " + std::to_string(n) + " outside 1.." + std::to_string(max_insns);
    return false;
  }
  if (b.size() != header_size + std::size_t{n} * 8) {
    why = "header says " + std::to_string(n) + " instructions, the file holds " +
          std::to_string((b.size() - header_size) / 8) + (b.size() % 8 ? " and a partial one" : "");
    return false;
  }
  if (out.type != BPF_PROG_TYPE_SOCKET_FILTER) {
    why = "program type " + std::to_string(out.type) + " is not a socket filter";
    return false;
  }
  const char* lic = reinterpret_cast<const char*>(b.data() + 16);
  const std::size_t len = strnlen(lic, 16);
  if (len == 0 || len == 16) {
    why = "the license must be 1 to 15 characters, NUL-terminated";
    return false;
  }
  out.license.assign(lic, len);
  out.insns.resize(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint8_t* p = b.data() + header_size + std::size_t{i} * 8;
    // struct bpf_insn's registers are two 4-bit fields in one byte, the
    // first (dst) in the low nibble on little-endian hosts, the high one on
    // big-endian hosts; written as that byte, not through the bit-fields.
    const unsigned dst = p[1] & 0x0fu, src = p[1] >> 4;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    const auto regs = static_cast<std::uint8_t>(dst << 4 | src);
#else
    const auto regs = static_cast<std::uint8_t>(src << 4 | dst);
#endif
    const auto off = static_cast<std::int16_t>(static_cast<std::uint16_t>(p[2] | p[3] << 8));
    const auto imm = static_cast<std::int32_t>(le32(p + 4));
    unsigned char raw[sizeof(bpf_insn)];
    static_assert(sizeof(bpf_insn) == 8, "struct bpf_insn is 8 bytes");
    raw[0] = p[0];
    raw[1] = regs;
    std::memcpy(raw + 2, &off, 2);
    std::memcpy(raw + 4, &imm, 4);
    std::memcpy(&out.insns[i], raw, sizeof raw);
  }
  return true;
}

// The publisher's side: one instruction, encoded.
struct insn {
  std::uint8_t code, dst, src;
  std::int16_t off;
  std::int32_t imm;
};

std::string encode_program(const std::vector<insn>& code, std::uint32_t declared = 0) {
  std::string out(magic, sizeof magic);
  auto put32 = [&](std::uint32_t v) {
    for (int k = 0; k < 4; ++k) out.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
  };
  put32(BPF_PROG_TYPE_SOCKET_FILTER);
  put32(declared ? declared : static_cast<std::uint32_t>(code.size()));
  std::string lic = "GPL";
  lic.resize(16, '\0');
  out += lic;
  for (const auto& i : code) {
    out.push_back(static_cast<char>(i.code));
    out.push_back(static_cast<char>((i.dst & 0x0f) | (i.src << 4)));
    const auto off = static_cast<std::uint16_t>(i.off);
    out.push_back(static_cast<char>(off & 0xff));
    out.push_back(static_cast<char>(off >> 8));
    put32(static_cast<std::uint32_t>(i.imm));
  }
  return out;
}

// --- the kernel ----------------------------------------------------------------

long sys_bpf(int cmd, bpf_attr& attr) { return ::syscall(__NR_bpf, cmd, &attr, sizeof attr); }

struct load_result {
  int fd = -1;
  int error = 0;    // errno of a refusal
  std::string log;  // the verifier's log
};

// BPF_PROG_LOAD with the verifier's log (log_level 1).
load_result load_program(const program& p) {
  load_result r;
  std::vector<char> log(256 * 1024, '\0');
  bpf_attr a;
  std::memset(&a, 0, sizeof a);
  a.prog_type = p.type;
  a.insns = reinterpret_cast<std::uintptr_t>(p.insns.data());
  a.insn_cnt = static_cast<std::uint32_t>(p.insns.size());
  a.license = reinterpret_cast<std::uintptr_t>(p.license.c_str());
  a.log_buf = reinterpret_cast<std::uintptr_t>(log.data());
  a.log_size = static_cast<std::uint32_t>(log.size());
  a.log_level = 1;
  const long fd = sys_bpf(BPF_PROG_LOAD, a);
  if (fd < 0) r.error = errno;
  r.fd = static_cast<int>(fd);
  r.log.assign(log.data(), strnlen(log.data(), log.size()));
  return r;
}

// Whether this process may load a program at all (a trivial "return 0"):
// 0 when it may, else the errno (EPERM where the kernel refuses bpf(2)).
int bpf_available() {
  program p;
  p.type = BPF_PROG_TYPE_SOCKET_FILTER;
  p.license = "GPL";
  p.insns.resize(2);
  std::memset(p.insns.data(), 0, 2 * sizeof(bpf_insn));
  p.insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;  // r0 = 0
  p.insns[1].code = BPF_JMP | BPF_EXIT;
  load_result r = load_program(p);
  if (r.fd >= 0) ::close(r.fd);
  return r.fd >= 0 ? 0 : r.error;
}

// --- the probe ---------------------------------------------------------------

std::vector<fs::path> program_files(const fs::path& path) {
  std::vector<fs::path> files;
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return {path};
  for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_regular_file(ec) && it->path().extension() == ".sgbpf") files.push_back(it->path());
  std::sort(files.begin(), files.end());
  return files;
}

int run_probe(const std::string& path) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto files = program_files(path);
  if (files.empty()) {
    std::fprintf(stderr, "probe: no programs at %s\n", path.c_str());
    return 1;
  }
  std::error_code ec;
  const bool tree = fs::is_directory(path, ec);
  for (const auto& file : files) {
    // A tree's files by their path in the tree.
    const std::string f = tree ? fs::relative(file, path, ec).string() : file.filename().string();
    std::string bytes;
    program p;
    std::string why;
    if (!read_file(file, bytes, 1u << 20) || !parse_program(bytes_of(bytes), p, why)) {
      std::fprintf(stderr, "probe: %s: %s\n", f.c_str(), why.empty() ? "cannot read" : why.c_str());
      return 1;
    }
    const load_result r = load_program(p);
    if (r.fd < 0) {
      if (r.error == EPERM) {
        // Not the content's fault: the probe may not use bpf(2) here. A
        // start failure, not a verdict (exit 126 is "could not run").
        std::fprintf(stderr, "probe: the kernel refuses bpf(2) to the probe (EPERM)\n");
        return 126;
      }
      std::fprintf(stderr, "probe: the verifier refused %s (%s); its log:\n%s", f.c_str(),
                   std::strerror(r.error), r.log.c_str());
      return 1;
    }
    std::printf("probe: %s: %zu instructions verified\n", f.c_str(), p.insns.size());
    ::close(r.fd);
  }
  std::printf("probe: accepted (%lld ms)\n", millis_since(t0));
  return 0;
}

// --- the sensor ----------------------------------------------------------------

// Attaches the served socket filter to its receiving socket and checks it
// with a canary (must pass) and a marked datagram (first byte 0x7f: must be
// dropped), after every change and every few milliseconds.
class ebpf_sensor {
 public:
  explicit ebpf_sensor(sg::guard& g) : guard_(g) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == 0) {
      tx_ = sv[0];
      rx_ = sv[1];
    }
  }
  ebpf_sensor(const ebpf_sensor&) = delete;
  ebpf_sensor& operator=(const ebpf_sensor&) = delete;
  ~ebpf_sensor() {
    stop();
    for (int fd : {tx_, rx_, prog_fd_})
      if (fd >= 0) ::close(fd);
  }

  void start() {
    thread_ = std::thread([this] { loop(); });
  }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::uint64_t attached_sequence() const { return attached_seq_.load(); }
  std::uint64_t marked_dropped() const { return dropped_.load(); }

 private:
  void note(const std::string& s) { say("    [sensor] %s", s.c_str()); }

  void refresh(const sg::active_content* c) {
    if (!c) {
      (void)::setsockopt(rx_, SOL_SOCKET, SO_DETACH_BPF, nullptr, 0);
      attached_seq_ = 0;
      return;
    }
    // The programs of the tree, where slotguard unpacked it (valid while
    // this content is held); the first in path order is the socket filter.
    // A bytes payload is one program.
    program p;
    std::string why;
    std::string bytes;
    std::string source = "the payload";
    if (!c->path().empty()) {
      const auto files = program_files(c->path());
      if (files.empty() || !read_file(files.front(), bytes, 1u << 20)) why = "no program in the tree";
      std::error_code ec;
      if (!files.empty()) source = "the slot's tree (" + fs::relative(files.front(), c->path(), ec).string() + ")";
    } else {
      bytes.assign(reinterpret_cast<const char*>(c->payload().data()), c->payload().size());
    }
    if (!why.empty() || !parse_program(bytes_of(bytes), p, why)) {
      (void)guard_.report_unhealthy("the program does not parse: " + why);
      return;
    }
    const load_result r = load_program(p);
    if (r.fd < 0) {
      note("the kernel refuses sequence " + std::to_string(c->sequence()) + " here: " + std::strerror(r.error));
      (void)guard_.report_unhealthy("the verifier refuses the program in the sensor");
      return;
    }
    if (::setsockopt(rx_, SOL_SOCKET, SO_ATTACH_BPF, &r.fd, sizeof r.fd) != 0) {
      note(std::string("SO_ATTACH_BPF: ") + std::strerror(errno));
      ::close(r.fd);
      (void)guard_.report_unhealthy("the program cannot be attached");
      return;
    }
    if (prog_fd_ >= 0) ::close(prog_fd_);
    prog_fd_ = r.fd;
    attached_seq_ = c->sequence();
    note("program of sequence " + std::to_string(c->sequence()) + " read from " + source +
         ", verified, loaded and attached (" + std::to_string(p.insns.size()) + " instructions)");
    checked_ = false;
  }

  // Sends the canary and a marked datagram; returns whether the canary came
  // through, and counts whether the marked one was dropped.
  bool self_test() {
    const char canary[] = "canary";
    const char marked[] = "\x7f" "ELF dropped by policy";
    (void)::send(tx_, marked, sizeof marked - 1, MSG_DONTWAIT);
    (void)::send(tx_, canary, sizeof canary - 1, MSG_DONTWAIT);
    bool canary_seen = false, marked_seen = false;
    char buf[256];
    for (;;) {
      const ssize_t n = ::recv(rx_, buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0) break;
      if (n > 0 && buf[0] == 0x7f) marked_seen = true;
      if (n == static_cast<ssize_t>(sizeof canary - 1) && std::memcmp(buf, canary, sizeof canary - 1) == 0)
        canary_seen = true;
    }
    if (!marked_seen) ++dropped_;
    return canary_seen;
  }

  void loop() {
    sg::content_reader reader = guard_.reader();
    const sg::active_content* seen = nullptr;
    bool first = true;
    while (!stop_) {
      const sg::active_content* c = reader.get();
      if (first || c != seen) {
        refresh(c);
        seen = c;
        first = false;
      }
      if (attached_seq_ != 0 && !self_test() && !checked_) {
        // The kernel accepted the program, but it drops what the sensor
        // must see: the trial's failure, which no verifier can judge.
        checked_ = true;
        note("the canary datagram does not come through sequence " + std::to_string(attached_seq_.load()) +
             "'s filter");
        (void)guard_.report_unhealthy("the socket filter drops the sensor's canary");
      }
      guard_.heartbeat();
      std::this_thread::sleep_for(5ms);
    }
  }

  sg::guard& guard_;
  int tx_ = -1, rx_ = -1, prog_fd_ = -1;
  bool checked_ = false;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> attached_seq_{0};
  std::atomic<std::uint64_t> dropped_{0};
};

// --- the replay ----------------------------------------------------------------

// Drops datagrams whose first byte is 0x7f, keeps the rest.
std::vector<insn> good_filter() {
  return {
      {BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0},      // r6 = r1 (the skb, for LD_ABS)
      {BPF_LD | BPF_ABS | BPF_B, 0, 0, 0, 0},         // r0 = skb[0]
      {BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2, 0x7f},     // if r0 == 0x7f goto drop
      {BPF_ALU | BPF_MOV | BPF_K, 0, 0, 0, -1},       // r0 = 0xffffffff: keep it whole
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},               // exit
      {BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0},      // drop: r0 = 0
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},               // exit
  };
}

std::vector<insn> uninit_register() {
  return {
      {BPF_ALU64 | BPF_MOV | BPF_X, 0, 2, 0, 0},  // r0 = r2: r2 was never written
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
}

std::vector<insn> stack_out_of_bounds() {
  return {
      {BPF_LDX | BPF_MEM | BPF_DW, 0, 10, -520, 0},  // r0 = *(u64 *)(r10 - 520): the stack is 512 bytes
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
}

std::vector<insn> drop_everything() {
  return {
      {BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0},  // r0 = 0: every datagram is dropped
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
}

// The validate gate: a tree of program files, each in the format above
// (header, instruction count, socket filter type). The kernel's verifier, in
// the probe, judges the instructions.
sg::content_check program_validator() {
  return tree_validator({".sgbpf"}, [](const std::string&, sg::byte_view data) -> std::string {
    program ignored;
    std::string why;
    return parse_program(data, ignored, why) ? std::string() : why;
  });
}

tree_files program_tree(const std::string& name, const std::vector<insn>& code, std::uint32_t declared = 0) {
  return {{"filters/" + name + ".sgbpf", encode_program(code, declared)}};
}

int run_replay(const std::vector<std::string>& self, bool keep) {
  say("ebpf_sensor: eBPF socket filters behind slotguard, judged by this kernel's verifier");
  if (const int e = bpf_available(); e != 0) {
    say("SKIPPED: the kernel refuses bpf(BPF_PROG_LOAD) to this process (%s); the verifier cannot be asked here",
        std::strerror(e));
    return exit_skipped;
  }
  temp_dir dir("slotguard-ebpf");
  dir.keep = keep;
  const publisher pub("ebpf-programs", "ebpf.sgbpf");
  event_record events;

  // bpf(2) needs CAP_BPF in the initial user namespace: a probe in a new
  // user namespace is refused (EPERM), whatever its account. The probe runs
  // without namespaces, under every other limit.
  sg::probe_options po;
  po.time_limit = 5000ms;
  po.namespaces = false;
  std::vector<std::string> probe_cmd = self;
  probe_cmd.insert(probe_cmd.end(), {"--probe", "{}"});
  const sg::probe candidate_probe = sg::probe::isolated(probe_cmd, po);
  sg::native_storage disk;
  sg::guard_options o = sensor_options(disk, dir.path, pub, program_validator(), candidate_probe);
  o.on_event = events.handler();
  auto opened = sg::guard::open(std::move(o));
  if (!opened) {
    say("cannot open the store: %s", sg::to_string(opened.error()));
    return 1;
  }
  sg::guard& g = **opened;
  ebpf_sensor sensor(g);
  sensor.start();
  std::vector<outcome_row> rows;

  auto refused = [&](std::uint64_t seq, const std::string& needle, outcome_row& r) {
    sg::event ev;
    (void)events.find(sg::event_kind::probe_failed, seq, &ev);
    r.observed = events.decision(seq);
    const std::string says = output_line(ev.detail, needle);
    if (says.empty() || !is_quarantined(g, seq) || sensor.attached_sequence() != 1)
      r.observed += " (without the verifier's words, quarantine or the old filter)";
    r.evidence = "probe " + probe_ending(ev.detail) + " after " + std::to_string(probe_ms_of(ev.detail)) +
                 " ms; the verifier's log: \"" + output_line(ev.detail, ": (") + "\" then \"" + says + "\"";
  };

  {
    say("\nScenario 1: a socket filter the verifier accepts");
    outcome_row r{"filter the verifier accepts", "committed; filter attached", "", "", -1};
    const fs::path src = dir.path / "publish" / "1";
    const auto e = timed_apply(g, pub.bundle(1, "drop-7f", pack_tree(src, program_tree("drop-7f", good_filter()))),
                               r.apply_ms);
    const bool committed = events.find(sg::event_kind::committed, 1, nullptr, 5000ms);
    const bool works = wait_until([&] { return sensor.attached_sequence() == 1 && sensor.marked_dropped() > 0; }, 2000ms);
    r.observed = e != sg::errc::ok ? std::string("rejected: ") + sg::to_string(e)
                 : !committed      ? events.decision(1)
                 : works           ? "committed; filter attached"
                                   : "committed; filter not working";
    r.evidence = "sensor: the marked datagram dropped, the canary passes; " +
                 accepted_words(probe_alone(candidate_probe, src));
    rows.push_back(r);
  }
  {
    say("\nScenario 2: a program that reads an uninitialised register");
    outcome_row r{"reads an uninitialised register", "refused by the probe: probe_failed", "", "", -1};
    (void)timed_apply(
        g, pub.bundle(2, "uninit", pack_tree(dir.path / "publish" / "2", program_tree("uninit", uninit_register()))),
        r.apply_ms);
    refused(2, "!read_ok", r);
    rows.push_back(r);
  }
  {
    say("\nScenario 3: a program that reads outside its stack");
    outcome_row r{"reads outside its stack", "refused by the probe: probe_failed", "", "", -1};
    (void)timed_apply(g,
                      pub.bundle(3, "stack-oob",
                                 pack_tree(dir.path / "publish" / "3", program_tree("stack-oob", stack_out_of_bounds()))),
                      r.apply_ms);
    refused(3, "invalid", r);
    rows.push_back(r);
  }
  {
    say("\nScenario 4: a header that declares more instructions than it holds");
    outcome_row r{"truncated program file", "rejected: validator_rejected", "", "", -1};
    const std::string bytes = encode_program(good_filter(), 8);
    (void)timed_apply(
        g, pub.bundle(4, "truncated", pack_tree(dir.path / "publish" / "4", program_tree("drop-7f", good_filter(), 8))),
        r.apply_ms);
    r.observed = events.decision(4);
    if (!is_quarantined(g, 4) || events.find(sg::event_kind::probe_failed, 4))
      r.observed += " (not quarantined, or probed)";
    program ignored;
    std::string why;
    (void)parse_program(bytes_of(bytes), ignored, why);
    r.evidence = "validator: filters/drop-7f.sgbpf: " + why + " (the probe never ran)";
    rows.push_back(r);
  }
  {
    say("\nScenario 5: a program the verifier accepts that drops every datagram");
    outcome_row r{"verified, drops all traffic", "reverted: unhealthy", "", "", -1};
    const fs::path src = dir.path / "publish" / "5";
    (void)timed_apply(g, pub.bundle(5, "drop-all", pack_tree(src, program_tree("drop-all", drop_everything()))),
                      r.apply_ms);
    (void)events.find(sg::event_kind::reverted, 5, nullptr, 3000ms);
    r.observed = events.decision(5);
    const bool back = wait_until([&] { return sensor.attached_sequence() == 1; }, 2000ms);
    if (!is_quarantined(g, 5) || !back) r.observed += " (not quarantined, or the old filter not back)";
    r.evidence = "sensor: the canary does not come through; report_unhealthy; sequence 1's filter attached again; " +
                 accepted_words(probe_alone(candidate_probe, src));
    rows.push_back(r);
  }

  sensor.stop();
  (void)g.shutdown();
  return print_table("eBPF", rows) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  engines::engine_cli cli;
  cli.name = "ebpf_sensor";
  cli.probe_options = "";
  cli.replay = run_replay;
  cli.probe = [](const std::string& path, const std::vector<std::string>& options) { return options.empty() ? run_probe(path) : -1; };
  return engines::engine_main(argc, argv, cli);
}
