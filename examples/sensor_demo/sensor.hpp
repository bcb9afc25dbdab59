// SPDX-License-Identifier: Apache-2.0
// The demo's sensor: what it sees (events of 20 inputs), the content it runs
// (rules of the "ipc_rule" template type, one criterion per input, declared
// once as a slotguard schema), and the interpreter that matches rules
// against events. The interpreter carries two defects on purpose, of the kind
// a schema cannot see: it indexes its table of pipe-name patterns without a
// bounds check, and it follows parent-process links without a step limit.
// Valid content that reaches either defect crashes or hangs the sensor; the
// demo shows slotguard catching each case.
#ifndef SLOTGUARD_EXAMPLES_SENSOR_HPP
#define SLOTGUARD_EXAMPLES_SENSOR_HPP

#include <slotguard/guard.hpp>

#include "../supervisor/supervise.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <thread>
#include <utility>
#include <vector>

namespace sensor {

namespace sg = slotguard;

// ---------------------------------------------------------------------------
// What the sensor code supplies: exactly 20 inputs per event
// ---------------------------------------------------------------------------

inline constexpr std::size_t input_count = 20;

// The inputs in the order the sensor fills them, which is the order of the
// template type's fields.
enum input : std::size_t {
  event_kind,         // 1 process start, 2 pipe connect, 3 network connect, 4 file write
  pid,
  ppid,
  user_id,
  session_id,
  image,              // the process's image, as an id
  parent_image,
  command_line,       // an id of the command line
  integrity,          // 0x1000 low, 0x2000 medium, 0x3000 high, 0x4000 system
  token_flags,
  access_mask,
  file,               // an id of the file written
  registry_key,
  remote_addr,
  remote_port,
  protocol,
  bytes_out,
  signer,
  ancestor_image,     // the process's image; a rule names an ancestor to look for
  pipe_name,          // an id of the pipe's name; a rule names a pattern number
};

using inputs = std::array<std::uint32_t, input_count>;

// Event kinds and a few image and pipe ids the demo's content refers to.
namespace ids {
inline constexpr std::uint32_t process_start = 1, pipe_connect = 2, network_connect = 3, file_write = 4;
inline constexpr std::uint32_t system = 0x100, services = 0x101, explorer = 0x102, browser = 0x103,
                               mimikatz = 0x104, backup_agent = 0x105, updater = 0x106, shell = 0x107;
inline constexpr std::uint32_t pipe_lsass = 0x500, pipe_spoolss = 0x501, pipe_browser = 0x502,
                               pipe_backup = 0x503;
}  // namespace ids

// ---------------------------------------------------------------------------
// The template type, as a slotguard schema
// ---------------------------------------------------------------------------

// Pattern numbers a rule may name for a pipe: the content format's id space.
inline constexpr std::uint32_t max_pattern_id = 63;

// One criterion per input, in input order; every criterion may be a
// wildcard ("any value").
inline constexpr sg::field_decl ipc_rule_fields[] = {
    sg::fields::u32("event_kind").range(1, 4).wildcard(),
    sg::fields::u32("pid").wildcard(),
    sg::fields::u32("ppid").wildcard(),
    sg::fields::u32("user_id").wildcard(),
    sg::fields::u32("session_id").wildcard(),
    sg::fields::u32("image").wildcard(),
    sg::fields::u32("parent_image").wildcard(),
    sg::fields::u32("command_line").wildcard(),
    sg::fields::u32("integrity").wildcard(),
    sg::fields::u32("token_flags").wildcard(),
    sg::fields::u32("access_mask").wildcard(),
    sg::fields::u32("file").wildcard(),
    sg::fields::u32("registry_key").wildcard(),
    sg::fields::u32("remote_addr").wildcard(),
    sg::fields::u32("remote_port").range(0, 65535).wildcard(),
    sg::fields::u32("protocol").wildcard(),
    sg::fields::u32("bytes_out").wildcard(),
    sg::fields::u32("signer").wildcard(),
    sg::fields::u32("ancestor_image").wildcard(),
    sg::fields::u32("pipe_name").range(0, max_pattern_id).wildcard(),
};
inline constexpr std::uint16_t ipc_rule_type = 291;
inline constexpr sg::record_decl ipc_rule{ipc_rule_type, "ipc_rule", ipc_rule_fields};
inline constexpr sg::record_decl record_types[] = {ipc_rule};
inline constexpr sg::schema_decl content_schema{"sensor_demo.ipc", 1, record_types};

static_assert(sg::check_decl(content_schema).ok(), "the content schema is well-formed");
// The Channel File 291 lesson, as a compile-time fact: the template type the
// content is validated against has exactly as many fields as the sensor
// supplies inputs. Change either alone and this line stops the build.
static_assert(sg::field_count_v<ipc_rule> == input_count,
              "the ipc_rule template type must declare one field per input the sensor supplies");

// ---------------------------------------------------------------------------
// The world the events come from
// ---------------------------------------------------------------------------

struct process {
  std::uint32_t pid;
  std::uint32_t ppid;
  std::uint32_t image;
};

// The sensor's table of known processes; parent links end at pid 0.
struct process_table {
  const process* entries = nullptr;
  std::size_t count = 0;

