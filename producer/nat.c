/* nat.c - see nat.h. libmnl owns the sockets and the message walk, libnetfilter_conntrack parses each
 * message; we only keep the NAT'd tuples in two ck_hs indexes over one entry object. */
#include "nat.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ck_hs.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "log.h"

/* One direction of a connection, in the fr_conn encoding: addresses in 16 bytes (IPv4 in 0..3,
 * rest zero), ports in host order. Packed into 40 bytes so hashing and comparing is one memcmp. */
struct fr_nat_tuple {
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport;
	uint16_t dport;
	uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t family; /* FR_CONN_V4 or FR_CONN_V6 */
	uint8_t pad[2];
};
_Static_assert(sizeof(struct fr_nat_tuple) == 40, "tuple is hashed as raw bytes: no hidden padding");

struct fr_nat_entry {
	struct fr_nat_tuple orig; /* the key in by_orig */
	struct fr_nat_tuple repl; /* the key in by_repl (an interior pointer) */
	uint64_t gen;             /* resync generation that last saw it */
	uint64_t dead_at_ns;      /* 0: live; else retired, removed at this CLOCK_MONOTONIC time */
	struct fr_nat_entry *dprev, *dnext; /* retired FIFO (deadlines are in insertion order) */
};

struct fr_nat {
	struct mnl_socket *ev;   /* event groups, non-blocking */
	struct mnl_socket *dump; /* table dumps, blocking with a receive timeout */
	uint32_t dump_seq;
	ck_hs_t by_orig, by_repl;
	struct fr_nat_opts opts;
	uint64_t gen;
	struct fr_nat_entry *dhead, *dtail;
	uint64_t n_registers, n_dropped, n_overruns, n_resyncs, n_translated;
};

static void *fr_nat_malloc(size_t n)
{
	return malloc(n);
}

static void *fr_nat_realloc(void *p, size_t old, size_t n, bool defer)
{
	(void)old;
	(void)defer;
	return realloc(p, n);
}

/* Immediate free: all readers are on the writer's thread (see nat.h). */
static void fr_nat_free(void *p, size_t n, bool defer)
{
	(void)n;
	(void)defer;
	free(p);
}

static struct ck_malloc fr_nat_allocator = {
	.malloc = fr_nat_malloc,
	.realloc = fr_nat_realloc,
	.free = fr_nat_free,
};

static unsigned long fr_nat_hash(const void *key, unsigned long seed)
{
	/* FNV-1a over the packed tuple, seeded: cheap and well mixed for 40 bytes */
	const uint8_t *p = key;
	uint64_t h = 0xcbf29ce484222325ull ^ seed;

	for (size_t i = 0; i < sizeof(struct fr_nat_tuple); i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return (unsigned long)(h ^ (h >> 29));
}

static bool fr_nat_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct fr_nat_tuple)) == 0;
}

static struct fr_nat_entry *fr_nat_entry_of_repl(const struct fr_nat_tuple *t)
{
	return (struct fr_nat_entry *)((const char *)t - offsetof(struct fr_nat_entry, repl));
}

static unsigned long fr_nat_h(ck_hs_t *hs, const struct fr_nat_tuple *t)
{
	return CK_HS_HASH(hs, fr_nat_hash, t);
}

static uint64_t fr_nat_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void fr_nat_unretire(struct fr_nat *n, struct fr_nat_entry *e)
{
	if (!e->dead_at_ns)
		return;
	*(e->dprev ? &e->dprev->dnext : &n->dhead) = e->dnext;
	*(e->dnext ? &e->dnext->dprev : &n->dtail) = e->dprev;
	e->dprev = e->dnext = NULL;
	e->dead_at_ns = 0;
}

static void fr_nat_remove(struct fr_nat *n, struct fr_nat_entry *e)
{
	fr_nat_unretire(n, e);
	ck_hs_remove(&n->by_orig, fr_nat_h(&n->by_orig, &e->orig), &e->orig);
	ck_hs_remove(&n->by_repl, fr_nat_h(&n->by_repl, &e->repl), &e->repl);
	free(e);
}

