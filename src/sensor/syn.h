/* SPDX-License-Identifier: MIT */
/*
 * The sensor's packet parser: one captured frame (as libpcap gives it, with
 * its link type) to the TCP SYN it carries, or nothing. A pure function of
 * its input, so that the unit tests, a pcap file and the fuzzer can feed it
 * anything: it reads only the caplen octets it is given, and whatever it
 * does not recognise is not a SYN.
 *
 * Link types: DLT_EN10MB (Ethernet, with at most one 802.1Q tag),
 * DLT_LINUX_SLL and DLT_LINUX_SLL2 (the "any" device), DLT_RAW, DLT_IPV4,
 * DLT_IPV6, DLT_NULL and DLT_LOOP (BSD loopback: a 4-octet address family,
 * in the capturing host's order and in network order). Network: IPv4
 * (RFC 791: IHL checked, non-first fragments ignored) and IPv6 (RFC 8200:
 * only a TCP header right after the fixed header; extension headers are
 * not walked). TCP (RFC 9293 3.1): SYN set, ACK clear.
 */
#ifndef GATE26_SENSOR_SYN_H
#define GATE26_SENSOR_SYN_H

#include <stdbool.h>
#include <stddef.h>

#include "sensor/sensor.h"

/*
 * Parses the frame p (caplen octets captured) of link type dlt. Returns
 * true with *out filled (family, addresses in network order, ports in host
 * order, mirai: IPv4 and the sequence number equals the destination address
 * as the headers carry them) when it is a TCP SYN without ACK; false, with
 * *out zeroed, for anything else: another link type, a frame that is not
 * IPv4 or IPv6, not TCP, truncated before the TCP header's end, an IPv4
 * header with IHL < 5, a non-first fragment, a segment with ACK set.
 */
bool syn_parse(int dlt, const unsigned char *p, size_t caplen, struct sensor_syn *out);

#endif