  std::uint32_t parent_of(std::uint32_t p) const noexcept {
    for (std::size_t i = 0; i < count; ++i)
      if (entries[i].pid == p) return entries[i].ppid;
    return 0;
  }
  std::uint32_t image_of(std::uint32_t p) const noexcept {
    for (std::size_t i = 0; i < count; ++i)
      if (entries[i].pid == p) return entries[i].image;
    return 0;
  }
};

struct event {
  inputs in{};
  const char* what = "";
};

// An event from a few named values; every other input is 0.
inline event make_event(const char* what, std::uint32_t kind, std::uint32_t p, std::uint32_t pp,
                        std::uint32_t img, std::uint32_t parent_img, std::uint32_t integ,
                        std::uint32_t port = 0, std::uint32_t pipe = 0) {
  event e;
  e.what = what;
  e.in[event_kind] = kind;
  e.in[pid] = p;
  e.in[ppid] = pp;
  e.in[image] = img;
  e.in[parent_image] = parent_img;
  e.in[ancestor_image] = img;
  e.in[integrity] = integ;
  e.in[remote_port] = port;
  e.in[pipe_name] = pipe;
  e.in[user_id] = integ == 0x4000 ? 18 : 1001;
  e.in[session_id] = integ == 0x4000 ? 0 : 1;
  e.in[protocol] = port != 0 ? 6 : 0;
  return e;
}

// The probe's world: a fixed replay set of synthetic events, one or more of
// each kind, over a process table whose ancestry is a clean tree.
inline constexpr process probe_processes[] = {
    {4, 0, ids::system},       {600, 4, ids::services}, {1200, 600, ids::explorer},
    {2400, 1200, ids::browser}, {2500, 1200, ids::shell}};
inline constexpr process_table probe_world{probe_processes, std::size(probe_processes)};

inline std::vector<event> probe_events() {
  using namespace ids;
  return {
      make_event("explorer starts a browser", process_start, 2400, 1200, browser, explorer, 0x2000),
      make_event("explorer starts a shell", process_start, 2500, 1200, shell, explorer, 0x2000),
      make_event("the browser opens the browser pipe", pipe_connect, 2400, 1200, browser, explorer, 0x2000,
                 0, pipe_browser),
      make_event("the shell opens the spooler pipe", pipe_connect, 2500, 1200, shell, explorer, 0x2000, 0,
                 pipe_spoolss),
      make_event("the browser connects to port 443", network_connect, 2400, 1200, browser, explorer,
                 0x2000, 443),
      make_event("services connects to port 53", network_connect, 600, 4, services, system, 0x4000, 53),
      make_event("the shell writes a file", file_write, 2500, 1200, shell, explorer, 0x2000),
  };
}

// The live world is messier. Process ids get reused: backup_agent (812) was
// started by 640, which then exited, and its id went to a child of 812, so
// the recorded ancestry of 812 loops 812 -> 640 -> 812.
inline constexpr process live_processes[] = {
    {4, 0, ids::system},         {600, 4, ids::services},     {1200, 600, ids::explorer},
    {2400, 1200, ids::browser},  {2500, 1200, ids::shell},    {812, 640, ids::backup_agent},
    {640, 812, ids::updater}};
inline constexpr process_table live_world{live_processes, std::size(live_processes)};

// The live stream: ordinary traffic, and now and then what the probe's
// replay set never had: backup_agent at system integrity on its own pipe,
// a start of process 812, whose ancestry loops, and, rarely, a file write
// by backup_agent's scheduled job (scheduled_job_event).
//
// The scheduled job runs every scheduled_job_period of the sensor's run
// time (here 2.5 s; once a day on a real machine): by the clock, not by
// the number of events, so a slow or loaded machine meets it as a fast one.
inline constexpr std::chrono::milliseconds scheduled_job_period{2500};

inline event scheduled_job_event() {
  using namespace ids;
  return make_event("backup_agent's scheduled job writes its catalogue", file_write, 812, 640, backup_agent,
                    updater, 0x4000);
}

inline event live_event(std::uint64_t i) {
  using namespace ids;
  switch (i % 40) {
    case 17:
      return make_event("backup_agent opens its pipe", pipe_connect, 812, 640, backup_agent, updater, 0x4000,
                        0, pipe_backup);
    case 29:
      return make_event("process 812 (backup_agent) restarts", process_start, 812, 640, backup_agent, updater,
                        0x4000);
    default:
      break;
  }
  switch (i % 5) {
    case 0:
      return make_event("the browser connects to port 443", network_connect, 2400, 1200, browser, explorer,
                        0x2000, 443);
    case 1:
      return make_event("the browser opens the browser pipe", pipe_connect, 2400, 1200, browser, explorer,
                        0x2000, 0, pipe_browser);
    case 2:
      return make_event("explorer starts a shell", process_start, 2500, 1200, shell, explorer, 0x2000);
    case 3:
      return make_event("the shell writes a file", file_write, 2500, 1200, shell, explorer, 0x2000);
    default:
      return make_event("services connects to port 53", network_connect, 600, 4, services, system, 0x4000, 53);
  }
}

// ---------------------------------------------------------------------------
// The interpreter
// ---------------------------------------------------------------------------

// This build's table of pipe-name patterns: pattern n matches one pipe id.
// The content format numbers patterns 0..63 (newer builds ship more); this
// build has 16.
inline constexpr std::array<std::uint32_t, 16> pipe_patterns = {
    ids::pipe_lsass, ids::pipe_spoolss, ids::pipe_browser, ids::pipe_backup, 0x504, 0x505, 0x506, 0x507,
    0x508,           0x509,             0x50a,             0x50b,            0x50c, 0x50d, 0x50e, 0x50f};

// Counts how far ancestry walks went, so that even an endless walk does
// observable work (an endless loop without it would be undefined behaviour).
inline std::atomic<std::uint64_t> ancestry_steps{0};

class interpreter {
 public:
  explicit interpreter(const process_table& world, const char* who) noexcept : world_(&world), who_(who) {}

