// SPDX-License-Identifier: Apache-2.0
// What a worker thread's translation unit sees: reader.hpp and its own
// declarations, nothing of the guard (worker.cpp includes this alone).
#ifndef SLOTGUARD_TESTS_READER_WORKER_HPP
#define SLOTGUARD_TESTS_READER_WORKER_HPP

#include <slotguard/reader.hpp>

#include <cstdint>
#include <string>

namespace worker {

// The record type the worker's interpreter reads, declared once for the
// validator (main.cpp) and the reader (worker.cpp).
inline constexpr slotguard::field_decl rule_fields[] = {slotguard::fields::string("pattern", 64),
                                                        slotguard::fields::u8("severity").range(1, 5),
                                                        slotguard::fields::string("tokens", 32).list(8)};
inline constexpr slotguard::record_decl rule{1, "rule", rule_fields};
inline constexpr slotguard::record_decl record_types[] = {rule};
inline constexpr slotguard::schema_decl rules_schema{"reader.rules", 1, record_types};

// What the worker read from the content its reader serves: every rule's
// pattern, severity and tokens as one line each, with the sequence first.
std::string describe(slotguard::content_reader& reader);

}  // namespace worker

#endif  // SLOTGUARD_TESTS_READER_WORKER_HPP
