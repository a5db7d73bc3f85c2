/* Description: NAT table from conntrack - synthetic ctnetlink messages (NAT'd vs mirrored, both-way lookup, cap and
 * drops, destroy, conn_closed, tuple reuse); with --live (run by tests/nat_netns.sh inside a test netns with a DNAT
 * rule): initial dump, events, non-NAT'd connections skipped, and an overrun followed by a resync. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "nat.h"

struct tup {
	const char *src, *dst;
	uint16_t sport, dport;
};

static char msgbuf[8192];

static void set_dir(struct nf_conntrack *ct, int fam, uint8_t proto, const struct tup *t, bool repl)
{
	uint8_t a[16], b[16];

	assert_int_equal(inet_pton(fam, t->src, a), 1);
	assert_int_equal(inet_pton(fam, t->dst, b), 1);
	nfct_set_attr_u8(ct, repl ? ATTR_REPL_L3PROTO : ATTR_ORIG_L3PROTO, (uint8_t)fam);
	nfct_set_attr_u8(ct, repl ? ATTR_REPL_L4PROTO : ATTR_ORIG_L4PROTO, proto);
	if (fam == AF_INET) {
		uint32_t x, y;
		memcpy(&x, a, 4);
		memcpy(&y, b, 4);
		nfct_set_attr_u32(ct, repl ? ATTR_REPL_IPV4_SRC : ATTR_ORIG_IPV4_SRC, x);
		nfct_set_attr_u32(ct, repl ? ATTR_REPL_IPV4_DST : ATTR_ORIG_IPV4_DST, y);
	} else {
		nfct_set_attr(ct, repl ? ATTR_REPL_IPV6_SRC : ATTR_ORIG_IPV6_SRC, a);
		nfct_set_attr(ct, repl ? ATTR_REPL_IPV6_DST : ATTR_ORIG_IPV6_DST, b);
	}
	nfct_set_attr_u16(ct, repl ? ATTR_REPL_PORT_SRC : ATTR_ORIG_PORT_SRC, htons(t->sport));
	nfct_set_attr_u16(ct, repl ? ATTR_REPL_PORT_DST : ATTR_ORIG_PORT_DST, htons(t->dport));
}

/* A ctnetlink NEW/DELETE message as the kernel would send it, built by libnetfilter_conntrack. */
static const struct nlmsghdr *ct_msg(uint8_t type, int fam, uint8_t proto, struct tup o, struct tup r)
{
	struct nf_conntrack *ct = nfct_new();
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfh;

	assert_non_null(ct);
	set_dir(ct, fam, proto, &o, false);
	set_dir(ct, fam, proto, &r, true);
	nlh = mnl_nlmsg_put_header(msgbuf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
	nlh->nlmsg_flags = type == IPCTNL_MSG_CT_NEW ? NLM_F_CREATE | NLM_F_EXCL : 0;
	nfh = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfh));
	nfh->nfgen_family = (uint8_t)fam;
	nfh->version = NFNETLINK_V0;
	assert_int_equal(nfct_nlmsg_build(nlh, ct), 0);
	nfct_destroy(ct);
	return nlh;
}

static struct fr_conn conn_of(int fam, uint8_t type, struct tup t)
{
	struct fr_conn c;

	memset(&c, 0, sizeof(c));
	assert_int_equal(inet_pton(fam, t.src, c.saddr), 1);
	assert_int_equal(inet_pton(fam, t.dst, c.daddr), 1);
	c.sport = t.sport;
	c.dport = t.dport;
	c.type = type;
	c.family = fam == AF_INET ? FR_CONN_V4 : FR_CONN_V6;
	return c;
}

static void assert_nat(const struct fr_conn *c, int fam, struct tup want)
{
	uint8_t a[16] = {0}, b[16] = {0};

	assert_true(c->flags & FR_CONN_F_NAT);
	assert_int_equal(inet_pton(fam, want.src, a), 1);
	assert_int_equal(inet_pton(fam, want.dst, b), 1);
	assert_memory_equal(c->nat.repl_saddr, a, 16);
	assert_memory_equal(c->nat.repl_daddr, b, 16);
	assert_int_equal(c->nat.repl_sport, want.sport);
	assert_int_equal(c->nat.repl_dport, want.dport);
}

