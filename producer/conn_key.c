/* conn_key.c - connection keys: packing, v4-mapped folding, hashing, BeautifyKey, ConnectionSummary. */
#include "conn_key.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

bool fr_addr_is_v4mapped(const uint8_t addr[16])
{
	return memcmp(addr, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0;
}

static bool addr_is_zero(const uint8_t addr[16])
{
	static const uint8_t zero[16];
	return memcmp(addr, zero, 16) == 0;
}

static void fold_addr(uint8_t addr[16])
{
	uint8_t v4[4];
	memcpy(v4, addr + 12, 4);
	memset(addr, 0, 16);
	memcpy(addr, v4, 4);
}

/* Whether a v6 pair of addresses should be folded: each mapped or zero, at least one mapped. */
static bool pair_foldable(const uint8_t s[16], const uint8_t d[16])
{
	bool sm = fr_addr_is_v4mapped(s), dm = fr_addr_is_v4mapped(d);
	return (sm || dm) && (sm || addr_is_zero(s)) && (dm || addr_is_zero(d));
}

bool fr_conn_fold_v4mapped(struct fr_conn *c)
{
	if (c->family != FR_CONN_V6 || !pair_foldable(c->saddr, c->daddr))
		return false;
	if (fr_addr_is_v4mapped(c->saddr))
		fold_addr(c->saddr);
	if (fr_addr_is_v4mapped(c->daddr))
		fold_addr(c->daddr);
	if ((c->flags & FR_CONN_F_NAT) && pair_foldable(c->nat.repl_saddr, c->nat.repl_daddr)) {
		if (fr_addr_is_v4mapped(c->nat.repl_saddr))
			fold_addr(c->nat.repl_saddr);
		if (fr_addr_is_v4mapped(c->nat.repl_daddr))
			fold_addr(c->nat.repl_daddr);
	}
	c->family = FR_CONN_V4;
	return true;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

void fr_conn_key_from_conn(struct fr_conn_key *k, const struct fr_conn *c)
{
	const uint8_t *s = c->saddr, *d = c->daddr;
	uint8_t fam = c->family ? 1 : 0;
	size_t alen = 4;

	memset(k, 0, sizeof(*k));
	if (fam == FR_CONN_V6) {
		if (pair_foldable(s, d)) {
			fam = FR_CONN_V4;
			/* bytes 12..15 of a v4-mapped address are the IPv4 address; a zero address stays zero */
			s = addr_is_zero(s) ? s : s + 12;
			d = addr_is_zero(d) ? d : d + 12;
		} else {
			alen = 16;
		}
	}
	k->b[0] = (uint8_t)(fam << 1 | (c->type ? 1 : 0));
	k->b[1] = (uint8_t)c->pid;
	k->b[2] = (uint8_t)(c->pid >> 8);
	k->b[3] = (uint8_t)(c->pid >> 16);
	k->b[4] = (uint8_t)(c->pid >> 24);
	put16(k->b + 5, c->sport);
	put16(k->b + 7, c->dport);
	memcpy(k->b + 9, s, alen);
	memcpy(k->b + 9 + alen, d, alen);
}

uint32_t fr_conn_key_pid(const struct fr_conn_key *k)
{
	return (uint32_t)k->b[1] | (uint32_t)k->b[2] << 8 | (uint32_t)k->b[3] << 16 | (uint32_t)k->b[4] << 24;
}

uint16_t fr_conn_key_sport(const struct fr_conn_key *k)
{
	return get16(k->b + 5);
}

uint16_t fr_conn_key_dport(const struct fr_conn_key *k)
{
	return get16(k->b + 7);
}

uint8_t fr_conn_key_family(const struct fr_conn_key *k)
{
	return (k->b[0] >> 1) & 1u;
}

uint8_t fr_conn_key_type(const struct fr_conn_key *k)
{
	return k->b[0] & 1u;
}

static void key_addr(const struct fr_conn_key *k, int which, uint8_t out[16])
{
	size_t alen = fr_conn_key_family(k) ? 16 : 4;
	memset(out, 0, 16);
	memcpy(out, k->b + 9 + (size_t)which * alen, alen);
}

void fr_conn_key_saddr(const struct fr_conn_key *k, uint8_t out[16])
{
	key_addr(k, 0, out);
}

void fr_conn_key_daddr(const struct fr_conn_key *k, uint8_t out[16])
{
	key_addr(k, 1, out);
}

bool fr_conn_key_equal_packed(const uint8_t *a, const uint8_t *b)
{
	uint64_t a0, a1, b0, b1;

	/* the table compare callback: inline word compares beat a memcmp call for 17-byte keys */
	memcpy(&a0, a, 8);
	memcpy(&b0, b, 8);
	memcpy(&a1, a + 8, 8);
	memcpy(&b1, b + 8, 8);
	if (a0 != b0 || a1 != b1)
		return false; /* byte 0 (family, type) is in a0: the lengths agree past here */
	if (!(a[0] & 2u))
		return a[16] == b[16];
	return memcmp(a + 16, b + 16, FR_CONN_KEY_V6_LEN - 16) == 0;
}

bool fr_conn_key_equal(const struct fr_conn_key *a, const struct fr_conn_key *b)
{
	return fr_conn_key_equal_packed(a->b, b->b);
}

/* 64x64->128 multiply folded to 64 bits (the wyhash mixer): fast and good enough for table hashing. */
static inline uint64_t mix(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

uint64_t fr_conn_key_hash_packed(const uint8_t *p, uint64_t seed)
{
	size_t len = fr_conn_key_len(p), i = 0;
	uint64_t h = seed ^ 0xa0761d6478bd642full ^ len, w;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		h = mix(h ^ w, 0xe7037ed1a0b428dbull);
	}
	w = 0;
	memcpy(&w, p + i, len - i);
	h = mix(h ^ w ^ 0x8ebc6af09c88c6e3ull, 0x589965cc75374cc3ull);
	return mix(h, 0x1d8e4e27c47d124full);
}

static const char *addr_text(uint8_t family, const uint8_t addr[16], char *buf, size_t len)
{
	if (!inet_ntop(family ? AF_INET6 : AF_INET, addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

static int finish(int n, size_t len)
{
	if (n < 0)
		return -EINVAL;
	return (size_t)n >= len ? -ENOSPC : n;
}

int fr_conn_key_beautify(const struct fr_conn_key *k, char *buf, size_t len)
{
	uint8_t s[16], d[16];
	char st[INET6_ADDRSTRLEN], dt[INET6_ADDRSTRLEN];
	uint8_t fam = fr_conn_key_family(k);

	fr_conn_key_saddr(k, s);
	fr_conn_key_daddr(k, d);
	return finish(snprintf(buf, len, "p:%u|src:%s:%u|dst:%s:%u|f:%u|t:%u", fr_conn_key_pid(k),
			       addr_text(fam, s, st, sizeof(st)), fr_conn_key_sport(k),
			       addr_text(fam, d, dt, sizeof(dt)), fr_conn_key_dport(k), fam, fr_conn_key_type(k)),
		      len);
}

const char *fr_conn_type_name(uint8_t type)
{
	return type == FR_CONN_UDP ? "udp" : type == FR_CONN_TCP ? "tcp" : "?";
}

const char *fr_conn_direction_name(uint8_t direction)
{
	switch (direction) {
	case FR_DIR_INCOMING:
		return "incoming";
	case FR_DIR_OUTGOING:
		return "outgoing";
	case FR_DIR_LOCAL:
		return "local";
	case FR_DIR_NONE:
		return "none";
	default:
		return "unknown";
	}
}

/* Bytes as ss/humanize users read them: B below 1 KiB, then one decimal in KiB/MiB/GiB/TiB. */
static const char *bytes_text(uint64_t v, char *buf, size_t len)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double x = (double)v;
	int u = -1;

	if (v < 1024) {
		snprintf(buf, len, "%uB", (unsigned)v);
		return buf;
	}
	while (x >= 1024.0 && u < 4) {
		x /= 1024.0;
		u++;
	}
	snprintf(buf, len, "%.1f%s", x, unit[u]);
	return buf;
}

/* "addr:port", IPv6 bracketed as ss prints it. */
static const char *endpoint_text(uint8_t family, const uint8_t addr[16], uint16_t port, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	addr_text(family, addr, a, sizeof(a));
	snprintf(buf, len, family ? "[%s]:%u" : "%s:%u", a, port);
	return buf;
}

int fr_conn_summary(const struct fr_conn *c, char *buf, size_t len)
{
	char src[64], dst[64], b1[16], b2[16], b3[16], b4[16];
	struct fr_conn f = *c;
	size_t off;
	int n;

	fr_conn_fold_v4mapped(&f);
	n = snprintf(buf, len, "%s pid %u %s -> %s %s sent %s (+%s) recv %s (+%s)", fr_conn_type_name(f.type), f.pid,
		     endpoint_text(f.family, f.saddr, f.sport, src, sizeof(src)),
		     endpoint_text(f.family, f.daddr, f.dport, dst, sizeof(dst)), fr_conn_direction_name(f.direction),
		     bytes_text(f.monotonic_sent_bytes, b1, sizeof(b1)), bytes_text(f.last_sent_bytes, b2, sizeof(b2)),
		     bytes_text(f.monotonic_recv_bytes, b3, sizeof(b3)), bytes_text(f.last_recv_bytes, b4, sizeof(b4)));
	if (n < 0 || (size_t)n >= len)
		return finish(n, len);
	off = (size_t)n;
	if (f.type == FR_CONN_TCP) {
		n = snprintf(buf + off, len - off, " retrans %u (+%u) rtt %uus/%uus", f.monotonic_retransmits,
			     f.last_retransmits, f.rtt_us, f.rtt_var_us);
		if (n < 0 || (size_t)n >= len - off)
			return finish(n < 0 ? n : (int)(off + (size_t)n), len);
		off += (size_t)n;
	}
	if (f.flags & FR_CONN_F_NAT) {
		/* the NAT tuple's family follows the record's: conntrack never translates across families */
		n = snprintf(buf + off, len - off, " nat %s -> %s",
			     endpoint_text(f.family, f.nat.repl_saddr, f.nat.repl_sport, src, sizeof(src)),
			     endpoint_text(f.family, f.nat.repl_daddr, f.nat.repl_dport, dst, sizeof(dst)));
		if (n < 0 || (size_t)n >= len - off)
			return finish(n < 0 ? n : (int)(off + (size_t)n), len);
		off += (size_t)n;
	}
	return (int)off;
}

/* ---- packed records ---- */

enum {
	PK_SENT_BYTES,
	PK_RECV_BYTES,
	PK_SENT_PACKETS,
	PK_RECV_PACKETS,
	PK_RETRANS,
	PK_START,
	PK_END,
	PK_COOKIE,
	PK_RTT,
	PK_RTT_VAR,
	PK_NETNS,
	PK_FLAGS,
	PK_DIRECTION,
	PK_INTRA_HOST,
	PK_DNS_OK,
	PK_DNS_FAIL,
	PK_DNS_TIMEOUTS,
	PK_DNS_OK_LAT,
	PK_DNS_FAIL_LAT,
	PK_NAT,
	PK_RESV,
	PK__COUNT
};

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static const uint8_t *get_varint(const uint8_t *p, uint64_t *v)
{
	uint64_t r = 0;
	unsigned shift = 0;
	while (*p & 0x80) {
		r |= (uint64_t)(*p++ & 0x7f) << shift;
		shift += 7;
	}
	*v = r | (uint64_t)*p++ << shift;
	return p;
}

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

size_t fr_conn_pack(const struct fr_conn *c, uint8_t out[FR_CONN_PACKED_MAX])
{
	static const uint8_t zero_resv[8];
	struct fr_conn_key k;
	uint64_t v[PK__COUNT] = { 0 }, bitmap = 0;
	size_t klen;
	uint8_t *p;

	fr_conn_key_from_conn(&k, c);
	klen = fr_conn_key_len(k.b);
	memcpy(out, k.b, klen);
	memcpy(out + klen, &c->last_update_ns, 8);
	v[PK_SENT_BYTES] = c->monotonic_sent_bytes;
	v[PK_RECV_BYTES] = c->monotonic_recv_bytes;
	v[PK_SENT_PACKETS] = c->monotonic_sent_packets;
	v[PK_RECV_PACKETS] = c->monotonic_recv_packets;
	v[PK_RETRANS] = c->monotonic_retransmits;
	/* times close to last_update_ns: a delta takes 3-6 bytes instead of 9 */
	v[PK_START] = c->start_ns ? zigzag((int64_t)(c->last_update_ns - c->start_ns)) : 0;
	v[PK_END] = c->end_ns ? zigzag((int64_t)(c->end_ns - c->last_update_ns)) : 0;
	v[PK_COOKIE] = c->cookie;
	v[PK_RTT] = c->rtt_us;
	v[PK_RTT_VAR] = c->rtt_var_us;
	v[PK_NETNS] = c->netns;
	v[PK_FLAGS] = c->flags;
	v[PK_DIRECTION] = c->direction;
	v[PK_INTRA_HOST] = c->intra_host;
	v[PK_DNS_OK] = c->dns_successful_responses;
	v[PK_DNS_FAIL] = c->dns_failed_responses;
	v[PK_DNS_TIMEOUTS] = c->dns_timeouts;
	v[PK_DNS_OK_LAT] = c->dns_success_latency_sum;
	v[PK_DNS_FAIL_LAT] = c->dns_failure_latency_sum;
	for (int i = 0; i < PK_NAT; i++)
		if (v[i] || (i == PK_START && c->start_ns) || (i == PK_END && c->end_ns))
			bitmap |= 1ull << i;
	if (c->flags & FR_CONN_F_NAT)
		bitmap |= 1ull << PK_NAT;
	if (memcmp(c->resv, zero_resv, 8) != 0)
		bitmap |= 1ull << PK_RESV;
	p = put_varint(out + klen + 8, bitmap);
	/* visit only the present fields: typical records have 12-14 of the 19 */
	for (uint64_t bm = bitmap & ((1ull << PK_NAT) - 1); bm; bm &= bm - 1)
		p = put_varint(p, v[__builtin_ctzll(bm)]);
	if (bitmap & (1ull << PK_NAT)) {
		memcpy(p, &c->nat, sizeof(c->nat));
		p += sizeof(c->nat);
	}
	if (bitmap & (1ull << PK_RESV)) {
		memcpy(p, c->resv, 8);
		p += 8;
	}
	return (size_t)(p - out);
}

uint64_t fr_conn_packed_last_update(const uint8_t *packed)
{
	uint64_t lu;
	memcpy(&lu, packed + fr_conn_key_len(packed), 8);
	return lu;
}

void fr_conn_unpack(const uint8_t *packed, struct fr_conn *c)
{
	struct fr_conn_key k;
	size_t klen = fr_conn_key_len(packed);
	uint64_t v[PK__COUNT] = { 0 }, bitmap;
	const uint8_t *p;

	memset(c, 0, sizeof(*c));
	memset(&k, 0, sizeof(k));
	memcpy(k.b, packed, klen);
	c->pid = fr_conn_key_pid(&k);
	c->sport = fr_conn_key_sport(&k);
	c->dport = fr_conn_key_dport(&k);
	c->family = fr_conn_key_family(&k);
	c->type = fr_conn_key_type(&k);
	fr_conn_key_saddr(&k, c->saddr);
	fr_conn_key_daddr(&k, c->daddr);
	memcpy(&c->last_update_ns, packed + klen, 8);
	p = get_varint(packed + klen + 8, &bitmap);
	for (uint64_t bm = bitmap & ((1ull << PK_NAT) - 1); bm; bm &= bm - 1)
		p = get_varint(p, &v[__builtin_ctzll(bm)]);
	if (bitmap & (1ull << PK_NAT)) {
		memcpy(&c->nat, p, sizeof(c->nat));
		p += sizeof(c->nat);
	}
	if (bitmap & (1ull << PK_RESV))
		memcpy(c->resv, p, 8);
	c->monotonic_sent_bytes = v[PK_SENT_BYTES];
	c->monotonic_recv_bytes = v[PK_RECV_BYTES];
	c->monotonic_sent_packets = v[PK_SENT_PACKETS];
	c->monotonic_recv_packets = v[PK_RECV_PACKETS];
	c->monotonic_retransmits = (uint32_t)v[PK_RETRANS];
	if (bitmap & (1ull << PK_START))
		c->start_ns = c->last_update_ns - (uint64_t)unzigzag(v[PK_START]);
	if (bitmap & (1ull << PK_END))
		c->end_ns = c->last_update_ns + (uint64_t)unzigzag(v[PK_END]);
	c->cookie = v[PK_COOKIE];
	c->rtt_us = (uint32_t)v[PK_RTT];
	c->rtt_var_us = (uint32_t)v[PK_RTT_VAR];
	c->netns = (uint32_t)v[PK_NETNS];
	c->flags = (uint32_t)v[PK_FLAGS];
	c->direction = (uint8_t)v[PK_DIRECTION];
	c->intra_host = (uint8_t)v[PK_INTRA_HOST];
	c->dns_successful_responses = (uint32_t)v[PK_DNS_OK];
	c->dns_failed_responses = (uint32_t)v[PK_DNS_FAIL];
	c->dns_timeouts = (uint32_t)v[PK_DNS_TIMEOUTS];
	c->dns_success_latency_sum = v[PK_DNS_OK_LAT];
	c->dns_failure_latency_sum = v[PK_DNS_FAIL_LAT];
}