/* Conntrack is done with e: keep it for the grace period (see nat.h), then let fr_nat_sweep drop it. */
static void fr_nat_retire(struct fr_nat *n, struct fr_nat_entry *e)
{
	if (n->opts.destroy_grace_ms < 0) {
		fr_nat_remove(n, e);
		return;
	}
	if (e->dead_at_ns)
		return;
	e->dead_at_ns = fr_nat_now_ns() + (uint64_t)n->opts.destroy_grace_ms * 1000000ull;
	e->dprev = n->dtail;
	e->dnext = NULL;
	*(n->dtail ? &n->dtail->dnext : &n->dhead) = e;
	n->dtail = e;
}

static void fr_nat_sweep(struct fr_nat *n)
{
	uint64_t now;

	if (!n->dhead)
		return;
	now = fr_nat_now_ns();
	while (n->dhead && n->dhead->dead_at_ns <= now)
		fr_nat_remove(n, n->dhead);
}

/* Read one direction from a parsed conntrack object. false if not TCP/UDP over IPv4/IPv6. */
static bool fr_nat_get_tuple(const struct nf_conntrack *ct, bool repl, struct fr_nat_tuple *t)
{
	uint8_t l3 = nfct_get_attr_u8(ct, repl ? ATTR_REPL_L3PROTO : ATTR_ORIG_L3PROTO);
	uint8_t l4 = nfct_get_attr_u8(ct, repl ? ATTR_REPL_L4PROTO : ATTR_ORIG_L4PROTO);

	memset(t, 0, sizeof(*t));
	if (l4 != IPPROTO_TCP && l4 != IPPROTO_UDP)
		return false;
	if (!nfct_attr_is_set(ct, repl ? ATTR_REPL_PORT_SRC : ATTR_ORIG_PORT_SRC) ||
	    !nfct_attr_is_set(ct, repl ? ATTR_REPL_PORT_DST : ATTR_ORIG_PORT_DST))
		return false;
	if (l3 == AF_INET) {
		uint32_t s = nfct_get_attr_u32(ct, repl ? ATTR_REPL_IPV4_SRC : ATTR_ORIG_IPV4_SRC);
		uint32_t d = nfct_get_attr_u32(ct, repl ? ATTR_REPL_IPV4_DST : ATTR_ORIG_IPV4_DST);
		memcpy(t->src, &s, 4);
		memcpy(t->dst, &d, 4);
		t->family = FR_CONN_V4;
	} else if (l3 == AF_INET6) {
		const void *s = nfct_get_attr(ct, repl ? ATTR_REPL_IPV6_SRC : ATTR_ORIG_IPV6_SRC);
		const void *d = nfct_get_attr(ct, repl ? ATTR_REPL_IPV6_DST : ATTR_ORIG_IPV6_DST);
		if (!s || !d)
			return false;
		memcpy(t->src, s, 16);
		memcpy(t->dst, d, 16);
		t->family = FR_CONN_V6;
	} else {
		return false;
	}
	t->sport = ntohs(nfct_get_attr_u16(ct, repl ? ATTR_REPL_PORT_SRC : ATTR_ORIG_PORT_SRC));
	t->dport = ntohs(nfct_get_attr_u16(ct, repl ? ATTR_REPL_PORT_DST : ATTR_ORIG_PORT_DST));
	t->proto = l4;
	return true;
}

static bool fr_nat_is_mirror(const struct fr_nat_tuple *o, const struct fr_nat_tuple *r)
{
	return !memcmp(o->src, r->dst, 16) && !memcmp(o->dst, r->src, 16) && o->sport == r->dport &&
	       o->dport == r->sport;
}

static void fr_nat_add(struct fr_nat *n, const struct fr_nat_tuple *o, const struct fr_nat_tuple *r)
{
	struct fr_nat_tuple *ro;
	struct fr_nat_entry *e = ck_hs_get(&n->by_orig, fr_nat_h(&n->by_orig, o), o);

	if (e) {
		if (!memcmp(&e->repl, r, sizeof(*r))) {
			e->gen = n->gen;
			fr_nat_unretire(n, e); /* conntrack has it (again): live */
			return;
		}
		fr_nat_remove(n, e); /* the tuple was reused and we missed the DESTROY */
	}
	/* a stale entry holding this reply tuple under another original goes too */
	ro = ck_hs_get(&n->by_repl, fr_nat_h(&n->by_repl, r), r);
	if (ro)
		fr_nat_remove(n, fr_nat_entry_of_repl(ro));
	if (ck_hs_count(&n->by_orig) >= n->opts.max_entries) {
		n->n_dropped++;
		return;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		n->n_dropped++;
		return;
	}
	e->orig = *o;
	e->repl = *r;
	e->gen = n->gen;
	if (!ck_hs_put(&n->by_orig, fr_nat_h(&n->by_orig, &e->orig), &e->orig)) {
		free(e);
		n->n_dropped++;
		return;
	}
	if (!ck_hs_put(&n->by_repl, fr_nat_h(&n->by_repl, &e->repl), &e->repl)) {
		ck_hs_remove(&n->by_orig, fr_nat_h(&n->by_orig, &e->orig), &e->orig);
		free(e);
		n->n_dropped++;
		return;
	}
	n->n_registers++;
}

