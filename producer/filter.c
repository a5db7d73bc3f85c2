/* filter.c - source/destination exclude filters: parsing with quoted errors, matching, counting. */
#include "filter.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_key.h"

#define TYPE_TCP 1u
#define TYPE_UDP 2u
#define SPEC_MAX 256u /* longest spec or entry we accept; longer is an error, not a truncation */

struct port_rule {
	uint16_t lo, hi;
	uint8_t types;
};

struct entry {
	bool any_addr;
	uint8_t family; /* FR_CONN_V4 / FR_CONN_V6 */
	uint8_t plen;
	uint8_t addr[16]; /* masked to plen */
	size_t nrules;
	struct port_rule *rules;
};

struct fr_filter {
	struct entry *e[2];
	size_t n[2], cap[2];
	uint64_t excluded;
};

struct fr_filter *fr_filter_new(void)
{
	struct fr_filter *f = calloc(1, sizeof(*f));
	if (!f)
		errno = ENOMEM;
	return f;
}

static void truncate_side(struct fr_filter *f, int side, size_t n)
{
	while (f->n[side] > n)
		free(f->e[side][--f->n[side]].rules);
}

void fr_filter_free(struct fr_filter *f)
{
	if (!f)
		return;
	for (int s = 0; s < 2; s++) {
		truncate_side(f, s, 0);
		free(f->e[s]);
	}
	free(f);
}

size_t fr_filter_count(const struct fr_filter *f, enum fr_filter_side side)
{
	return f->n[side & 1];
}

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Copy s[0..n) without surrounding whitespace into out (SPEC_MAX); false if too long. */
static bool trimmed(const char *s, size_t n, char out[SPEC_MAX])
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n >= SPEC_MAX)
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

/* Decimal 0..max, digits only (no sign, no spaces, at most 5 digits). */
static bool parse_uint(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;
	size_t n = 0;
	if (!*s)
		return false;
	for (; *s; s++, n++) {
		if (!isdigit((unsigned char)*s) || n >= 5)
			return false;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

static void mask_addr(uint8_t addr[16], unsigned plen, unsigned bits)
{
	for (unsigned i = 0; i < bits / 8; i++) {
		unsigned lo = i * 8;
		if (plen <= lo)
			addr[i] = 0;
		else if (plen < lo + 8)
			addr[i] &= (uint8_t)(0xff00u >> (plen - lo));
	}
}

static int parse_addr(const char *spec, const char *entry, struct entry *e, char *err, size_t errlen)
{
	char buf[SPEC_MAX], *slash;
	unsigned plen, maxlen;

	memset(e, 0, sizeof(*e));
	if (!trimmed(spec, strlen(spec), buf))
		return fail(err, errlen, "address spec in entry \"%.64s...\": too long", entry);
	if (strcmp(buf, "*") == 0) {
		e->any_addr = true;
		return 0;
	}
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, e->addr) == 1) {
		e->family = FR_CONN_V4;
		maxlen = 32;
	} else if (inet_pton(AF_INET6, buf, e->addr) == 1) {
		e->family = FR_CONN_V6;
		maxlen = 128;
	} else {
		if (slash)
			*slash = '/';
		return fail(err, errlen, "address spec \"%s\" in entry \"%s\": not '*', an IPv4/IPv6 address or a CIDR",
			    buf, entry);
	}
	plen = maxlen;
	if (slash && !parse_uint(slash + 1, maxlen, &plen)) {
		*slash = '/';
		return fail(err, errlen, "address spec \"%s\" in entry \"%s\": prefix length must be 0..%u", buf, entry,
			    maxlen);
	}
	/* connections carry v4-mapped addresses folded to IPv4, so fold the spec the same way */
	if (e->family == FR_CONN_V6 && fr_addr_is_v4mapped(e->addr) && plen >= 96) {
		memmove(e->addr, e->addr + 12, 4);
		memset(e->addr + 4, 0, 12);
		e->family = FR_CONN_V4;
		plen -= 96;
		maxlen = 32;
	}
	e->plen = (uint8_t)plen;
	mask_addr(e->addr, plen, maxlen);
	return 0;
}

