/* portmap.c - listening ports per network namespace from /proc/net and events; direction and
 * intra-host classification. */
#include "portmap.h"

#include <ck_hs.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_key.h"
#include "log.h"

/* One (netns, type, port) with the number of sockets listening on it. The packed key comes first:
 * the table hashes and compares through it. Writer-only table: frees need no epoch. */
struct port_entry {
	uint64_t key; /* netns << 32 | type << 16 | port */
	uint32_t count;
};

struct host_set {
	uint32_t netns;
	size_t n;
	struct fr_host_addr *addrs;
};

struct fr_portmap {
	ck_hs_t ports;
	struct host_set *hosts;
	size_t nhosts;
	uint64_t malformed;
	uint64_t listening;
};

/* ck_hs rehashes with its own seed when it grows: every caller must hash with the same one. The
 * keys are our own (netns, type, port), not chosen by peers, so a fixed seed is fine here. */
#define PM_SEED 0x5bd1e995ul

static void *pm_malloc(size_t n)
{
	return malloc(n);
}

static void pm_free(void *p, size_t n, bool defer)
{
	(void)n;
	(void)defer; /* no concurrent readers: the old map can go at once */
	free(p);
}

static struct ck_malloc pm_alloc = { .malloc = pm_malloc, .free = pm_free };

static unsigned long port_hash(const void *obj, unsigned long seed)
{
	uint64_t k;
	memcpy(&k, obj, sizeof(k));
	k ^= seed;
	k *= 0x9e3779b97f4a7c15ull;
	return (unsigned long)(k ^ (k >> 31));
}

static bool port_cmp(const void *slot, const void *key)
{
	return memcmp(slot, key, sizeof(uint64_t)) == 0;
}

static inline uint64_t port_key(uint32_t netns, uint8_t type, uint16_t port)
{
	return (uint64_t)netns << 32 | (uint64_t)type << 16 | port;
}

static inline void gauge_set(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED); /* read by the *_mc getters */
}

struct fr_portmap *fr_portmap_new(void)
{
	struct fr_portmap *pm = calloc(1, sizeof(*pm));
	if (!pm) {
		errno = ENOMEM;
		return NULL;
	}
	if (!ck_hs_init(&pm->ports, CK_HS_MODE_SPMC | CK_HS_MODE_OBJECT | CK_HS_MODE_DELETE, port_hash, port_cmp,
			&pm_alloc, 256, PM_SEED)) {
		free(pm);
		errno = ENOMEM;
		return NULL;
	}
	return pm;
}

void fr_portmap_free(struct fr_portmap *pm)
{
	ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
	void *obj;

	if (!pm)
		return;
	while (ck_hs_next(&pm->ports, &it, &obj))
		free(obj);
	ck_hs_destroy(&pm->ports);
	for (size_t i = 0; i < pm->nhosts; i++)
		free(pm->hosts[i].addrs);
	free(pm->hosts);
	free(pm);
}

static int port_add(struct fr_portmap *pm, uint64_t key)
{
	unsigned long h = port_hash(&key, PM_SEED);
	struct port_entry *e = ck_hs_get(&pm->ports, h, &key);

	if (e) {
		e->count++;
		return 0;
	}
	e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->key = key;
	e->count = 1;
	if (!ck_hs_put(&pm->ports, h, e)) {
		free(e);
		return -ENOMEM;
	}
	gauge_set(&pm->listening, pm->listening + 1);
	return 0;
}

static void port_del(struct fr_portmap *pm, uint64_t key, bool all)
{
	unsigned long h = port_hash(&key, PM_SEED);
	struct port_entry *e = ck_hs_get(&pm->ports, h, &key);

	if (!e)
		return;
	if (!all && --e->count > 0)
		return;
	ck_hs_remove(&pm->ports, h, &key);
	free(e);
	gauge_set(&pm->listening, pm->listening - 1);
}

int fr_portmap_add_sp(struct fr_portmap *pm, uint32_t netns, uint8_t type, uint16_t port)
{
	if (port == 0 || type > FR_CONN_UDP)
		return -EINVAL;
	return port_add(pm, port_key(netns, type, port));
}

int fr_portmap_remove_sp(struct fr_portmap *pm, uint32_t netns, uint8_t type, uint16_t port)
{
	if (port == 0 || type > FR_CONN_UDP)
		return -EINVAL;
	port_del(pm, port_key(netns, type, port), false);
	return 0;
}