int fr_nat_ingest_msg(struct fr_nat *n, const struct nlmsghdr *nlh)
{
	struct fr_nat_tuple o, r;
	struct fr_nat_entry *e;
	struct nf_conntrack *ct;
	bool ok;
	uint8_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_CTNETLINK ||
	    (type != IPCTNL_MSG_CT_NEW && type != IPCTNL_MSG_CT_DELETE))
		return 0;
	/* a fresh object per message: parsing does not clear attributes a previous message set */
	ct = nfct_new();
	if (!ct)
		return -ENOMEM;
	if (nfct_nlmsg_parse(nlh, ct) < 0) {
		nfct_destroy(ct);
		return -EBADMSG;
	}
	ok = fr_nat_get_tuple(ct, false, &o) && fr_nat_get_tuple(ct, true, &r);
	nfct_destroy(ct);
	if (!ok)
		return 0;
	fr_nat_sweep(n);
	if (type == IPCTNL_MSG_CT_DELETE) {
		e = ck_hs_get(&n->by_orig, fr_nat_h(&n->by_orig, &o), &o);
		if (e)
			fr_nat_retire(n, e);
		return 0;
	}
	if (!fr_nat_is_mirror(&o, &r))
		fr_nat_add(n, &o, &r);
	return 0;
}

static int fr_nat_mnl_cb(const struct nlmsghdr *nlh, void *data)
{
	if (fr_nat_ingest_msg(data, nlh) < 0)
		fr_dbg("nat: unparsable conntrack message type 0x%x skipped", nlh->nlmsg_type);
	return MNL_CB_OK;
}

/* Dump the whole table (both families) through the callback; entries seen get the current gen. */
static int fr_nat_dump(struct fr_nat *n)
{
	char buf[32768]; /* libmnl >= 1.0.5's MNL_SOCKET_DUMP_SIZE: the kernel sizes dump batches to it */
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfh;
	unsigned portid = mnl_socket_get_portid(n->dump);
	int rc;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++n->dump_seq;
	nfh = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfh));
	nfh->nfgen_family = AF_UNSPEC;
	nfh->version = NFNETLINK_V0;
	nfh->res_id = 0;
	if (mnl_socket_sendto(n->dump, nlh, nlh->nlmsg_len) < 0) {
		rc = -errno;
		fr_err("nat: conntrack dump request: %s", strerror(errno));
		return rc;
	}
	for (;;) {
		ssize_t len = mnl_socket_recvfrom(n->dump, buf, sizeof(buf));
		if (len < 0) {
			rc = errno == EAGAIN ? -ETIMEDOUT : -errno;
			fr_err("nat: conntrack dump: %s", strerror(-rc));
			return rc;
		}
		rc = mnl_cb_run(buf, (size_t)len, n->dump_seq, portid, fr_nat_mnl_cb, n);
		if (rc == MNL_CB_STOP)
			return 0;
		if (rc < 0) {
			rc = -errno;
			fr_err("nat: conntrack dump: %s", strerror(errno));
			return rc;
		}
	}
}