static int parse_port(const char *spec, const char *entry, struct port_rule *r, char *err, size_t errlen)
{
	char buf[SPEC_MAX], *p, *dash;
	unsigned lo, hi;

	if (!trimmed(spec, strlen(spec), buf))
		return fail(err, errlen, "port spec in entry \"%.64s...\": too long", entry);
	p = buf;
	r->types = TYPE_TCP | TYPE_UDP;
	if (strncasecmp(p, "tcp", 3) == 0 || strncasecmp(p, "udp", 3) == 0) {
		r->types = (tolower((unsigned char)p[0]) == 't') ? TYPE_TCP : TYPE_UDP;
		p += 3;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == ':')
			p++;
		while (isspace((unsigned char)*p))
			p++;
	}
	if (!*p)
		return fail(err, errlen, "port spec \"%s\" in entry \"%s\": no port ('*', 1-65535 or A-B)", buf, entry);
	if (strcmp(p, "*") == 0) {
		r->lo = 1;
		r->hi = 65535;
		return 0;
	}
	dash = strchr(p, '-');
	if (dash)
		*dash = '\0';
	if (!parse_uint(p, 65535, &lo) || lo == 0 || (dash && (!parse_uint(dash + 1, 65535, &hi) || hi == 0))) {
		if (dash)
			*dash = '-';
		return fail(err, errlen, "port spec \"%s\" in entry \"%s\": ports are '*', 1-65535 or A-B within 1-65535",
			    buf, entry);
	}
	if (!dash)
		hi = lo;
	if (lo > hi) {
		*dash = '-';
		return fail(err, errlen, "port spec \"%s\" in entry \"%s\": range start %u is above its end %u", buf, entry,
			    lo, hi);
	}
	r->lo = (uint16_t)lo;
	r->hi = (uint16_t)hi;
	return 0;
}

static int append(struct fr_filter *f, int side, struct entry *e)
{
	if (f->n[side] == f->cap[side]) {
		size_t cap = f->cap[side] ? f->cap[side] * 2 : 8;
		struct entry *n = realloc(f->e[side], cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		f->e[side] = n;
		f->cap[side] = cap;
	}
	f->e[side][f->n[side]++] = *e;
	return 0;
}

/* Parse one entry; `entry` is the text quoted in errors. */
static int add_entry(struct fr_filter *f, int side, const char *addr, const char *const *ports, size_t n,
		     const char *entry, char *err, size_t errlen)
{
	struct entry e;
	int rc = parse_addr(addr, entry, &e, err, errlen);

	if (rc)
		return rc;
	if (n == 0) {
		e.rules = malloc(sizeof(*e.rules));
		if (!e.rules)
			return -ENOMEM;
		e.rules[0] = (struct port_rule){ .lo = 1, .hi = 65535, .types = TYPE_TCP | TYPE_UDP };
		e.nrules = 1;
	} else {
		e.rules = calloc(n, sizeof(*e.rules));
		if (!e.rules)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			rc = parse_port(ports[i], entry, &e.rules[i], err, errlen);
			if (rc) {
				free(e.rules);
				return rc;
			}
		}
		e.nrules = n;
	}
	rc = append(f, side, &e);
	if (rc)
		free(e.rules);
	return rc;
}

int fr_filter_add(struct fr_filter *f, enum fr_filter_side side, const char *addr_spec,
		  const char *const *port_specs, size_t n, char *err, size_t errlen)
{
	if (!f || !addr_spec || (n && !port_specs))
		return fail(err, errlen, "filter entry: missing address spec or port list");
	for (size_t i = 0; i < n; i++)
		if (!port_specs[i])
			return fail(err, errlen, "port spec %zu for address \"%s\": missing", i, addr_spec);
	return add_entry(f, side & 1, addr_spec, port_specs, n, addr_spec, err, errlen);
}