bool fr_portmap_is_listening_sp(const struct fr_portmap *pm, uint32_t netns, uint8_t type, uint16_t port)
{
	uint64_t key = port_key(netns, type, port);
	/* ck_hs_get does not modify the set; its prototype just is not const */
	return ck_hs_get((ck_hs_t *)&pm->ports, port_hash(&key, PM_SEED), &key) != NULL;
}

/* Remove every entry of a namespace (and of one type, unless type < 0). */
static void drop_entries(struct fr_portmap *pm, uint32_t netns, int type)
{
	ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
	uint64_t *victims = NULL;
	size_t n = 0, cap = 0;
	void *obj;

	/* collect, then remove: never remove under a running iteration */
	while (ck_hs_next(&pm->ports, &it, &obj)) {
		const struct port_entry *e = obj;
		if ((uint32_t)(e->key >> 32) != netns || (type >= 0 && (int)((e->key >> 16) & 0xff) != type))
			continue;
		if (n == cap) {
			uint64_t *v = realloc(victims, (cap = cap ? cap * 2 : 64) * sizeof(*v));
			if (!v)
				break; /* leaves some stale ports: the load re-adds the live ones anyway */
			victims = v;
		}
		victims[n++] = e->key;
	}
	for (size_t i = 0; i < n; i++)
		port_del(pm, victims[i], true);
	free(victims);
}

void fr_portmap_drop_netns_sp(struct fr_portmap *pm, uint32_t netns)
{
	drop_entries(pm, netns, -1);
	for (size_t i = 0; i < pm->nhosts; i++) {
		if (pm->hosts[i].netns == netns) {
			free(pm->hosts[i].addrs);
			pm->hosts[i] = pm->hosts[--pm->nhosts];
			break;
		}
	}
}

/* ---- /proc/net parsing ---- */

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* n hex digits into out (bytes, as the kernel prints them), returns the end or NULL. */
static const char *hex_run(const char *p, size_t digits)
{
	for (size_t i = 0; i < digits; i++)
		if (!isxdigit((unsigned char)p[i]))
			return NULL;
	return p + digits;
}

static unsigned hexval(const char *p, size_t n)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 16 + (unsigned)(isdigit((unsigned char)p[i]) ? p[i] - '0' : (tolower((unsigned char)p[i]) - 'a' + 10));
	return v;
}

/* "ADDR:PORT" with ADDR of addr_digits hex digits; sets *zero if the address and port are zero. */
static const char *parse_endpoint(const char *p, size_t addr_digits, unsigned *port, bool *zero)
{
	const char *a = p, *q = hex_run(p, addr_digits);

	if (!q || *q != ':' || !hex_run(q + 1, 4) || isxdigit((unsigned char)q[5]))
		return NULL;
	*port = hexval(q + 1, 4);
	*zero = *port == 0;
	for (size_t i = 0; i < addr_digits && *zero; i++)
		*zero = a[i] == '0';
	return q + 5;
}

/* One data line. Returns 1 if it is a listening socket of the kind wanted, 0 if not, -1 malformed. */
static int parse_line(const char *line, size_t addr_digits, bool udp, uint16_t *port_out)
{
	const char *p = skip_ws(line);
	unsigned lport, rport, state;
	bool lzero, rzero;

	if (!isdigit((unsigned char)*p))
		return -1;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p++ != ':')
		return -1;
	p = parse_endpoint(skip_ws(p), addr_digits, &lport, &lzero);
	if (!p || (*p != ' ' && *p != '\t'))
		return -1;
	p = parse_endpoint(skip_ws(p), addr_digits, &rport, &rzero);
	if (!p || (*p != ' ' && *p != '\t'))
		return -1;
	p = skip_ws(p);
	if (!hex_run(p, 2) || (p[2] != ' ' && p[2] != '\t' && p[2] != '\n' && p[2] != '\0'))
		return -1;
	state = hexval(p, 2);
	if (lport == 0)
		return 0;
	*port_out = (uint16_t)lport;
	if (udp)
		return rzero ? 1 : 0; /* bound and unconnected */
	return state == 0x0A ? 1 : 0; /* TCP_LISTEN */
}