int fr_nat_resync(struct fr_nat *n)
{
	ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
	struct fr_nat_entry **stale = NULL;
	size_t nstale = 0, cap = 0;
	void *p;
	int rc;

	if (!n->dump)
		return -ENOTCONN;
	n->gen++;
	rc = fr_nat_dump(n);
	if (rc)
		return rc;
	/* changing the lists while iterating a ck_hs is fine, removing is not: collect first */
	while (ck_hs_next(&n->by_orig, &it, &p)) {
		struct fr_nat_entry *e = p;
		if (e->gen == n->gen || e->dead_at_ns)
			continue;
		if (nstale == cap) {
			struct fr_nat_entry **s = realloc(stale, (cap = cap ? 2 * cap : 64) * sizeof(*s));
			if (!s) {
				free(stale);
				return -ENOMEM;
			}
			stale = s;
		}
		stale[nstale++] = e;
	}
	for (size_t i = 0; i < nstale; i++)
		fr_nat_retire(n, stale[i]);
	free(stale);
	fr_nat_sweep(n);
	ck_hs_gc(&n->by_orig, 0, 0);
	ck_hs_gc(&n->by_repl, 0, 0);
	n->n_resyncs++;
	fr_dbg("nat: resync retired %zu stale entries, %lu held", nstale, ck_hs_count(&n->by_orig));
	return 0;
}

int fr_nat_on_readable(struct fr_nat *n)
{
	char buf[16384]; /* fixed: libmnl 1.0.4 makes MNL_SOCKET_BUFFER_SIZE a run-time value */

	fr_nat_sweep(n);
	if (!n->ev)
		return 0;
	for (;;) {
		ssize_t len = mnl_socket_recvfrom(n->ev, buf, sizeof(buf));
		if (len < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return 0;
			if (errno == ENOBUFS || errno == ENOSPC) {
				/* events were lost (overrun, or a datagram larger than our buffer: libmnl says
				 * ENOSPC): what we hold may be stale or incomplete */
				n->n_overruns++;
				fr_warn("nat: conntrack event overrun (ENOBUFS): resyncing");
				int rc = fr_nat_resync(n);
				if (rc)
					return rc;
				continue;
			}
			return -errno;
		}
		/* events: seq 0, portid 0 (from the kernel) */
		if (mnl_cb_run(buf, (size_t)len, 0, 0, fr_nat_mnl_cb, n) < 0)
			fr_dbg("nat: bad event batch: %s", strerror(errno));
	}
}

static void fr_nat_conn_tuple(const struct fr_conn *c, struct fr_nat_tuple *t)
{
	memset(t, 0, sizeof(*t));
	memcpy(t->src, c->saddr, 16);
	memcpy(t->dst, c->daddr, 16);
	t->sport = c->sport;
	t->dport = c->dport;
	t->proto = c->type == FR_CONN_UDP ? IPPROTO_UDP : IPPROTO_TCP;
	t->family = c->family;
}

int fr_nat_lookup(struct fr_nat *n, struct fr_conn *c)
{
	struct fr_nat_tuple t, *r;
	const struct fr_nat_tuple *tr;
	struct fr_nat_entry *e;

	fr_nat_sweep(n);
	fr_nat_conn_tuple(c, &t);
	e = ck_hs_get(&n->by_orig, fr_nat_h(&n->by_orig, &t), &t);
	if (e) {
		tr = &e->repl;
	} else {
		r = ck_hs_get(&n->by_repl, fr_nat_h(&n->by_repl, &t), &t);
		if (!r)
			return -ENOENT;
		tr = &fr_nat_entry_of_repl(r)->orig;
	}
	memcpy(c->nat.repl_saddr, tr->src, 16);
	memcpy(c->nat.repl_daddr, tr->dst, 16);
	c->nat.repl_sport = tr->sport;
	c->nat.repl_dport = tr->dport;
	c->nat.resv = 0;
	c->flags |= FR_CONN_F_NAT;
	n->n_translated++;
	return 0;
}

void fr_nat_conn_closed(struct fr_nat *n, const struct fr_conn *c)
{
	struct fr_nat_tuple t, *r;
	struct fr_nat_entry *e;

	fr_nat_conn_tuple(c, &t);
	e = ck_hs_get(&n->by_orig, fr_nat_h(&n->by_orig, &t), &t);
	if (!e) {
		r = ck_hs_get(&n->by_repl, fr_nat_h(&n->by_repl, &t), &t);
		e = r ? fr_nat_entry_of_repl(r) : NULL;
	}
	if (e)
		fr_nat_remove(n, e);
}

size_t fr_nat_count(const struct fr_nat *n)
{
	return ck_hs_count((ck_hs_t *)&n->by_orig);
}