/* One text entry "addr[=p,p,...]". */
static int parse_text_entry(struct fr_filter *f, int side, const char *text, size_t len, char *err, size_t errlen)
{
	char entry[SPEC_MAX], *eq, *ports[SPEC_MAX]; /* at most one spec per byte */
	size_t n = 0;

	if (!trimmed(text, len, entry))
		return fail(err, errlen, "filter entry \"%.64s...\": longer than %u bytes", text, SPEC_MAX - 1);
	if (!entry[0])
		return fail(err, errlen, "filter entry \"\": empty (expected ADDRESS[=PORT,...])");
	eq = strchr(entry, '=');
	if (eq) {
		char copy[SPEC_MAX], *p;
		memcpy(copy, entry, sizeof(copy));
		eq = copy + (eq - entry);
		*eq = '\0';
		p = eq + 1;
		for (;;) {
			char *comma = strchr(p, ',');
			if (comma)
				*comma = '\0';
			ports[n++] = p;
			if (!comma)
				break;
			p = comma + 1;
		}
		/* an empty list or an empty element is a typo, not "all ports" */
		for (size_t i = 0; i < n; i++) {
			char t[SPEC_MAX];
			trimmed(ports[i], strlen(ports[i]), t);
			if (!t[0])
				return fail(err, errlen, "filter entry \"%s\": empty port spec", entry);
		}
		return add_entry(f, side, copy, (const char *const *)ports, n, entry, err, errlen);
	}
	return add_entry(f, side, entry, NULL, 0, entry, err, errlen);
}

int fr_filter_parse(struct fr_filter *f, enum fr_filter_side side, const char *text, char *err, size_t errlen)
{
	int s = side & 1;
	size_t before;
	const char *p;

	if (!f || !text)
		return fail(err, errlen, "filter: missing text");
	before = f->n[s];
	p = text;
	for (;;) {
		const char *semi = strchr(p, ';');
		size_t len = semi ? (size_t)(semi - p) : strlen(p);
		int rc = parse_text_entry(f, s, p, len, err, errlen);
		if (rc) {
			truncate_side(f, s, before); /* all or nothing */
			return rc;
		}
		if (!semi)
			return 0;
		p = semi + 1;
	}
}

static bool addr_match(const struct entry *e, uint8_t family, const uint8_t *addr)
{
	unsigned full, rem;

	if (e->any_addr)
		return true;
	if (e->family != family)
		return false;
	full = e->plen / 8u;
	rem = e->plen % 8u;
	if (memcmp(e->addr, addr, full) != 0)
		return false;
	return rem == 0 || ((addr[full] ^ e->addr[full]) & (uint8_t)(0xff00u >> rem)) == 0;
}

static bool side_match(const struct fr_filter *f, int side, uint8_t family, const uint8_t *addr, uint16_t port,
		       uint8_t type_bit)
{
	for (size_t i = 0; i < f->n[side]; i++) {
		const struct entry *e = &f->e[side][i];
		if (!addr_match(e, family, addr))
			continue;
		for (size_t j = 0; j < e->nrules; j++)
			if ((e->rules[j].types & type_bit) && port >= e->rules[j].lo && port <= e->rules[j].hi)
				return true;
	}
	return false;
}

bool fr_filter_match(const struct fr_filter *f, const struct fr_conn *c)
{
	uint8_t family = c->family ? FR_CONN_V6 : FR_CONN_V4;
	const uint8_t *s = c->saddr, *d = c->daddr;
	uint8_t type_bit = c->type == FR_CONN_UDP ? TYPE_UDP : TYPE_TCP;

	if (!f->n[0] && !f->n[1])
		return false;
	/* v4-mapped records (if the kernel side did not fold them) match IPv4 specs */
	if (family == FR_CONN_V6 && fr_addr_is_v4mapped(s) && fr_addr_is_v4mapped(d)) {
		family = FR_CONN_V4;
		s += 12;
		d += 12;
	}
	return side_match(f, 0, family, s, c->sport, type_bit) || side_match(f, 1, family, d, c->dport, type_bit);
}

bool fr_filter_apply_sp(struct fr_filter *f, const struct fr_conn *c)
{
	if (!fr_filter_match(f, c))
		return false;
	/* single writer: relaxed load+store, read whole by fr_filter_excluded_mc */
	__atomic_store_n(&f->excluded, __atomic_load_n(&f->excluded, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
	return true;
}

uint64_t fr_filter_excluded_mc(const struct fr_filter *f)
{
	return __atomic_load_n(&f->excluded, __ATOMIC_RELAXED);
}