static struct fr_nat *nat_new_grace(uint32_t max, int grace_ms)
{
	struct fr_nat_opts o = {.max_entries = max, .no_netlink = 1, .destroy_grace_ms = grace_ms};
	struct fr_nat *n = fr_nat_open(&o);
	assert_non_null(n);
	assert_int_equal(fr_nat_fd(n), -1);
	return n;
}

/* Most tests want conntrack's DESTROY to take effect at once. */
static struct fr_nat *nat_new(uint32_t max)
{
	return nat_new_grace(max, -1);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* A client 10.0.0.1:40000 connects to the virtual 10.0.0.100:80, DNAT'd to 10.0.1.2:8080. */
static const struct tup dnat_o = {"10.0.0.1", "10.0.0.100", 40000, 80};
static const struct tup dnat_r = {"10.0.1.2", "10.0.0.1", 8080, 40000};

static void test_natd_entry_translates_both_directions(void **state)
{
	struct fr_nat *n = nat_new(0);
	(void)state;

	assert_int_equal(fr_nat_ingest_msg(n, ct_msg(IPCTNL_MSG_CT_NEW, AF_INET, IPPROTO_TCP, dnat_o, dnat_r)), 0);
	assert_int_equal(fr_nat_count(n), 1);
	struct fr_conn client = conn_of(AF_INET, FR_CONN_TCP, dnat_o);
	assert_int_equal(fr_nat_lookup(n, &client), 0);
	assert_nat(&client, AF_INET, dnat_r);
	/* the server side of the same connection matches the reply tuple and gets the original */
	struct fr_conn server = conn_of(AF_INET, FR_CONN_TCP, dnat_r);
	assert_int_equal(fr_nat_lookup(n, &server), 0);
	assert_nat(&server, AF_INET, dnat_o);
	assert_int_equal(fr_nat_counter(n, FR_TM_CONNTRACK_REGISTERS), 1);
	assert_int_equal(fr_nat_counter(n, FR_TM_CONNTRACK_TRANSLATED), 2);
	assert_int_equal(fr_nat_counter(n, FR_TM_CONNTRACK_ENTRIES), 1);
	assert_int_equal(fr_nat_counter(n, FR_TM_CONN_DROPPED), 0);
	/* a repeated NEW (update, or dump after event) changes nothing */
	assert_int_equal(fr_nat_ingest_msg(n, ct_msg(IPCTNL_MSG_CT_NEW, AF_INET, IPPROTO_TCP, dnat_o, dnat_r)), 0);
	assert_int_equal(fr_nat_count(n), 1);
	assert_int_equal(fr_nat_counter(n, FR_TM_CONNTRACK_REGISTERS), 1);
	fr_nat_close(n);
}

static void test_mirrored_entry_is_not_kept(void **state)
{
	struct fr_nat *n = nat_new(0);
	struct tup o = {"10.0.0.1", "10.0.0.2", 40000, 80}, r = {"10.0.0.2", "10.0.0.1", 80, 40000};
	(void)state;

	assert_int_equal(fr_nat_ingest_msg(n, ct_msg(IPCTNL_MSG_CT_NEW, AF_INET, IPPROTO_TCP, o, r)), 0);
	assert_int_equal(fr_nat_count(n), 0);
	struct fr_conn c = conn_of(AF_INET, FR_CONN_TCP, o);
	assert_int_equal(fr_nat_lookup(n, &c), -ENOENT);
	assert_false(c.flags & FR_CONN_F_NAT);
	assert_int_equal(fr_nat_counter(n, FR_TM_CONNTRACK_REGISTERS), 0);
	fr_nat_close(n);
}

static void test_protocol_is_part_of_the_tuple(void **state)
{
	struct fr_nat *n = nat_new(0);
	(void)state;

	assert_int_equal(fr_nat_ingest_msg(n, ct_msg(IPCTNL_MSG_CT_NEW, AF_INET, IPPROTO_UDP, dnat_o, dnat_r)), 0);
	struct fr_conn tcp = conn_of(AF_INET, FR_CONN_TCP, dnat_o);
	assert_int_equal(fr_nat_lookup(n, &tcp), -ENOENT);
	struct fr_conn udp = conn_of(AF_INET, FR_CONN_UDP, dnat_o);
	assert_int_equal(fr_nat_lookup(n, &udp), 0);
	assert_nat(&udp, AF_INET, dnat_r);
	fr_nat_close(n);
}

static void test_ipv6_snat_entry_translates(void **state)
{
	struct fr_nat *n = nat_new(0);
	struct tup o = {"fd00::1", "fd00:1::9", 5353, 53}, r = {"fd00:1::9", "fd00:1::1", 53, 61000};
	(void)state;

	assert_int_equal(fr_nat_ingest_msg(n, ct_msg(IPCTNL_MSG_CT_NEW, AF_INET6, IPPROTO_UDP, o, r)), 0);
	struct fr_conn c = conn_of(AF_INET6, FR_CONN_UDP, o);
	assert_int_equal(fr_nat_lookup(n, &c), 0);
	assert_nat(&c, AF_INET6, r);
	struct fr_conn v4 = conn_of(AF_INET, FR_CONN_UDP, dnat_o);
	assert_int_equal(fr_nat_lookup(n, &v4), -ENOENT);
	fr_nat_close(n);
}

static void test_destroy_event_removes_entry(void **state)
{
	struct fr_nat *n = nat_new(0);
	(void)state;

	fr_nat_ingest_msg(n, ct_msg(IPCTNL_MSG_CT_NEW, AF_INET, IPPROTO_TCP, dnat_o, dnat_r));
	assert_int_equal(fr_nat_count(n), 1);
	assert_int_equal(fr_nat_ingest_msg(n, ct_msg(IPCTNL_MSG_CT_DELETE, AF_INET, IPPROTO_TCP, dnat_o, dnat_r)), 0);
	assert_int_equal(fr_nat_count(n), 0);
	struct fr_conn c = conn_of(AF_INET, FR_CONN_TCP, dnat_r);
	assert_int_equal(fr_nat_lookup(n, &c), -ENOENT);
	/* a DESTROY for something we never held is harmless */
	assert_int_equal(fr_nat_ingest_msg(n, ct_msg(IPCTNL_MSG_CT_DELETE, AF_INET, IPPROTO_TCP, dnat_o, dnat_r)), 0);
	fr_nat_close(n);
}

static void test_destroyed_entry_still_translates_during_grace_then_goes(void **state)
{
	struct fr_nat *n = nat_new_grace(0, 100);
	(void)state;

	fr_nat_ingest_msg(n, ct_msg(IPCTNL_MSG_CT_NEW, AF_INET, IPPROTO_TCP, dnat_o, dnat_r));
	fr_nat_ingest_msg(n, ct_msg(IPCTNL_MSG_CT_DELETE, AF_INET, IPPROTO_TCP, dnat_o, dnat_r));
	/* the close record of a short connection often arrives after conntrack's DESTROY */
	struct fr_conn c = conn_of(AF_INET, FR_CONN_TCP, dnat_o);
	assert_int_equal(fr_nat_lookup(n, &c), 0);
	assert_nat(&c, AF_INET, dnat_r);
	assert_int_equal(fr_nat_count(n), 1);
	sleep_ms(150);
	struct fr_conn late = conn_of(AF_INET, FR_CONN_TCP, dnat_o);
	assert_int_equal(fr_nat_lookup(n, &late), -ENOENT);
	assert_int_equal(fr_nat_count(n), 0);

	/* conn_closed does not wait for the grace */
	fr_nat_ingest_msg(n, ct_msg(IPCTNL_MSG_CT_NEW, AF_INET, IPPROTO_TCP, dnat_o, dnat_r));
	fr_nat_ingest_msg(n, ct_msg(IPCTNL_MSG_CT_DELETE, AF_INET, IPPROTO_TCP, dnat_o, dnat_r));
	fr_nat_conn_closed(n, &c);
	assert_int_equal(fr_nat_count(n), 0);

	/* a NEW for the same tuples within the grace makes it live again: it outlives the grace */
	fr_nat_ingest_msg(n, ct_msg(IPCTNL_MSG_CT_NEW, AF_INET, IPPROTO_TCP, dnat_o, dnat_r));
	fr_nat_ingest_msg(n, ct_msg(IPCTNL_MSG_CT_DELETE, AF_INET, IPPROTO_TCP, dnat_o, dnat_r));
	fr_nat_ingest_msg(n, ct_msg(IPCTNL_MSG_CT_NEW, AF_INET, IPPROTO_TCP, dnat_o, dnat_r));
	sleep_ms(150);
	assert_int_equal(fr_nat_on_readable(n), 0); /* sweeps, even without a socket */
	struct fr_conn again = conn_of(AF_INET, FR_CONN_TCP, dnat_o);
	assert_int_equal(fr_nat_lookup(n, &again), 0);
	fr_nat_close(n);
}

static void test_conn_closed_removes_entry_from_either_side(void **state)
{
	struct fr_nat *n = nat_new(0);
	(void)state;

	fr_nat_ingest_msg(n, ct_msg(IPCTNL_MSG_CT_NEW, AF_INET, IPPROTO_TCP, dnat_o, dnat_r));
	struct fr_conn server = conn_of(AF_INET, FR_CONN_TCP, dnat_r);
	fr_nat_conn_closed(n, &server);
	assert_int_equal(fr_nat_count(n), 0);
	struct fr_conn client = conn_of(AF_INET, FR_CONN_TCP, dnat_o);
	assert_int_equal(fr_nat_lookup(n, &client), -ENOENT);
	fr_nat_ingest_msg(n, ct_msg(IPCTNL_MSG_CT_NEW, AF_INET, IPPROTO_TCP, dnat_o, dnat_r));
	fr_nat_conn_closed(n, &client);
	assert_int_equal(fr_nat_count(n), 0);
	assert_int_equal(fr_nat_lookup(n, &server), -ENOENT);
	fr_nat_close(n);
}

static void test_table_is_capped_and_drops_are_counted(void **state)
{
	struct fr_nat *n = nat_new(3);
	(void)state;

	for (uint16_t i = 0; i < 5; i++) {
		struct tup o = dnat_o, r = dnat_r;
		o.sport = r.dport = (uint16_t)(40000 + i);
		fr_nat_ingest_msg(n, ct_msg(IPCTNL_MSG_CT_NEW, AF_INET, IPPROTO_TCP, o, r));
	}
	assert_int_equal(fr_nat_count(n), 3);
	assert_int_equal(fr_nat_counter(n, FR_TM_CONNTRACK_REGISTERS), 3);
	assert_int_equal(fr_nat_counter(n, FR_TM_CONNTRACK_REGISTERS_DROPPED), 2);
	/* the dropped ones are really absent, the kept ones present */
	struct fr_conn c = conn_of(AF_INET, FR_CONN_TCP, dnat_o);
	c.sport = 40004;
	assert_int_equal(fr_nat_lookup(n, &c), -ENOENT);
	c.sport = 40002;
	assert_int_equal(fr_nat_lookup(n, &c), 0);
	/* room again after a destroy */
	fr_nat_ingest_msg(n, ct_msg(IPCTNL_MSG_CT_DELETE, AF_INET, IPPROTO_TCP, dnat_o, dnat_r));
	struct tup o = dnat_o, r = dnat_r;
	o.sport = r.dport = 40004;
	fr_nat_ingest_msg(n, ct_msg(IPCTNL_MSG_CT_NEW, AF_INET, IPPROTO_TCP, o, r));
	assert_int_equal(fr_nat_count(n), 3);
	c.sport = 40004;
	assert_int_equal(fr_nat_lookup(n, &c), 0);
	fr_nat_close(n);
}

static void test_reused_tuple_replaces_stale_translation(void **state)
{
	struct fr_nat *n = nat_new(0);
	struct tup r2 = {"10.0.1.3", "10.0.0.1", 9090, 40000};
	(void)state;

	fr_nat_ingest_msg(n, ct_msg(IPCTNL_MSG_CT_NEW, AF_INET, IPPROTO_TCP, dnat_o, dnat_r));
	/* the DESTROY was lost (overrun) and the same client tuple now goes to another backend */
	fr_nat_ingest_msg(n, ct_msg(IPCTNL_MSG_CT_NEW, AF_INET, IPPROTO_TCP, dnat_o, r2));
	assert_int_equal(fr_nat_count(n), 1);
	struct fr_conn c = conn_of(AF_INET, FR_CONN_TCP, dnat_o);
	assert_int_equal(fr_nat_lookup(n, &c), 0);
	assert_nat(&c, AF_INET, r2);
	struct fr_conn old = conn_of(AF_INET, FR_CONN_TCP, dnat_r);
	assert_int_equal(fr_nat_lookup(n, &old), -ENOENT);
	fr_nat_close(n);
}

static void test_foreign_and_malformed_messages_are_harmless(void **state)
{
	struct fr_nat *n = nat_new(0);
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfh;
	(void)state;

	/* another netfilter subsystem */
	nlh = mnl_nlmsg_put_header(msgbuf);
	nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | 1;
	mnl_nlmsg_put_extra_header(nlh, sizeof(*nfh));
	assert_int_equal(fr_nat_ingest_msg(n, nlh), 0);
	/* attributes libnetfilter_conntrack skips: one running past the message, and none at all */
	nlh = mnl_nlmsg_put_header(msgbuf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
	nfh = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfh));
	nfh->nfgen_family = AF_INET;
	assert_int_equal(fr_nat_ingest_msg(n, nlh), 0);
	struct nlattr *a = mnl_nlmsg_put_extra_header(nlh, 8);
	a->nla_type = CTA_TUPLE_ORIG | NLA_F_NESTED;
	a->nla_len = 200;
	assert_int_equal(fr_nat_ingest_msg(n, nlh), 0);
	/* (an attribute of the wrong size is not testable here: libnetfilter_conntrack 1.0.9 calls exit() on it,
	 * "ctnetlink kernel ABI is broken"; only the kernel and CAP_NET_ADMIN senders can reach our socket) */
	/* an ICMP entry: parsed, not TCP/UDP, ignored */
	struct nf_conntrack *ct = nfct_new();
	nfct_set_attr_u8(ct, ATTR_ORIG_L3PROTO, AF_INET);
	nfct_set_attr_u8(ct, ATTR_ORIG_L4PROTO, IPPROTO_ICMP);
	nfct_set_attr_u32(ct, ATTR_ORIG_IPV4_SRC, htonl(0x0a000001));
	nfct_set_attr_u32(ct, ATTR_ORIG_IPV4_DST, htonl(0x0a000002));
	nfct_set_attr_u8(ct, ATTR_REPL_L3PROTO, AF_INET);
	nfct_set_attr_u8(ct, ATTR_REPL_L4PROTO, IPPROTO_ICMP);
	nfct_set_attr_u32(ct, ATTR_REPL_IPV4_SRC, htonl(0x0a000003));
	nfct_set_attr_u32(ct, ATTR_REPL_IPV4_DST, htonl(0x0a000001));
	nlh = mnl_nlmsg_put_header(msgbuf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
	nfh = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfh));
	nfh->nfgen_family = AF_INET;
	assert_int_equal(nfct_nlmsg_build(nlh, ct), 0);
	nfct_destroy(ct);
	assert_int_equal(fr_nat_ingest_msg(n, nlh), 0);
	assert_int_equal(fr_nat_count(n), 0);
	fr_nat_close(n);
}