  // Runs every ipc_rule of the content on one event; returns how many rules
  // matched.
  std::size_t evaluate(const sg::validated_payload& content, const event& ev) const {
    auto rules = content.records_of<ipc_rule>();
    if (!rules) return 0;
    std::size_t hits = 0;
    for (auto rule : *rules)
      if (matches(rule, ev, std::make_index_sequence<sg::field_count_v<ipc_rule>>{})) ++hits;
    return hits;
  }

 private:
  // Criteria are checked in field order and the first that fails ends the
  // rule, so the costly last ones run only on events the others let through.
  template <std::size_t... K>
  bool matches(const sg::typed_record<ipc_rule>& rule, const event& ev, std::index_sequence<K...>) const {
    return (holds<K>(rule.get<K>(), ev) && ...);
  }

  template <std::size_t K>
  bool holds(const sg::field_value<std::uint32_t>& criterion, const event& ev) const {
    if (criterion.is_wildcard()) return true;
    if (!criterion.has_value()) return false;
    const std::uint32_t want = criterion.value();
    // std::get, not operator[]: a criterion without an input to compare it
    // with does not compile.
    if constexpr (K == ancestor_image) {
      return has_ancestor(ev.in[pid], want);
    } else if constexpr (K == pipe_name) {
      // DEFECT: the pattern number is not checked against this build's
      // table. Unchecked native code would read past its end here; the demo
      // checks, and raises the same fault for real.
      if (want >= pipe_patterns.size()) out_of_bounds(want);
      return pipe_patterns[want] == std::get<K>(ev.in);
    } else {
      return want == std::get<K>(ev.in);
    }
  }

  // DEFECT: follows parent links until pid 0, with no step limit and no
  // memory of where it has been: a loop in the recorded ancestry never ends.
  bool has_ancestor(std::uint32_t p, std::uint32_t wanted_image) const {
    for (std::uint32_t at = world_->parent_of(p); at != 0; at = world_->parent_of(at)) {
      if ((ancestry_steps.fetch_add(1, std::memory_order_relaxed) & 0xFFFFF) == 0xFFFFF)
        std::this_thread::yield();
      if (world_->image_of(at) == wanted_image) return true;
    }
    return false;
  }

  [[noreturn]] void out_of_bounds(std::uint32_t pattern) const {
    std::printf("%sinterpreter: pipe pattern %u requested, the table holds %zu: reading past its end\n", who_,
                static_cast<unsigned>(pattern), pipe_patterns.size());
    supervisor::crash_now();
  }

  const process_table* world_;
  const char* who_;
};

}  // namespace sensor

#endif  // SLOTGUARD_EXAMPLES_SENSOR_HPP