uint64_t fr_nat_counter(const struct fr_nat *n, enum fr_telemetry_id id)
{
	switch (id) {
	case FR_TM_CONNTRACK_REGISTERS:
		return n->n_registers;
	case FR_TM_CONNTRACK_REGISTERS_DROPPED:
		return n->n_dropped;
	case FR_TM_CONNTRACK_ENTRIES:
		return fr_nat_count(n);
	case FR_TM_CONNTRACK_OVERRUNS:
		return n->n_overruns;
	case FR_TM_CONNTRACK_RESYNCS:
		return n->n_resyncs;
	case FR_TM_CONNTRACK_TRANSLATED:
		return n->n_translated;
	default:
		return 0;
	}
}

static int fr_nat_open_sockets(struct fr_nat *n)
{
	struct timeval tv = {.tv_sec = n->opts.dump_timeout_ms / 1000,
			     .tv_usec = (n->opts.dump_timeout_ms % 1000) * 1000};
	int fd, sz = (int)n->opts.rcvbuf;

	n->ev = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	n->dump = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!n->ev || !n->dump)
		return -errno;
	/* the event socket first: events that race the dump queue up and are applied after it */
	if (mnl_socket_bind(n->ev, NF_NETLINK_CONNTRACK_NEW | NF_NETLINK_CONNTRACK_DESTROY, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	fd = mnl_socket_get_fd(n->ev);
	/* a bigger buffer makes overruns rarer; FORCE needs CAP_NET_ADMIN, which we need anyway */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (mnl_socket_bind(n->dump, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	if (setsockopt(mnl_socket_get_fd(n->dump), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	n->dump_seq = (uint32_t)time(NULL);
	return fr_nat_dump(n);
}

struct fr_nat *fr_nat_open(const struct fr_nat_opts *opts)
{
	struct fr_nat *n = calloc(1, sizeof(*n));
	int rc = -ENOMEM;

	if (!n)
		return NULL;
	n->opts = *opts;
	if (!n->opts.max_entries)
		n->opts.max_entries = FR_NAT_DEFAULT_MAX;
	if (!n->opts.rcvbuf)
		n->opts.rcvbuf = 8u << 20;
	if (n->opts.dump_timeout_ms <= 0)
		n->opts.dump_timeout_ms = 5000;
	if (n->opts.destroy_grace_ms == 0)
		n->opts.destroy_grace_ms = FR_NAT_DEFAULT_GRACE_MS;
	if (!ck_hs_init(&n->by_orig, CK_HS_MODE_SPMC | CK_HS_MODE_OBJECT | CK_HS_MODE_DELETE, fr_nat_hash, fr_nat_cmp,
			&fr_nat_allocator, 1024, 0x9e3779b9ul))
		goto cleanup;
	if (!ck_hs_init(&n->by_repl, CK_HS_MODE_SPMC | CK_HS_MODE_OBJECT | CK_HS_MODE_DELETE, fr_nat_hash, fr_nat_cmp,
			&fr_nat_allocator, 1024, 0x85ebca6bul))
		goto cleanup_orig;
	if (!n->opts.no_netlink) {
		rc = fr_nat_open_sockets(n);
		if (rc) {
			fr_err("nat: conntrack netlink: %s%s", strerror(-rc),
			       rc == -EPERM ? " (needs CAP_NET_ADMIN)" : "");
			fr_nat_close(n);
			errno = -rc;
			return NULL;
		}
	}
	return n;
cleanup_orig:
	ck_hs_destroy(&n->by_orig);
cleanup:
	free(n);
	errno = -rc;
	return NULL;
}

int fr_nat_fd(const struct fr_nat *n)
{
	return n->ev ? mnl_socket_get_fd(n->ev) : -1;
}

void fr_nat_close(struct fr_nat *n)
{
	ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
	void *p;

	if (!n)
		return;
	/* both indexes point into the same entries: free them once, through by_orig */
	while (ck_hs_next(&n->by_orig, &it, &p))
		free(p);
	ck_hs_destroy(&n->by_orig);
	ck_hs_destroy(&n->by_repl);
	if (n->ev)
		mnl_socket_close(n->ev);
	if (n->dump)
		mnl_socket_close(n->dump);
	free(n);
}