/* ---- live: inside the client namespace made by tests/nat_netns.sh ---- */
static const char *live_vip, *live_real;
static uint16_t live_vport, live_rport;

static int tcp_connect(const char *ip, uint16_t port, struct fr_conn *c)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)}, me;
	socklen_t len = sizeof(me);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fail_msg("connect %s:%u: %s", ip, port, strerror(errno));
	assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &len), 0);
	memset(c, 0, sizeof(*c));
	memcpy(c->saddr, &me.sin_addr, 4);
	memcpy(c->daddr, &sa.sin_addr, 4);
	c->sport = ntohs(me.sin_port);
	c->dport = port;
	c->type = FR_CONN_TCP;
	c->family = FR_CONN_V4;
	return fd;
}

/* Feed events until c translates or the deadline passes. */
static bool pump_until_found(struct fr_nat *n, struct fr_conn *c, int timeout_ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = {.fd = fr_nat_fd(n), .events = POLLIN};
		if (fr_nat_lookup(n, c) == 0)
			return true;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms)
			return false;
		if (poll(&p, 1, 50) > 0)
			assert_int_equal(fr_nat_on_readable(n), 0);
	}
}

static void assert_live_translation(const struct fr_conn *c)
{
	char want_dst[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, c->saddr, want_dst, sizeof(want_dst));
	assert_nat(c, AF_INET, (struct tup){live_real, want_dst, live_rport, c->sport});
}

