/* Description: flowringd end to end: real TCP/UDP traffic -> BPF -> daemon -> events ring and per-client snapshots. */
#include <flowring/flowring.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "control_client.h"
#include "e2e_util.h"

static const char *g_flowringd;
static struct fr_e2e_daemon g_d;

static int setup(void **state)
{
	(void)state;
	return fr_e2e_daemon_start(&g_d, g_flowringd, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	int rc = fr_e2e_daemon_stop(&g_d);
	return rc == 0 ? 0 : -1;
}

static void register_client(const char *id)
{
	struct fr_ctl_msg m;
	int fd = fr_ctl_client_connect(g_d.sock, 2000);
	assert_true(fd >= 0);
	assert_int_equal(fr_ctl_client_request(fd, FR_CTL_REGISTER, id, &m, 5000), 0);
	close(fd);
}

/* Ask for a snapshot and copy it out: returns the record count. */
static size_t snapshot(const char *id, struct fr_conn *out, size_t cap)
{
	struct fr_ctl_msg m;
	struct fr_snapshot_reader r;
	struct fr_snapshot_view meta = {0};
	int fd = fr_ctl_client_connect(g_d.sock, 2000);

	assert_true(fd >= 0);
	assert_int_equal(fr_ctl_client_request(fd, FR_CTL_SNAPSHOT, id, &m, 10000), 0);
	close(fd);
	assert_int_equal(fr_snapshot_open(&r, g_d.shm, g_d.instance, id), FR_OK);
	int st = fr_snapshot_copy(&r, out, cap, &meta);
	assert_int_equal(st, FR_OK);
	/* the reply names the snapshot we must be reading: a newer one cannot exist (nobody else asked) */
	assert_int_equal(meta.snap_seq, m.u.snap.seq);
	assert_int_equal(meta.count, m.u.snap.records);
	assert_int_equal(meta.generation, m.u.snap.generation);
	fr_snapshot_close(&r);
	return (size_t)meta.count;
}

static const struct fr_conn *find(const struct fr_conn *v, size_t n, uint8_t type, uint16_t sport, uint16_t dport)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].type == type && v[i].sport == sport && v[i].dport == dport)
			return &v[i];
	return NULL;
}

/* Collect events-ring records until want of them match (type, ports) or 10 s pass. */
static size_t collect_events(struct fr_events_reader *r, struct fr_conn *out, size_t cap,
			     const struct fr_e2e_flow *flows, size_t nflows)
{
	size_t n = 0;
	uint64_t deadline = fr__now_ns() + 10000000000ull;

	while (fr__now_ns() < deadline && n < cap) {
		struct fr_conn c;
		int st = fr_events_read(r, &c);
		if (st == FR_OK) {
			for (size_t i = 0; i < nflows; i++)
				if (fr_e2e_flow_matches(&flows[i], &c))
					out[n++] = c;
			bool all = true;
			for (size_t i = 0; i < nflows && all; i++)
				all = find(out, n, flows[i].type, flows[i].cport, flows[i].sport) &&
				      find(out, n, flows[i].type, flows[i].sport, flows[i].cport);
			if (all)
				break;
		} else if (st == FR_AGAIN) {
			fr_events_wait(r, 100);
		} else {
			fail_msg("events ring: %s", fr_status_str(st));
		}
	}
	return n;
}

static void check_side(const struct fr_conn *c, const struct fr_e2e_flow *f, bool client_side)
{
	assert_non_null(c);
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	inet_ntop(c->family == FR_CONN_V4 ? AF_INET : AF_INET6, c->saddr, a, sizeof(a));
	inet_ntop(c->family == FR_CONN_V4 ? AF_INET : AF_INET6, c->daddr, b, sizeof(b));
	print_message("  %s %s %s:%u -> %s:%u pid %u sent %llu recv %llu dir %u intra %u flags 0x%x\n",
		      c->type == FR_CONN_TCP ? "tcp" : "udp", client_side ? "client" : "server", a, c->sport, b, c->dport,
		      c->pid, (unsigned long long)c->monotonic_sent_bytes, (unsigned long long)c->monotonic_recv_bytes,
		      c->direction, c->intra_host, c->flags);
	/* both ends are the loopback address, also for an unbound unconnected UDP sender (the kernel picks it) */
	assert_memory_equal(c->saddr, c->daddr, 16);
	assert_int_equal(c->pid, client_side ? f->cpid : f->spid);
	assert_int_equal(c->monotonic_sent_bytes, client_side ? f->c2s_bytes : f->s2c_bytes);
	assert_int_equal(c->monotonic_recv_bytes, client_side ? f->s2c_bytes : f->c2s_bytes);
	assert_int_equal(c->family, f->family);
	/* loopback on both ends, same namespace: LOCAL (SEMANTICS.md "Direction") */
	assert_int_equal(c->direction, FR_DIR_LOCAL);
	assert_int_equal(c->intra_host, 1);
	assert_int_equal(c->netns, fr_e2e_self_netns());
	assert_true(c->flags & FR_CONN_F_CLOSED);
	assert_true(c->end_ns >= c->start_ns);
}

