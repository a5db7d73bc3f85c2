/* Description: the BPF tracer reports real TCP/UDP connections exactly (bytes, packets, pids, ports,
 * addresses, netns, RTT, retransmits, failed connects, seeding, active view, UDP idle expiry). Needs root. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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

#include "test_tracer_util.h"


static uint64_t fr_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void fr_check_loopback(const struct fr_conn *c, int family)
{
	uint8_t v4[16] = { 127, 0, 0, 1 }, v6[16] = { 0 };

	v6[15] = 1;
	assert_int_equal(c->family, family == AF_INET ? FR_CONN_V4 : FR_CONN_V6);
	assert_memory_equal(c->saddr, family == AF_INET ? v4 : v6, 16);
	assert_memory_equal(c->daddr, family == AF_INET ? v4 : v6, 16);
}

static void fr_check_tcp_pair(struct fr_tcp_run *r, uint32_t cli_ns, uint32_t srv_ns, bool loopback)
{
	/* 15 s: under the retransmit test's 10 % loss a lost FIN is resent with a growing RTO */
	const struct fr_conn *c = fr_col_wait(g_t, &g_col, FR_CONN_TCP, r->cport, r->sport, 15000);
	const struct fr_conn *s = fr_col_wait(g_t, &g_col, FR_CONN_TCP, r->sport, r->cport, 15000);

	assert_non_null(c);
	assert_non_null(s);
	/* client side */
	assert_int_equal(c->pid, r->client_pid);
	assert_int_equal(c->monotonic_sent_bytes, r->c2s);
	assert_int_equal(c->monotonic_recv_bytes, r->s2c);
	assert_int_equal(c->netns, cli_ns);
	assert_true(c->rtt_us > 0);
	assert_true(c->flags & FR_CONN_F_CLOSED);
	assert_false(c->flags & (FR_CONN_F_LISTENER_SIDE | FR_CONN_F_FAILED_CONNECT | FR_CONN_F_SEEDED));
	assert_true(c->start_ns > 0 && c->end_ns >= c->start_ns);
	assert_int_equal(c->direction, FR_DIR_UNKNOWN);
	assert_true(c->monotonic_sent_packets > 0 && c->monotonic_recv_packets > 0);
	/* server side: the accepting process's pid although the kernel may close it elsewhere */
	assert_int_equal(s->pid, r->server_pid);
	assert_int_equal(s->monotonic_sent_bytes, r->s2c);
	assert_int_equal(s->monotonic_recv_bytes, r->c2s);
	assert_int_equal(s->netns, srv_ns);
	assert_true(s->rtt_us > 0);
	assert_true(s->flags & FR_CONN_F_LISTENER_SIDE);
	assert_false(s->flags & FR_CONN_F_FAILED_CONNECT);
	assert_int_not_equal(c->cookie, s->cookie);
	if (loopback) {
		fr_check_loopback(c, r->family);
		fr_check_loopback(s, r->family);
	}
}

static void test_tcp_v4_server_closes_first_reports_exact_bytes_ports_and_each_pid(void **state)
{
	struct fr_tcp_run r = { .family = AF_INET, .c2s = 12345, .s2c = 54321, .server_closes_first = true };

	(void)state;
	assert_int_equal(fr_tcp_run(&r), 0);
	fr_check_tcp_pair(&r, g_netns, g_netns, true);
}

static void test_tcp_v4_client_closes_first_reports_exact_bytes_ports_and_each_pid(void **state)
{
	struct fr_tcp_run r = { .family = AF_INET, .c2s = 1, .s2c = 300000, .server_closes_first = false };

	(void)state;
	assert_int_equal(fr_tcp_run(&r), 0);
	fr_check_tcp_pair(&r, g_netns, g_netns, true);
}

static void test_tcp_v6_server_closes_first_reports_exact_bytes_ports_and_each_pid(void **state)
{
	struct fr_tcp_run r = { .family = AF_INET6, .c2s = 777, .s2c = 3, .server_closes_first = true };

	(void)state;
	assert_int_equal(fr_tcp_run(&r), 0);
	fr_check_tcp_pair(&r, g_netns, g_netns, true);
}

static void test_tcp_v6_client_closes_first_reports_exact_bytes_ports_and_each_pid(void **state)
{
	struct fr_tcp_run r = { .family = AF_INET6, .c2s = 100000, .s2c = 99, .server_closes_first = false };

	(void)state;
	assert_int_equal(fr_tcp_run(&r), 0);
	fr_check_tcp_pair(&r, g_netns, g_netns, true);
}