static void test_live_dump_finds_connection_made_before_open(void **state)
{
	struct fr_nat_opts o = {0};
	struct fr_conn a;
	int fd = tcp_connect(live_vip, live_vport, &a);
	(void)state;

	struct fr_nat *n = fr_nat_open(&o);
	if (!n)
		fail_msg("fr_nat_open: %s", strerror(errno));
	assert_true(fr_nat_fd(n) >= 0);
	assert_int_equal(fr_nat_lookup(n, &a), 0); /* no event read yet: it came from the dump */
	assert_live_translation(&a);
	close(fd);
	fr_nat_close(n);
}

static void test_live_events_add_natd_and_skip_direct_connections(void **state)
{
	struct fr_nat_opts o = {0};
	struct fr_conn b, direct;
	(void)state;

	struct fr_nat *n = fr_nat_open(&o);
	assert_non_null(n);
	size_t before = fr_nat_count(n);
	int fd1 = tcp_connect(live_real, live_rport, &direct);
	int fd2 = tcp_connect(live_vip, live_vport, &b);
	assert_true(pump_until_found(n, &b, 5000));
	assert_live_translation(&b);
	/* events arrive in order: the direct connection's NEW came first and was not kept */
	assert_int_equal(fr_nat_lookup(n, &direct), -ENOENT);
	assert_int_equal(fr_nat_count(n), before + 1);
	fr_nat_conn_closed(n, &b);
	assert_int_equal(fr_nat_lookup(n, &b), -ENOENT);
	close(fd1);
	close(fd2);
	fr_nat_close(n);
}