/* Returns listening sockets found, -ENOENT if the file does not exist, or -errno. */
static int load_file(struct fr_portmap *pm, uint32_t netns, const char *path, size_t addr_digits, bool udp)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int found = 0, rc = 0;
	bool first = true;

	if (!f)
		return -errno;
	while ((len = getline(&line, &cap, f)) >= 0) {
		uint16_t port = 0;
		int r;

		if (first) {
			first = false;
			if (strncmp(skip_ws(line), "sl", 2) == 0)
				continue; /* the header */
		}
		if (len == 0 || (len == 1 && line[0] == '\n'))
			continue;
		r = parse_line(line, addr_digits, udp, &port);
		if (r < 0) {
			__atomic_store_n(&pm->malformed, pm->malformed + 1, __ATOMIC_RELAXED);
			continue;
		}
		if (r == 1) {
			rc = port_add(pm, port_key(netns, udp ? FR_CONN_UDP : FR_CONN_TCP, port));
			if (rc < 0)
				break;
			found++;
		}
	}
	if (ferror(f) && rc == 0)
		rc = -EIO;
	free(line);
	fclose(f);
	return rc < 0 ? rc : found;
}

int fr_portmap_load_sp(struct fr_portmap *pm, uint32_t netns, const char *proc_root)
{
	static const struct {
		const char *name;
		size_t digits;
		bool udp;
	} files[] = { { "tcp", 8, false }, { "tcp6", 32, false }, { "udp", 8, true }, { "udp6", 32, true } };
	int total = 0;

	if (!pm || !proc_root)
		return -EINVAL;
	drop_entries(pm, netns, -1);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[4096];
		int r;

		if ((size_t)snprintf(path, sizeof(path), "%s/net/%s", proc_root, files[i].name) >= sizeof(path))
			return -ENAMETOOLONG;
		r = load_file(pm, netns, path, files[i].digits, files[i].udp);
		if (r == -ENOENT)
			continue; /* e.g. IPv6 disabled */
		if (r < 0) {
			fr_err("portmap: reading %s for netns %u: %s", path, netns, strerror(-r));
			return r;
		}
		total += r;
	}
	return total;
}

/* ---- host addresses and direction ---- */

int fr_portmap_set_host_addrs_sp(struct fr_portmap *pm, uint32_t netns, const struct fr_host_addr *addrs, size_t n)
{
	struct host_set *hs = NULL;
	struct fr_host_addr *copy = NULL;

	if (n) {
		copy = malloc(n * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, addrs, n * sizeof(*copy));
	}
	for (size_t i = 0; i < pm->nhosts; i++)
		if (pm->hosts[i].netns == netns)
			hs = &pm->hosts[i];
	if (!hs) {
		struct host_set *grown = realloc(pm->hosts, (pm->nhosts + 1) * sizeof(*grown));
		if (!grown) {
			free(copy);
			return -ENOMEM;
		}
		pm->hosts = grown;
		hs = &pm->hosts[pm->nhosts++];
		hs->addrs = NULL;
		hs->netns = netns;
	}
	free(hs->addrs);
	hs->addrs = copy;
	hs->n = n;
	return 0;
}

static bool is_loopback(uint8_t family, const uint8_t *a)
{
	static const uint8_t v6lo[16] = { [15] = 1 };
	if (family == FR_CONN_V4)
		return a[0] == 127;
	if (fr_addr_is_v4mapped(a))
		return a[12] == 127;
	return memcmp(a, v6lo, 16) == 0;
}

static bool is_host_addr(const struct fr_portmap *pm, uint32_t netns, uint8_t family, const uint8_t *a)
{
	for (size_t i = 0; i < pm->nhosts; i++) {
		const struct host_set *hs = &pm->hosts[i];
		if (hs->netns != netns)
			continue;
		for (size_t j = 0; j < hs->n; j++)
			if (hs->addrs[j].family == family &&
			    memcmp(hs->addrs[j].addr, a, family == FR_CONN_V4 ? 4 : 16) == 0)
				return true;
	}
	return false;
}

uint8_t fr_portmap_direction_sp(const struct fr_portmap *pm, const struct fr_conn *c)
{
	uint8_t family = c->family ? FR_CONN_V6 : FR_CONN_V4;
	const uint8_t *d = c->daddr;

	if (family == FR_CONN_V6 && fr_addr_is_v4mapped(d)) {
		family = FR_CONN_V4;
		d += 12;
	}
	if (is_loopback(family, d) || is_host_addr(pm, c->netns, family, d))
		return FR_DIR_LOCAL;
	if (fr_portmap_is_listening_sp(pm, c->netns, c->type, c->sport))
		return FR_DIR_INCOMING;
	if (c->type == FR_CONN_UDP && !(c->flags & FR_CONN_F_UDP_CONNECTED))
		return FR_DIR_NONE;
	return FR_DIR_OUTGOING;
}

static bool is_unspecified(uint8_t family, const uint8_t *a)
{
	static const uint8_t zero[16];
	return memcmp(a, zero, family == FR_CONN_V4 ? 4 : 16) == 0;
}