static void fr_udp_case(int family, bool connected)
{
	struct fr_udp_run r = { .family = family, .connected = connected, .n_req = 7, .n_rep = 5 };
	const struct fr_conn *c, *s;

	assert_int_equal(fr_udp_run(&r), 0);
	c = fr_col_wait(g_t, &g_col, FR_CONN_UDP, r.cport, r.sport, 5000);
	s = fr_col_wait(g_t, &g_col, FR_CONN_UDP, r.sport, r.cport, 5000);
	assert_non_null(c);
	assert_non_null(s);
	assert_int_equal(c->pid, r.client_pid);
	assert_int_equal(c->monotonic_sent_bytes, r.req_bytes);
	assert_int_equal(c->monotonic_sent_packets, r.n_req);
	assert_int_equal(c->monotonic_recv_bytes, r.rep_bytes);
	assert_int_equal(c->monotonic_recv_packets, r.n_rep);
	assert_int_equal(s->pid, r.server_pid);
	assert_int_equal(s->monotonic_sent_bytes, r.rep_bytes);
	assert_int_equal(s->monotonic_sent_packets, r.n_rep);
	assert_int_equal(s->monotonic_recv_bytes, r.req_bytes);
	assert_int_equal(s->monotonic_recv_packets, r.n_req);
	for (int i = 0; i < 2; i++) {
		const struct fr_conn *x = i ? s : c;

		assert_int_equal(x->family, family == AF_INET ? FR_CONN_V4 : FR_CONN_V6);
		assert_int_equal(x->netns, g_netns);
		/* closed by close(), not by the idle timeout */
		assert_true(x->flags & FR_CONN_F_CLOSED);
		assert_false(x->flags & FR_CONN_F_IDLE_CLOSED);
		assert_true(x->end_ns >= x->start_ns && x->start_ns > 0);
	}
	if (connected)
		assert_true(c->flags & FR_CONN_F_UDP_CONNECTED);
}

static void test_udp_v4_connected_reports_exact_bytes_packets_pid_on_close(void **state)
{
	(void)state;
	fr_udp_case(AF_INET, true);
}

static void test_udp_v4_unconnected_reports_exact_bytes_packets_pid_on_close(void **state)
{
	(void)state;
	fr_udp_case(AF_INET, false);
}

static void test_udp_v6_connected_reports_exact_bytes_packets_pid_on_close(void **state)
{
	(void)state;
	fr_udp_case(AF_INET6, true);
}

static void test_udp_v6_unconnected_reports_exact_bytes_packets_pid_on_close(void **state)
{
	(void)state;
	fr_udp_case(AF_INET6, false);
}

/* An unbound socket sends with sendto() to a receiver bound to the wildcard address, which replies
 * with sendto(): both flows carry the loopback address the route chose, not 0.0.0.0 / ::. */
static void fr_udp_wildcard_case(int family, const char *dst)
{
	struct sockaddr_storage rs = { 0 }, ds = { 0 }, from;
	socklen_t rlen = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6), flen;
	int r = socket(family, SOCK_DGRAM, 0), s = socket(family, SOCK_DGRAM, 0);
	uint16_t rport, sport;
	const struct fr_conn *c, *x;
	char buf[64] = { 0 };

	rs.ss_family = family;
	assert_int_equal(bind(r, (struct sockaddr *)&rs, rlen), 0); /* 0.0.0.0 / :: */
	assert_int_equal(getsockname(r, (struct sockaddr *)&rs, &rlen), 0);
	rport = ntohs(family == AF_INET ? ((struct sockaddr_in *)&rs)->sin_port : ((struct sockaddr_in6 *)&rs)->sin6_port);
	ds.ss_family = family;
	if (family == AF_INET) {
		((struct sockaddr_in *)&ds)->sin_port = htons(rport);
		assert_int_equal(inet_pton(AF_INET, dst, &((struct sockaddr_in *)&ds)->sin_addr), 1);
	} else {
		((struct sockaddr_in6 *)&ds)->sin6_port = htons(rport);
		assert_int_equal(inet_pton(AF_INET6, dst, &((struct sockaddr_in6 *)&ds)->sin6_addr), 1);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(sendto(s, buf, 20, 0, (struct sockaddr *)&ds, rlen), 20);
	flen = sizeof(from);
	assert_int_equal(recvfrom(r, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen), 20);
	assert_int_equal(sendto(r, buf, 7, 0, (struct sockaddr *)&from, flen), 7);
	sport = ntohs(((struct sockaddr_in *)&from)->sin_port); /* same offset in sockaddr_in6 */
	close(s);
	close(r);
	c = fr_col_wait(g_t, &g_col, FR_CONN_UDP, sport, rport, 5000);
	x = fr_col_wait(g_t, &g_col, FR_CONN_UDP, rport, sport, 5000);
	assert_non_null(c);
	assert_non_null(x);
	assert_int_equal(c->monotonic_sent_bytes, 40);
	assert_int_equal(x->monotonic_sent_bytes, 7);
	/* a v4-mapped destination on a v6 socket is an IPv4 flow */
	fr_check_loopback(c, strchr(dst, '.') ? AF_INET : family);
	fr_check_loopback(x, strchr(dst, '.') ? AF_INET : family);
}