/* Feed events until c no longer translates. */
static bool pump_until_gone(struct fr_nat *n, struct fr_conn *c, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 50) {
		struct fr_conn probe = *c;
		struct pollfd p = {.fd = fr_nat_fd(n), .events = POLLIN};
		if (fr_nat_lookup(n, &probe) == -ENOENT)
			return true;
		if (poll(&p, 1, 50) > 0)
			assert_int_equal(fr_nat_on_readable(n), 0);
	}
	return false;
}

static void test_live_conntrack_destroy_removes_entry_after_grace(void **state)
{
	struct fr_nat_opts o = {.destroy_grace_ms = 50};
	struct fr_conn b;
	char cmd[256];
	(void)state;

	struct fr_nat *n = fr_nat_open(&o);
	assert_non_null(n);
	close(tcp_connect(live_vip, live_vport, &b));
	assert_true(pump_until_found(n, &b, 5000));
	/* after the last packets (a packet of a live connection would re-create the conntrack entry) */
	sleep_ms(200);
	snprintf(cmd, sizeof(cmd), "conntrack -D -p tcp --orig-dst %s --orig-port-src %u --orig-port-dst %u >/dev/null 2>&1",
		 live_vip, b.sport, live_vport);
	assert_int_equal(system(cmd), 0);
	assert_true(pump_until_gone(n, &b, 5000));
	fr_nat_close(n);
}

