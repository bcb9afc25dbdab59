// SPDX-License-Identifier: Apache-2.0
// A worker's translation unit: it includes slotguard/reader.hpp only (through
// worker.hpp), so this program links only if everything a worker calls
// (typed views, records_of<R>, the reader's get) is defined there, and
// compiles only if reader.hpp is all a worker needs.
#include "worker.hpp"

#ifdef SLOTGUARD_GUARD_HPP
#error "the worker's unit must not see guard.hpp"
#endif

namespace worker {

std::string describe(slotguard::content_reader& reader) {
  const slotguard::active_content* c = reader.get();
  if (c == nullptr) return "empty";
  std::string out = "sequence " + std::to_string(c->sequence()) + " slot " + slotguard::to_string(c->slot()) +
                    " channel " + std::string(c->manifest().channel) + "\n";
  auto rules = c->records().records_of<rule>();
  if (!rules) return "records_of failed";
  for (auto r : *rules) {
    out += std::string(r.value<0>()) + " " + std::to_string(r.value<1>());
    for (std::string_view token : r.value<2>()) out += " " + std::string(token);
    out += "\n";
  }
  return out;
}

}  // namespace worker