static void test_udp_v4_unbound_sendto_reports_the_routed_source_address(void **state)
{
	(void)state;
	fr_udp_wildcard_case(AF_INET, "127.0.0.1");
}

static void test_udp_v6_unbound_sendto_reports_the_routed_source_address(void **state)
{
	(void)state;
	fr_udp_wildcard_case(AF_INET6, "::1");
	fr_udp_wildcard_case(AF_INET6, "::ffff:127.0.0.1");
}

static uint16_t fr_unused_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd); /* bound, never listened: connecting to it is refused */
	return port;
}

static void test_failed_connect_is_flagged_and_not_reported_as_a_connection(void **state)
{
	uint16_t port = fr_unused_port();
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), found = 0;

	(void)state;
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), -1);
	assert_int_equal(errno, ECONNREFUSED);
	close(fd);
	for (int tries = 0; tries < 100 && !found; tries++) {
		fr_tracer_poll(g_t, 20);
		for (size_t i = 0; i < g_col.n; i++) {
			const struct fr_conn *c = &g_col.v[i];

			if (c->type != FR_CONN_TCP || c->dport != port || c->pid != (uint32_t)getpid())
				continue;
			assert_true(c->flags & FR_CONN_F_FAILED_CONNECT);
			assert_int_equal(c->monotonic_sent_bytes, 0);
			assert_int_equal(c->monotonic_recv_bytes, 0);
			found++;
		}
	}
	assert_int_equal(found, 1);
}

static void test_netns_connection_carries_inode_and_counts_retransmits_under_loss(void **state)
{
	char a[32], b[32], va[16], vb[16];
	int pid = getpid();
	struct fr_tcp_run r = { .family = AF_INET, .c2s = 2000000, .s2c = 1000, .server_closes_first = true,
				.server_addr = "10.77.0.2" };

	(void)state;
	snprintf(a, sizeof(a), "frbpf%da", pid);
	snprintf(b, sizeof(b), "frbpf%db", pid);
	snprintf(va, sizeof(va), "frb%da", pid % 1000000);
	snprintf(vb, sizeof(vb), "frb%db", pid % 1000000);
	assert_int_equal(fr_sh("ip netns add %s && ip netns add %s", a, b), 0);
	if (fr_sh("ip link add %s netns %s type veth peer name %s netns %s && "
		  "ip -n %s addr add 10.77.0.1/30 dev %s && ip -n %s addr add 10.77.0.2/30 dev %s && "
		  "ip -n %s link set %s up && ip -n %s link set %s up && ip -n %s link set lo up && "
		  "ip -n %s link set lo up && "
		  "ip netns exec %s nft 'add table inet frloss; add chain inet frloss in "
		  "{ type filter hook input priority 0; }; add rule inet frloss in meta l4proto tcp "
		  "numgen random mod 100 < 10 drop'",
		  va, a, vb, b, a, va, b, vb, a, va, b, vb, a, b, b)) {
		fr_sh("ip netns del %s; ip netns del %s", a, b);
		fail_msg("netns/veth/nft setup failed");
	}
	r.client_ns = a;
	r.server_ns = b;
	if (fr_tcp_run(&r)) {
		fr_sh("ip netns del %s; ip netns del %s", a, b);
		fail_msg("tcp run across the veth failed");
	}
	{
		char pa[64], pb[64];
		uint32_t ia, ib;
		const struct fr_conn *c;

		snprintf(pa, sizeof(pa), "/run/netns/%s", a);
		snprintf(pb, sizeof(pb), "/run/netns/%s", b);
		ia = fr_netns_inode(pa);
		ib = fr_netns_inode(pb);
		/* Both ends' closes before the namespaces go: under this loss a FIN can need retransmits after
		 * the processes exited, and deleting a namespace destroys its remaining sockets without the
		 * TCP_CLOSE transition the records come from. */
		fr_col_wait(g_t, &g_col, FR_CONN_TCP, r.cport, r.sport, 15000);
		fr_col_wait(g_t, &g_col, FR_CONN_TCP, r.sport, r.cport, 15000);
		fr_sh("ip netns del %s; ip netns del %s", a, b);
		assert_true(ia && ib && ia != g_netns && ib != ia);
		fr_check_tcp_pair(&r, ia, ib, false);
		c = fr_col_find(&g_col, FR_CONN_TCP, r.cport, r.sport);
		assert_non_null(c);
		assert_true(c->monotonic_retransmits > 0);
		assert_int_equal(c->last_retransmits, c->monotonic_retransmits);
	}
}