static void test_live_closed_connection_translates_after_conntrack_destroy(void **state)
{
	struct fr_nat_opts o = {0}; /* the default grace */
	struct fr_conn b;
	char cmd[256];
	(void)state;

	struct fr_nat *n = fr_nat_open(&o);
	assert_non_null(n);
	close(tcp_connect(live_vip, live_vport, &b));
	assert_true(pump_until_found(n, &b, 5000));
	/* conntrack destroys the entry before the daemon ingests the close record */
	snprintf(cmd, sizeof(cmd), "conntrack -D -p tcp --orig-dst %s --orig-port-src %u --orig-port-dst %u >/dev/null 2>&1",
		 live_vip, b.sport, live_vport);
	assert_int_equal(system(cmd), 0);
	for (int i = 0; i < 6; i++) { /* let the DESTROY event arrive and be applied */
		struct pollfd p = {.fd = fr_nat_fd(n), .events = POLLIN};
		if (poll(&p, 1, 50) > 0)
			assert_int_equal(fr_nat_on_readable(n), 0);
	}
	struct fr_conn closed = b;
	closed.flags = 0;
	assert_int_equal(fr_nat_lookup(n, &closed), 0);
	assert_live_translation(&closed);
	fr_nat_conn_closed(n, &closed);
	assert_int_equal(fr_nat_lookup(n, &b), -ENOENT);
	fr_nat_close(n);
}

