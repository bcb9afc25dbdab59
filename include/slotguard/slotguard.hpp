// SPDX-License-Identifier: Apache-2.0
// The umbrella header: everything slotguard offers in one include, in the
// order of the pipeline (each part depends only on those above it). The
// test simulator (sim_storage.hpp) and the publisher's directory scanner
// (tree_pack.hpp) are not part of it: include them where they are used.
#ifndef SLOTGUARD_SLOTGUARD_HPP
#define SLOTGUARD_SLOTGUARD_HPP

#include <slotguard/version.hpp>
#include <slotguard/config.hpp>
#include <slotguard/error.hpp>
#include <slotguard/bytes.hpp>

#include <slotguard/hash.hpp>
#include <slotguard/crc.hpp>
#include <slotguard/sha512.hpp>
#include <slotguard/ed25519.hpp>
#include <slotguard/pem.hpp>

#include <slotguard/trust.hpp>
#include <slotguard/io_fn.hpp>
#include <slotguard/bundle.hpp>
#include <slotguard/tree.hpp>
#include <slotguard/schema.hpp>

#include <slotguard/storage.hpp>
#include <slotguard/slot_store.hpp>

#include <slotguard/snapshot.hpp>
#include <slotguard/watchdog.hpp>
#include <slotguard/probe.hpp>
#include <slotguard/policy.hpp>
#include <slotguard/events.hpp>
#include <slotguard/log.hpp>
#include <slotguard/history.hpp>
#include <slotguard/requests.hpp>
#include <slotguard/guard.hpp>

#endif  // SLOTGUARD_SLOTGUARD_HPP
