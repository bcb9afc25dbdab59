// SPDX-License-Identifier: Apache-2.0
// The test schema in C++, shared by the schema tests and the fuzz targets:
// the same declaration as tests/data/schema/edr.schema. process_rule has
// every field type, each with a range or a length, some with wildcards;
// net_rule has allowed-value sets for integers and strings and an enum with
// large codes; template_input is an interpreter template with 20 inputs, the
// shape of the 2024 failure, where content carried a 21st field the sensor
// never supplied.
#ifndef SLOTGUARD_TESTS_EDR_SCHEMA_HPP
#define SLOTGUARD_TESTS_EDR_SCHEMA_HPP

#include <slotguard/schema.hpp>

#include <cstdint>
#include <string_view>

namespace edr_test {

constexpr slotguard::enum_value kActions[] = {{"allow", 0}, {"alert", 1}, {"block", 2}, {"kill", 9}};
constexpr slotguard::enum_value kVerdicts[] = {{"pass", 100}, {"drop", 200}};
constexpr slotguard::enum_value kAccess[] = {{"none", 0}, {"read", 1}, {"write", 2}, {"exec", 4}};
constexpr std::int64_t kProtos[] = {6, 17};
constexpr std::int64_t kRemotePorts[] = {22, 80, 443};
constexpr std::int64_t kWeights[] = {-1, 0, 1};
constexpr std::string_view kHosts[] = {"example.com", "example.org"};

constexpr slotguard::field_decl kProcessFields[] = {
    slotguard::fields::u8("level").range(1, 5),
    slotguard::fields::u16("port").range(1, 65535).wildcard(),
    slotguard::fields::u32("pid").range(1, 4194304).wildcard(),
    slotguard::fields::u64("size").range(0, 1099511627776LL),
    slotguard::fields::i8("nice").range(-20, 19),
    slotguard::fields::i16("delta").range(-1000, 1000),
    slotguard::fields::i32("offset").range(-65536, 65535),
    slotguard::fields::i64("stamp"),
    slotguard::fields::boolean("elevated").wildcard(),
    slotguard::fields::string("image", 16).wildcard(),
    slotguard::fields::bytes("digest", 32),
    slotguard::fields::enumeration("action", kActions),
};
constexpr slotguard::field_decl kNetFields[] = {
    slotguard::fields::u8("proto").allowed(kProtos),
    slotguard::fields::u16("remote_port").allowed(kRemotePorts).wildcard(),
    slotguard::fields::i64("weight").allowed(kWeights),
    slotguard::fields::string("host", 64).allowed(kHosts).wildcard(),
    slotguard::fields::bytes("payload", 8).wildcard(),
    slotguard::fields::enumeration("verdict", kVerdicts).wildcard(),
    slotguard::fields::u64("big").range(18446744073709551600ull, 18446744073709551615ull),
    slotguard::fields::i8("tiny"),
};
constexpr slotguard::field_decl kTemplateFields[] = {
    slotguard::fields::u32("f00").wildcard(),
    slotguard::fields::u32("f01").wildcard(),
    slotguard::fields::string("f02", 128).wildcard(),
    slotguard::fields::string("f03", 128).wildcard(),
    slotguard::fields::u16("f04").range(0, 1024).wildcard(),
    slotguard::fields::u8("f05").wildcard(),
    slotguard::fields::boolean("f06").wildcard(),
    slotguard::fields::string("f07", 260).wildcard(),
    slotguard::fields::string("f08", 260).wildcard(),
    slotguard::fields::u64("f09").wildcard(),
    slotguard::fields::i32("f10").range(-1, 2147483647).wildcard(),
    slotguard::fields::enumeration("f11", kAccess).wildcard(),
    slotguard::fields::bytes("f12", 64).wildcard(),
    slotguard::fields::string("f13", 32).wildcard(),
    slotguard::fields::u32("f14").wildcard(),
    slotguard::fields::u16("f15").wildcard(),
    slotguard::fields::i64("f16").wildcard(),
    slotguard::fields::string("f17", 512).wildcard(),
    slotguard::fields::boolean("f18").wildcard(),
    slotguard::fields::u32("f19").range(0, 100).wildcard(),
};
constexpr slotguard::record_decl kProcessRule{1, "process_rule", kProcessFields};
constexpr slotguard::record_decl kNetRule{2, "net_rule", kNetFields};
constexpr slotguard::record_decl kTemplateInput{291, "template_input", kTemplateFields};

}  // namespace edr_test

#endif  // SLOTGUARD_TESTS_EDR_SCHEMA_HPP