bool fr_conn_is_intra_host(const struct fr_conn *c)
{
	uint8_t family = c->family ? FR_CONN_V6 : FR_CONN_V4;
	size_t alen = family == FR_CONN_V4 ? 4 : 16;
	bool dlo = is_loopback(family, c->daddr);

	/* an unconnected UDP socket bound to 0.0.0.0 / :: reports that as its source; sending to
	 * loopback, the kernel sources it from loopback */
	return memcmp(c->saddr, c->daddr, alen) == 0 || (dlo && is_loopback(family, c->saddr)) ||
	       (dlo && is_unspecified(family, c->saddr));
}

void fr_portmap_classify_sp(const struct fr_portmap *pm, struct fr_conn *c)
{
	c->direction = fr_portmap_direction_sp(pm, c);
	/* LOCAL means both ends are on this host: that is intra-host by definition */
	c->intra_host = (fr_conn_is_intra_host(c) || c->direction == FR_DIR_LOCAL) ? 1 : 0;
}

/* ---- batch intra-host ---- */

struct end {
	const uint8_t *addr;
	uint16_t port;
	uint8_t type, family;
};

static uint64_t end_hash(const struct end *e)
{
	uint64_t h = (uint64_t)e->port << 16 | (uint64_t)e->type << 8 | e->family, w[2] = { 0, 0 };
	memcpy(w, e->addr, e->family == FR_CONN_V4 ? 4 : 16);
	h ^= w[0] * 0x9e3779b97f4a7c15ull;
	h ^= w[1] * 0xc2b2ae3d27d4eb4full;
	h *= 0x165667b19e3779f9ull;
	return h ^ (h >> 32);
}

static bool end_eq(const struct end *a, const struct end *b)
{
	return a->port == b->port && a->type == b->type && a->family == b->family &&
	       memcmp(a->addr, b->addr, a->family == FR_CONN_V4 ? 4 : 16) == 0;
}

static void local_end(const struct fr_conn *c, struct end *e)
{
	e->family = c->family ? FR_CONN_V6 : FR_CONN_V4;
	e->addr = c->saddr;
	e->port = c->sport;
	e->type = c->type;
}

static void remote_end(const struct fr_conn *c, struct end *e)
{
	bool nat = c->flags & FR_CONN_F_NAT;
	e->family = c->family ? FR_CONN_V6 : FR_CONN_V4;
	/* after NAT the peer is the reply tuple's source */
	e->addr = nat ? c->nat.repl_saddr : c->daddr;
	e->port = nat ? c->nat.repl_sport : c->dport;
	e->type = c->type;
}

long fr_conns_mark_intra_host(struct fr_conn *conns, size_t n, void (*progress)(void *ctx), void *ctx)
{
	size_t cap = 16, mask;
	uint32_t *slot; /* index + 1; 0 = empty */
	long marked = 0;

	while (cap < n * 2)
		cap *= 2;
	slot = calloc(cap, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	mask = cap - 1;
	for (size_t i = 0; i < n; i++) {
		struct end e;
		if (progress)
			progress(ctx);
		local_end(&conns[i], &e);
		for (size_t s = end_hash(&e) & mask;; s = (s + 1) & mask) {
			if (!slot[s]) {
				slot[s] = (uint32_t)i + 1;
				break;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct end r, l;
		if (progress)
			progress(ctx);
		remote_end(&conns[i], &r);
		for (size_t s = end_hash(&r) & mask; slot[s]; s = (s + 1) & mask) {
			size_t j = slot[s] - 1;
			local_end(&conns[j], &l);
			if (j != i && end_eq(&r, &l)) {
				if (!conns[i].intra_host)
					marked++;
				conns[i].intra_host = 1;
				break;
			}
		}
	}
	free(slot);
	return marked;
}

uint64_t fr_portmap_malformed_mc(const struct fr_portmap *pm)
{
	return __atomic_load_n(&pm->malformed, __ATOMIC_RELAXED);
}

uint64_t fr_portmap_listening_mc(const struct fr_portmap *pm)
{
	return __atomic_load_n(&pm->listening, __ATOMIC_RELAXED);
}

void fr_portmap_to_telemetry(const struct fr_portmap *pm, uint64_t values[FR_TM__COUNT])
{
	values[FR_TM_PROC_LINES_MALFORMED] = fr_portmap_malformed_mc(pm);
	values[FR_TM_LISTEN_PORTS] = fr_portmap_listening_mc(pm);
}