/* A connected pair inside this process; returns the client fd, *srv the accepted one. */
static int fr_local_pair(int *srv, uint16_t *cport, uint16_t *sport)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0);

	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
	*sport = ntohs(a.sin_port);
	assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	*srv = accept(l, NULL, NULL);
	assert_true(*srv >= 0);
	len = sizeof(a);
	assert_int_equal(getsockname(c, (struct sockaddr *)&a, &len), 0);
	*cport = ntohs(a.sin_port);
	close(l);
	return c;
}

static void test_preexisting_connection_is_seeded_and_reported_at_close(void **state)
{
	struct fr_col col = { 0 };
	struct fr_tracer *t;
	char buf[2000];
	uint16_t cport, sport;
	int srv, cli = fr_local_pair(&srv, &cport, &sport);
	const struct fr_conn *c, *s;

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(fr_write_full(cli, buf, 1000), 0);
	assert_int_equal(fr_read_full(srv, buf, 1000), 0);
	assert_int_equal(fr_write_full(srv, buf, 300), 0);
	assert_int_equal(fr_read_full(cli, buf, 300), 0);
	usleep(20000); /* let the ACKs land */
	t = fr_test_tracer(&col, 0, 0);
	assert_non_null(t);
	assert_int_equal(fr_write_full(cli, buf, 500), 0);
	assert_int_equal(fr_read_full(srv, buf, 500), 0);
	close(cli);
	close(srv);
	c = fr_col_wait(t, &col, FR_CONN_TCP, cport, sport, 5000);
	s = fr_col_wait(t, &col, FR_CONN_TCP, sport, cport, 5000);
	assert_non_null(c);
	assert_non_null(s);
	assert_true(c->flags & FR_CONN_F_SEEDED);
	assert_true(s->flags & FR_CONN_F_SEEDED);
	assert_int_equal(c->monotonic_sent_bytes, 1500);
	assert_int_equal(c->monotonic_recv_bytes, 300);
	assert_int_equal(s->monotonic_sent_bytes, 300);
	assert_int_equal(s->monotonic_recv_bytes, 1500);
	assert_int_equal(c->pid, getpid()); /* learnt from the first send after seeding */
	fr_tracer_close(t);
	fr_col_free(&col);
}

struct fr_active_find {
	uint16_t sport, dport;
	struct fr_conn found;
	int n;
};

static void fr_active_cb(void *ctx, const struct fr_conn *c)
{
	struct fr_active_find *f = ctx;

	if (c->sport == f->sport && c->dport == f->dport) {
		f->found = *c;
		f->n++;
	}
}

