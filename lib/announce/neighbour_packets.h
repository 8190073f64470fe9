// The frames a node reads and writes to answer for a LoadBalancer address on an
// Ethernet segment: ARP (IPv4) and neighbour discovery (IPv6). Pure: bytes in,
// bytes out, so the parsing of what arrives from the wire is unit-tested and
// fuzzed without a socket (lib/announce/responder.h sends and receives them).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "model/address.h"

namespace svcnft::announce {

using Mac = std::array<uint8_t, 6>;

// "Who has `target`?": an ARP request, or an IPv6 neighbour solicitation.
struct Question {
  IpAddress target;
  IpAddress asker;  // where the answer goes
  Mac askerMac{};   // its link-layer address (the NS option, else the frame's source)
};

// The question a frame asks, if it is one we may answer: an ARP request for an
// IPv4 address from a sender with an address (not an ARP probe), or a neighbour
// solicitation with hop limit 255 from a unicast source (duplicate address
// detection, from ::, is not answered). Anything else, short or malformed: none.
std::optional<Question> parseQuestion(std::span<const uint8_t> frame);

// The answer to `q` from the node whose interface has `ours`: an ARP reply, or a
// solicited neighbour advertisement with the override flag.
std::vector<uint8_t> answerFrame(const Question& q, const Mac& ours);

// The announcement a new holder of `address` sends so that every neighbour cache
// on the segment points at it at once: a gratuitous ARP request (as arping -U and
// keepalived send), or an unsolicited advertisement to all nodes with override.
std::vector<uint8_t> announcementFrame(const IpAddress& address, const Mac& ours);

// The solicited-node multicast group of an IPv6 address (ff02::1:ffXX:XXXX): the
// node joins it so that solicitations for the address reach it through switches
// that snoop MLD.
IpAddress solicitedNodeGroup(const IpAddress& v6);

}  // namespace svcnft::announce