static void test_every_connection_reaches_events_ring_and_snapshot_exactly(void **state)
{
	(void)state;
	static struct fr_conn ev[4096], snap[65536];
	struct fr_e2e_flow flows[4];
	struct fr_events_reader r;

	register_client("e2e-a");
	assert_int_equal(fr_events_open(&r, g_d.shm, g_d.instance, FR_FROM_LATEST), FR_OK);
	assert_int_equal(fr_e2e_tcp_pair(AF_INET, 1000, 2500, &flows[0]), 0);
	assert_int_equal(fr_e2e_tcp_pair(AF_INET6, 70000, 300, &flows[1]), 0);
	assert_int_equal(fr_e2e_udp_pair(AF_INET, true, 3, 100, 40, &flows[2]), 0);
	assert_int_equal(fr_e2e_udp_pair(AF_INET6, false, 2, 64, 32, &flows[3]), 0);

	size_t n = collect_events(&r, ev, 4096, flows, 4);
	for (size_t i = 0; i < 4; i++) {
		check_side(find(ev, n, flows[i].type, flows[i].cport, flows[i].sport), &flows[i], true);
		check_side(find(ev, n, flows[i].type, flows[i].sport, flows[i].cport), &flows[i], false);
	}
	fr_events_close(&r);

	/* the client registered before the traffic: its first snapshot holds every closed connection,
	 * with last_x = monotonic_x */
	size_t m = snapshot("e2e-a", snap, 65536);
	for (size_t i = 0; i < 4; i++) {
		const struct fr_conn *c = find(snap, m, flows[i].type, flows[i].cport, flows[i].sport);
		check_side(c, &flows[i], true);
		assert_int_equal(c->last_sent_bytes, c->monotonic_sent_bytes);
		assert_int_equal(c->last_recv_bytes, c->monotonic_recv_bytes);
		check_side(find(snap, m, flows[i].type, flows[i].sport, flows[i].cport), &flows[i], false);
	}
	/* read again: those closed connections were delivered and are gone */
	m = snapshot("e2e-a", snap, 65536);
	for (size_t i = 0; i < 4; i++)
		assert_null(find(snap, m, flows[i].type, flows[i].cport, flows[i].sport));
}

static void test_two_clients_get_their_own_deltas_of_an_active_connection(void **state)
{
	(void)state;
	static struct fr_conn snap[65536];
	struct fr_e2e_long conn;

	register_client("e2e-early");
	register_client("e2e-late");
	assert_int_equal(fr_e2e_long_open(&conn), 0);
	assert_int_equal(fr_e2e_long_send(&conn, 1111), 0);

	size_t m = snapshot("e2e-early", snap, 65536);
	const struct fr_conn *c = find(snap, m, FR_CONN_TCP, conn.cport, conn.sport);
	assert_non_null(c);
	assert_int_equal(c->end_ns, 0);
	assert_int_equal(c->monotonic_sent_bytes, 1111);
	assert_int_equal(c->last_sent_bytes, 1111);
	assert_int_equal(c->pid, conn.cpid);

	assert_int_equal(fr_e2e_long_send(&conn, 222), 0);
	m = snapshot("e2e-early", snap, 65536);
	c = find(snap, m, FR_CONN_TCP, conn.cport, conn.sport);
	assert_non_null(c);
	assert_int_equal(c->monotonic_sent_bytes, 1333);
	assert_int_equal(c->last_sent_bytes, 222);

	/* the late client never read: everything is new to it */
	m = snapshot("e2e-late", snap, 65536);
	c = find(snap, m, FR_CONN_TCP, conn.cport, conn.sport);
	assert_non_null(c);
	assert_int_equal(c->monotonic_sent_bytes, 1333);
	assert_int_equal(c->last_sent_bytes, 1333);
	/* the server side received what the client sent */
	c = find(snap, m, FR_CONN_TCP, conn.sport, conn.cport);
	assert_non_null(c);
	assert_int_equal(c->monotonic_recv_bytes, 1333);
	assert_int_equal(c->pid, conn.spid);
	fr_e2e_long_close(&conn);
}