static void test_active_connection_is_listed_with_current_bytes_and_survives_reaping(void **state)
{
	struct fr_active_find f = { 0 };
	char buf[123];
	uint16_t cport, sport;
	int srv, cli = fr_local_pair(&srv, &cport, &sport);

	(void)state;
	memset(buf, 'y', sizeof(buf));
	assert_int_equal(fr_write_full(cli, buf, sizeof(buf)), 0);
	assert_int_equal(fr_read_full(srv, buf, sizeof(buf)), 0);
	f.sport = cport;
	f.dport = sport;
	assert_true(fr_tracer_for_each_active(g_t, fr_active_cb, &f) >= 2);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.found.end_ns, 0);
	assert_int_equal(f.found.monotonic_sent_bytes, sizeof(buf));
	assert_int_equal(f.found.pid, getpid());
	assert_false(f.found.flags & FR_CONN_F_CLOSED);
	/* the liveness pass leaves live connections alone */
	assert_true(fr_tracer_reap_tcp(g_t, fr_now_ns()) >= 0);
	fr_tracer_consume(g_t);
	assert_null(fr_col_find(&g_col, FR_CONN_TCP, cport, sport));
	f.n = 0;
	assert_true(fr_tracer_for_each_active(g_t, fr_active_cb, &f) >= 2);
	assert_int_equal(f.n, 1);
	close(cli);
	close(srv);
	assert_non_null(fr_col_wait(g_t, &g_col, FR_CONN_TCP, cport, sport, 5000));
}