static void test_live_overrun_is_counted_and_resynced(void **state)
{
	struct fr_nat_opts o = {.rcvbuf = 1}; /* the kernel's minimum: a burst overruns it */
	struct fr_conn c, e;
	(void)state;

	struct fr_nat *n = fr_nat_open(&o);
	assert_non_null(n);
	for (int i = 0; i < 300; i++)
		close(tcp_connect(live_vip, live_vport, &c));
	int fd = tcp_connect(live_vip, live_vport, &e);
	assert_true(pump_until_found(n, &e, 10000));
	assert_live_translation(&e);
	assert_true(fr_nat_counter(n, FR_TM_CONNTRACK_OVERRUNS) >= 1);
	assert_true(fr_nat_counter(n, FR_TM_CONNTRACK_RESYNCS) >= 1);
	assert_int_equal(fr_nat_resync(n), 0);
	assert_int_equal(fr_nat_lookup(n, &e), 0);
	close(fd);
	fr_nat_close(n);
}

/* The server end, run in the other namespace: accept and close, forever (killed by the script). */
static int serve(const char *ip, uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || inet_pton(AF_INET, ip, &sa.sin_addr) != 1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1024) < 0) {
		perror("serve");
		return 1;
	}
	fprintf(stderr, "serving %s:%u\n", ip, port);
	for (;;) {
		int c = accept(fd, NULL, NULL);
		if (c >= 0)
			close(c);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_natd_entry_translates_both_directions),
		cmocka_unit_test(test_mirrored_entry_is_not_kept),
		cmocka_unit_test(test_protocol_is_part_of_the_tuple),
		cmocka_unit_test(test_ipv6_snat_entry_translates),
		cmocka_unit_test(test_destroy_event_removes_entry),
		cmocka_unit_test(test_destroyed_entry_still_translates_during_grace_then_goes),
		cmocka_unit_test(test_conn_closed_removes_entry_from_either_side),
		cmocka_unit_test(test_table_is_capped_and_drops_are_counted),
		cmocka_unit_test(test_reused_tuple_replaces_stale_translation),
		cmocka_unit_test(test_foreign_and_malformed_messages_are_harmless),
	};
	const struct CMUnitTest live[] = {
		cmocka_unit_test(test_live_dump_finds_connection_made_before_open),
		cmocka_unit_test(test_live_events_add_natd_and_skip_direct_connections),
		cmocka_unit_test(test_live_conntrack_destroy_removes_entry_after_grace),
		cmocka_unit_test(test_live_closed_connection_translates_after_conntrack_destroy),
		cmocka_unit_test(test_live_overrun_is_counted_and_resynced),
	};
	if (argc == 4 && strcmp(argv[1], "--serve") == 0)
		return serve(argv[2], (uint16_t)atoi(argv[3]));
	if (argc == 6 && strcmp(argv[1], "--live") == 0) {
		live_vip = argv[2];
		live_vport = (uint16_t)atoi(argv[3]);
		live_real = argv[4];
		live_rport = (uint16_t)atoi(argv[5]);
		return cmocka_run_group_tests(live, NULL, NULL);
	}
	if (argc != 1) {
		fprintf(stderr, "usage: test_nat [--serve IP PORT | --live VIP VPORT REAL RPORT]\n");
		return 2;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
