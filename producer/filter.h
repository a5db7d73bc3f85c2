/* filter.h - source and destination exclude filters (SEMANTICS.md "Filters").
 *
 * Configuration is a map from an address spec to a list of port specs, kept separately for the
 * source and the destination side. A connection is excluded when its (source address, source port,
 * type) matches a source entry or its (destination address, destination port, type) matches a
 * destination entry. Excluded connections are counted and never published.
 *
 * Grammar (whitespace around tokens is ignored; keywords are case-insensitive):
 *
 *   address-spec  = "*"                     any address, IPv4 or IPv6
 *                 | IPv4 "/" 0..32          CIDR (host bits are masked off: 10.1.2.3/8 = 10.0.0.0/8)
 *                 | IPv6 "/" 0..128         CIDR; a v4-mapped ::ffff:a.b.c.d/96+n is the IPv4 a.b.c.d/n
 *                 | IPv4 | IPv6             that single host (/32, /128), never widened
 *   port-spec     = [ proto [ ":" | " " ] ] ports
 *   proto         = "tcp" | "udp"           absent: both
 *   ports         = "*" | port | port "-" port     port = 1..65535, range A-B with A <= B
 *
 * Text form, for command-line flags and configuration files (one entry per string; several
 * entries may also be joined with ';'):
 *
 *   entry         = address-spec [ "=" port-spec { "," port-spec } ]    no "=": every port, both types
 *
 *   --exclude-src '10.0.0.0/8=tcp:80,udp:1000-2000'    --exclude-dst '*=53'
 *   --exclude-dst '::1=TCP 8080,9000-9100;192.168.1.7'
 *
 * Anything else is an error, and the message quotes the offending entry and names the bad part:
 *   address spec "10.0.0.0/33" in entry "10.0.0.0/33=80": prefix length must be 0..32
 * One bad port spec rejects the configuration (the reference silently dropped the entry).
 *
 * Threads: configure (add/parse) before sharing the filter; afterwards fr_filter_match is pure and
 * may run on any thread; fr_filter_apply_sp counts from one thread (the ingest thread) and
 * fr_filter_excluded_mc reads that count from any thread.
 */
#ifndef FR_FILTER_H
#define FR_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <flowring/record.h>

enum fr_filter_side { FR_FILTER_SRC = 0, FR_FILTER_DST = 1 };

struct fr_filter;

/* An empty filter (matches nothing). NULL + errno on ENOMEM. */
struct fr_filter *fr_filter_new(void);
void fr_filter_free(struct fr_filter *f);

/* Add one map entry: addr_spec -> port_specs[0..n). n == 0 means every port of both types.
 * On error returns -EINVAL (or -ENOMEM) and, if err is non-NULL, writes a message quoting the
 * entry into err (always NUL-terminated); the filter is unchanged. */
int fr_filter_add(struct fr_filter *f, enum fr_filter_side side, const char *addr_spec,
		  const char *const *port_specs, size_t n, char *err, size_t errlen);

/* Parse the text form above and add its entries (all or nothing). Same errors as fr_filter_add. */
int fr_filter_parse(struct fr_filter *f, enum fr_filter_side side, const char *text, char *err, size_t errlen);

/* Whether the connection is excluded. Pure. */
bool fr_filter_match(const struct fr_filter *f, const struct fr_conn *c);

/* fr_filter_match, counting exclusions (telemetry INGEST_FILTERED). One thread only. */
bool fr_filter_apply_sp(struct fr_filter *f, const struct fr_conn *c);

/* Connections excluded by fr_filter_apply_sp so far (monotonic). Any thread. */
uint64_t fr_filter_excluded_mc(const struct fr_filter *f);

/* Number of entries on a side (for logging the configuration). */
size_t fr_filter_count(const struct fr_filter *f, enum fr_filter_side side);

#endif /* FR_FILTER_H */