static void test_idle_udp_flow_is_closed_once_with_idle_flag(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int r = socket(AF_INET, SOCK_DGRAM, 0), s = socket(AF_INET, SOCK_DGRAM, 0), n = 0, closed;
	uint16_t rport, sport;
	char buf[64] = { 0 };

	(void)state;
	assert_int_equal(bind(r, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(r, (struct sockaddr *)&a, &len), 0);
	rport = ntohs(a.sin_port);
	for (int i = 0; i < 3; i++)
		assert_int_equal(sendto(s, buf, 10 + i, 0, (struct sockaddr *)&a, sizeof(a)), 10 + i);
	len = sizeof(a);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	sport = ntohs(a.sin_port);
	/* Expire as if 31 s had passed: the flow is idle beyond the default 30 s timeout. */
	closed = fr_tracer_expire_udp_idle(g_t, fr_now_ns() + 31000000000ull);
	assert_true(closed >= 1);
	close(s);
	close(r);
	fr_col_wait(g_t, &g_col, FR_CONN_UDP, 0xffff, 0xffff, 200); /* drain whatever close() emits */
	for (size_t i = 0; i < g_col.n; i++) {
		const struct fr_conn *c = &g_col.v[i];

		if (c->type != FR_CONN_UDP || c->sport != sport || c->dport != rport)
			continue;
		assert_true(c->flags & FR_CONN_F_IDLE_CLOSED);
		assert_int_equal(c->monotonic_sent_bytes, 33);
		assert_int_equal(c->monotonic_sent_packets, 3);
		n++;
	}
	assert_int_equal(n, 1); /* close() after the expiry reports nothing more */
}


static void test_v4_mapped_v6_connection_is_folded_to_v4(void **state)
{
	struct fr_tcp_run r = { .family = AF_INET6, .c2s = 10, .s2c = 20, .server_closes_first = true,
				.server_addr = "::ffff:127.0.0.1" };
	const struct fr_conn *c, *s;

	(void)state;
	assert_int_equal(fr_tcp_run(&r), 0);
	c = fr_col_wait(g_t, &g_col, FR_CONN_TCP, r.cport, r.sport, 5000);
	s = fr_col_wait(g_t, &g_col, FR_CONN_TCP, r.sport, r.cport, 5000);
	assert_non_null(c);
	assert_non_null(s);
	fr_check_loopback(c, AF_INET);
	fr_check_loopback(s, AF_INET);
	assert_int_equal(c->monotonic_sent_bytes, 10);
	assert_int_equal(s->monotonic_sent_bytes, 20);
}

#define FR_MANY_PEERS 6

static void test_udp_socket_with_more_peers_than_remembered_closes_every_flow(void **state)
{
	struct sockaddr_in a[FR_MANY_PEERS], me = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int r[FR_MANY_PEERS], s = socket(AF_INET, SOCK_DGRAM, 0), found = 0;
	socklen_t len = sizeof(me);
	char buf[32] = { 0 };

	(void)state;
	assert_int_equal(bind(s, (struct sockaddr *)&me, sizeof(me)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&me, &len), 0);
	for (int i = 0; i < FR_MANY_PEERS; i++) {
		len = sizeof(a[i]);
		memset(&a[i], 0, sizeof(a[i]));
		a[i].sin_family = AF_INET;
		a[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		r[i] = socket(AF_INET, SOCK_DGRAM, 0);
		assert_int_equal(bind(r[i], (struct sockaddr *)&a[i], sizeof(a[i])), 0);
		assert_int_equal(getsockname(r[i], (struct sockaddr *)&a[i], &len), 0);
		assert_int_equal(sendto(s, buf, 5 + i, 0, (struct sockaddr *)&a[i], sizeof(a[i])), 5 + i);
	}
	close(s); /* 4 flows come from sk_storage, the rest from the release marker */
	for (int i = 0; i < FR_MANY_PEERS; i++) {
		const struct fr_conn *c =
			fr_col_wait(g_t, &g_col, FR_CONN_UDP, ntohs(me.sin_port), ntohs(a[i].sin_port), 5000);

		assert_non_null(c);
		assert_int_equal(c->monotonic_sent_bytes, 5 + i);
		assert_int_equal(c->monotonic_sent_packets, 1);
		assert_int_equal(c->pid, getpid());
		assert_true(c->flags & FR_CONN_F_CLOSED);
		assert_false(c->flags & FR_CONN_F_IDLE_CLOSED);
		found++;
		close(r[i]);
	}
	assert_int_equal(found, FR_MANY_PEERS);
}

static void test_prog_stats_and_telemetry_count_program_runs(void **state)
{
	struct fr_tracer_prog_stat ps[16];
	uint64_t tm[FR_TM__COUNT] = { 0 };
	int n = fr_tracer_prog_stats(g_t, ps, 16), seen = 0;

	(void)state;
	assert_true(n >= 3);
	for (int i = 0; i < n && i < 16; i++) {
		if (!strcmp(ps[i].name, "fr_tcp_state")) {
			/* the tests above made hundreds of transitions with bpf_stats enabled */
			assert_true(ps[i].run_cnt > 0);
			assert_true(ps[i].run_time_ns > 0);
			seen = 1;
		}
	}
	assert_true(seen);
	assert_int_equal(fr_tracer_read_telemetry(g_t, tm), 0);
	assert_true(tm[FR_TM_BPF_PROG_RUNS] > 0);
	assert_true(tm[FR_TM_BPF_FAILED_CONNECTS] >= 1); /* the failed-connect test */
	assert_true(tm[FR_TM_INGEST_EVENTS] > 0);
	assert_int_equal(tm[FR_TM_BPF_RINGBUF_RESERVE_FAILED], 0);
	assert_true(tm[FR_TM_BPF_UDP_IDLE_CLOSED] >= 1); /* the idle-expiry test */
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_v4_server_closes_first_reports_exact_bytes_ports_and_each_pid),
		cmocka_unit_test(test_tcp_v4_client_closes_first_reports_exact_bytes_ports_and_each_pid),
		cmocka_unit_test(test_tcp_v6_server_closes_first_reports_exact_bytes_ports_and_each_pid),
		cmocka_unit_test(test_tcp_v6_client_closes_first_reports_exact_bytes_ports_and_each_pid),
		cmocka_unit_test(test_udp_v4_connected_reports_exact_bytes_packets_pid_on_close),
		cmocka_unit_test(test_udp_v4_unconnected_reports_exact_bytes_packets_pid_on_close),
		cmocka_unit_test(test_udp_v6_connected_reports_exact_bytes_packets_pid_on_close),
		cmocka_unit_test(test_udp_v6_unconnected_reports_exact_bytes_packets_pid_on_close),
		cmocka_unit_test(test_udp_v4_unbound_sendto_reports_the_routed_source_address),
		cmocka_unit_test(test_udp_v6_unbound_sendto_reports_the_routed_source_address),
		cmocka_unit_test(test_failed_connect_is_flagged_and_not_reported_as_a_connection),
		cmocka_unit_test(test_netns_connection_carries_inode_and_counts_retransmits_under_loss),
		cmocka_unit_test(test_preexisting_connection_is_seeded_and_reported_at_close),
		cmocka_unit_test(test_active_connection_is_listed_with_current_bytes_and_survives_reaping),
		cmocka_unit_test(test_idle_udp_flow_is_closed_once_with_idle_flag),
		cmocka_unit_test(test_v4_mapped_v6_connection_is_folded_to_v4),
		cmocka_unit_test(test_udp_socket_with_more_peers_than_remembered_closes_every_flow),
		cmocka_unit_test(test_prog_stats_and_telemetry_count_program_runs),
	};

	(void)argc;
	fr_test_require_root(argv[0]);
	return cmocka_run_group_tests(tests, fr_tt_group_setup, fr_tt_group_teardown);
}