static void test_telemetry_counts_closed_connections(void **state)
{
	(void)state;
	struct fr_events_reader r;
	struct fr_e2e_flow f;
	uint64_t before = 0, after = 0;

	assert_int_equal(fr_events_open(&r, g_d.shm, g_d.instance, FR_FROM_LATEST), FR_OK);
	assert_int_equal(fr_e2e_telemetry(&r, "conns_closed", &before), 0);
	assert_int_equal(fr_e2e_tcp_pair(AF_INET, 10, 10, &f), 0);
	/* the heartbeat timer publishes telemetry every 100 ms */
	for (int i = 0; i < 50 && after < before + 2; i++) {
		fr_sleep_ms(100);
		assert_int_equal(fr_e2e_telemetry(&r, "conns_closed", &after), 0);
	}
	assert_true(after >= before + 2);
	uint64_t v;
	assert_int_equal(fr_e2e_telemetry(&r, "bpf_ringbuf_reserve_failed", &v), 0);
	assert_int_equal(v, 0);
	/* the closes woke the daemon (an empty ring), which drained and woke the events ring's readers */
	const char *const woke[] = {"bpf_ringbuf_wakeups", "ingest_drains", "events_wakes"};
	for (size_t i = 0; i < sizeof(woke) / sizeof(woke[0]); i++) {
		v = 0;
		assert_int_equal(fr_e2e_telemetry(&r, woke[i], &v), 0);
		assert_true(v >= 1);
	}
	fr_events_close(&r);
}

static int raw_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.*s", (int)sizeof(sa.sun_path) - 1, path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_control_socket_abuse_is_refused_counted_and_survived(void **state)
{
	(void)state;
	struct fr_events_reader r;
	struct fr_ctl_msg m;
	uint64_t malformed = 0, oversized = 0, flood = 0;
	int fds[200];
	char big[8192];

	assert_int_equal(fr_events_open(&r, g_d.shm, g_d.instance, FR_FROM_LATEST), FR_OK);
	/* garbage: an error reply, then the daemon hangs up */
	int fd = raw_connect(g_d.sock);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello flowringd", 15), 15);
	ssize_t n = read(fd, big, sizeof(big));
	assert_true(n >= (ssize_t)FR_CTL_HDR_SIZE);
	assert_int_equal(fr_ctl_decode(big, (size_t)n, &m), 0);
	assert_int_equal(m.hdr.type, FR_CTL_ERROR);
	close(fd);
	/* oversized */
	memset(big, 0x5a, sizeof(big));
	fd = raw_connect(g_d.sock);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, big, sizeof(big)), (ssize_t)sizeof(big));
	n = read(fd, big, sizeof(big));
	assert_true(n >= (ssize_t)FR_CTL_HDR_SIZE);
	close(fd);
	/* a flood of connections: past the limit they are refused, the daemon keeps serving */
	int opened = 0;
	for (int i = 0; i < 200; i++)
		if ((fds[i] = raw_connect(g_d.sock)) >= 0)
			opened++;
	fr_sleep_ms(300);
	for (int i = 0; i < 200; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	assert_true(opened > 0);
	register_client("after-abuse");
	fd = fr_ctl_client_connect(g_d.sock, 2000);
	assert_true(fd >= 0);
	assert_int_equal(fr_ctl_client_request(fd, FR_CTL_PING, NULL, &m, 5000), 0);
	close(fd);
	for (int i = 0; i < 30 && !(malformed && oversized && flood); i++) {
		fr_sleep_ms(100);
		fr_e2e_telemetry(&r, "ctl_malformed", &malformed);
		fr_e2e_telemetry(&r, "ctl_oversized", &oversized);
		fr_e2e_telemetry(&r, "ctl_flood_refused", &flood);
	}
	assert_true(malformed >= 1);
	assert_true(oversized >= 1);
	assert_true(flood >= 1);
	fr_events_close(&r);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s FLOWRINGD\n", argv[0]);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: test_flowringd_e2e needs root (BPF programs, cgroup hooks)\n");
		return 77;
	}
	g_flowringd = argv[1];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_connection_reaches_events_ring_and_snapshot_exactly),
		cmocka_unit_test(test_two_clients_get_their_own_deltas_of_an_active_connection),
		cmocka_unit_test(test_telemetry_counts_closed_connections),
		cmocka_unit_test(test_control_socket_abuse_is_refused_counted_and_survived),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
