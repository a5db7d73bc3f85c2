/* conn_key.h - the connection key (SEMANTICS.md "Connection key and record"), its hash, and the two
 * human renderings of the seed: BeautifyKey and ConnectionSummary.
 *
 * A key is (pid, sport, dport, family, type, saddr, daddr); netns and direction are not part of it.
 * v4-mapped IPv6 addresses (::ffff:a.b.c.d) are folded to IPv4 before keying, so a dual-stack socket
 * and a plain IPv4 socket with the same ends have the same key.
 *
 * The key is stored packed, self-describing by its first byte, so the state tables can hash and
 * compare keys that sit at the start of their own objects (ck_hs entry objects) without decoding:
 *
 *   byte 0      family << 1 | type   (family 0 = IPv4, 1 = IPv6; type 0 = TCP, 1 = UDP)
 *   bytes 1..4  pid, little endian
 *   bytes 5..6  sport, little endian;  bytes 7..8 dport, little endian
 *   then        saddr, daddr: 4 bytes each for IPv4 (17 bytes in all), 16 each for IPv6 (41 bytes)
 *
 * All functions are pure and thread-safe.
 */
#ifndef FR_CONN_KEY_H
#define FR_CONN_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <flowring/record.h>

#define FR_CONN_KEY_V4_LEN 17u
#define FR_CONN_KEY_V6_LEN 41u
#define FR_CONN_KEY_MAX FR_CONN_KEY_V6_LEN
/* Longest BeautifyKey text, NUL included: p:4294967295|src:<46>:65535|dst:<46>:65535|f:1|t:1 */
#define FR_CONN_KEY_TEXT_MAX 144u
/* A ConnectionSummary line always fits in this many bytes (NUL included). */
#define FR_CONN_SUMMARY_MAX 512u

struct fr_conn_key {
	uint8_t b[FR_CONN_KEY_MAX]; /* packed as described above; bytes past the length are zero */
};

/* Length in bytes of a packed key, from its first byte. */
static inline size_t fr_conn_key_len(const uint8_t *packed)
{
	return (packed[0] & 2u) ? FR_CONN_KEY_V6_LEN : FR_CONN_KEY_V4_LEN;
}

/* True when a 16-byte address is ::ffff:a.b.c.d. */
bool fr_addr_is_v4mapped(const uint8_t addr[16]);

/* Fold a record's v4-mapped IPv6 addresses to IPv4 in place (family becomes FR_CONN_V4, both
 * addresses in bytes 0..3, the rest zero). Folds only when each address is v4-mapped or all-zero
 * and at least one is v4-mapped: a real IPv6 peer is never touched. Also folds the NAT tuple.
 * Returns true when something changed. */
bool fr_conn_fold_v4mapped(struct fr_conn *c);

/* Build the key of a record (folding v4-mapped addresses in the key, not in the record). */
void fr_conn_key_from_conn(struct fr_conn_key *k, const struct fr_conn *c);

/* Field accessors of a packed key. */
uint32_t fr_conn_key_pid(const struct fr_conn_key *k);
uint16_t fr_conn_key_sport(const struct fr_conn_key *k);
uint16_t fr_conn_key_dport(const struct fr_conn_key *k);
uint8_t fr_conn_key_family(const struct fr_conn_key *k);
uint8_t fr_conn_key_type(const struct fr_conn_key *k);
/* Addresses as 16 bytes, IPv4 in bytes 0..3 (the record's encoding). */
void fr_conn_key_saddr(const struct fr_conn_key *k, uint8_t out[16]);
void fr_conn_key_daddr(const struct fr_conn_key *k, uint8_t out[16]);

bool fr_conn_key_equal(const struct fr_conn_key *a, const struct fr_conn_key *b);
/* Equality and hash of packed keys given by pointer to their first byte (the ck_hs callbacks). */
bool fr_conn_key_equal_packed(const uint8_t *a, const uint8_t *b);
/* Seeded 64-bit hash; the seed is per table so that remote peers cannot aim collisions. */
uint64_t fr_conn_key_hash_packed(const uint8_t *packed, uint64_t seed);
static inline uint64_t fr_conn_key_hash(const struct fr_conn_key *k, uint64_t seed)
{
	return fr_conn_key_hash_packed(k->b, seed);
}

/* BeautifyKey: "p:<pid>|src:<ip>:<port>|dst:<ip>:<port>|f:<family>|t:<type>" (family and type as
 * their numbers, IPv6 without brackets, as the reference prints them). Returns the length written
 * (without the NUL) or -ENOSPC when buf is too small (buf then holds a truncated, terminated text). */
int fr_conn_key_beautify(const struct fr_conn_key *k, char *buf, size_t len);

/* ConnectionSummary: one ss-like line, e.g.
 *   "tcp pid 4242 10.0.0.1:5000 -> 10.0.0.2:80 outgoing sent 1.5KiB (+512B) recv 10B (+10B)
 *    retrans 2 (+1) rtt 150us/20us"   (one line; "nat <ip>:<port> -> <ip>:<port>" appended when NAT)
 * IPv6 addresses are bracketed ([::1]:80) as ss prints them; UDP lines omit retransmits and RTT.
 * Returns the length written or -ENOSPC (truncated, terminated); FR_CONN_SUMMARY_MAX always fits. */
int fr_conn_summary(const struct fr_conn *c, char *buf, size_t len);

/* Packed record: a whole fr_conn (minus its last_* fields, which a read recomputes) in 25-320
 * bytes: the packed key, last_update_ns (8 bytes, so it can be read without decoding), a varint
 * bitmap of the non-zero fields, then those fields as LEB128 varints (start/end as zigzag deltas to
 * last_update_ns), the NAT tuple and resv raw. A typical IPv4 record without NAT or DNS takes
 * 60-80 bytes instead of 240: this is how buffered closed connections stay under 150 B each.
 * The addresses come back folded (the key's). Pure functions, any thread. */
#define FR_CONN_PACKED_MAX 320u
size_t fr_conn_pack(const struct fr_conn *c, uint8_t out[FR_CONN_PACKED_MAX]);
void fr_conn_unpack(const uint8_t *packed, struct fr_conn *out);
uint64_t fr_conn_packed_last_update(const uint8_t *packed);

/* "tcp"/"udp"; "incoming"/"outgoing"/"local"/"none"/"unknown". Never NULL. */
const char *fr_conn_type_name(uint8_t type);
const char *fr_conn_direction_name(uint8_t direction);

#endif /* FR_CONN_KEY_H */
