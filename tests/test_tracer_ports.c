/* Description: the tracer reports listening-port events (TCP listen/close, UDP bind/release) with the
 * socket's namespace and port, and none for connected or ephemeral client sockets. Needs root. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_tracer_util.h"


static uint16_t fr_port_of(int fd)
{
	struct sockaddr_in6 a;
	socklen_t len = sizeof(a);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin6_port); /* same offset in sockaddr_in */
}

/* A socket of type bound to 127.0.0.1:port (0: the kernel picks one). */
static int fr_bound(int type, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, type, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Poll until (netns, type, port) has the expected starts and stops, or 3 s pass; then check that
 * no more arrive. Events of another namespace do not count. */
static void fr_expect_ports(uint8_t type, uint16_t port, int starts, int stops, uint32_t netns)
{
	int s = -1, p = -1;

	for (int i = 0; i < 300; i++) {
		fr_tracer_poll(g_t, 10);
		fr_col_port_count(&g_col, netns, type, port, &s, &p);
		if (s >= starts && p >= stops)
			break;
	}
	fr_tracer_poll(g_t, 50);
	fr_col_port_count(&g_col, netns, type, port, &s, &p);
	assert_int_equal(s, starts);
	assert_int_equal(p, stops);
}

static void test_tcp_listener_started_after_tracer_reports_listen_then_close(void **state)
{
	int l = fr_bound(SOCK_STREAM, 0);
	uint16_t port = fr_port_of(l);

	(void)state;
	fr_expect_ports(FR_CONN_TCP, port, 0, 0, g_netns); /* bound, not listening yet */
	assert_int_equal(listen(l, 4), 0);
	fr_expect_ports(FR_CONN_TCP, port, 1, 0, g_netns);
	close(l);
	fr_expect_ports(FR_CONN_TCP, port, 1, 1, g_netns);
}

static void test_tcp_connection_ports_are_not_listening(void **state)
{
	int l = fr_bound(SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0), s;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(fr_port_of(l)),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	uint16_t cport;

	(void)state;
	assert_int_equal(listen(l, 4), 0);
	assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	s = accept(l, NULL, NULL);
	assert_true(s >= 0);
	cport = fr_port_of(c);
	close(c);
	close(s);
	close(l);
	fr_expect_ports(FR_CONN_TCP, ntohs(a.sin_port), 1, 1, g_netns); /* the accepted socket adds none */
	fr_expect_ports(FR_CONN_TCP, cport, 0, 0, g_netns);
}

/* A UDP port that is free now: bound to 0 (which reports nothing) and released. */
static uint16_t fr_free_udp_port(void)
{
	int fd = fr_bound(SOCK_DGRAM, 0);
	uint16_t port = fr_port_of(fd);

	close(fd);
	fr_expect_ports(FR_CONN_UDP, port, 0, 0, g_netns);
	return port;
}

static void test_udp_bound_port_reports_bind_then_release(void **state)
{
	uint16_t port = fr_free_udp_port();
	int fd = fr_bound(SOCK_DGRAM, port);

	(void)state;
	fr_expect_ports(FR_CONN_UDP, port, 1, 0, g_netns);
	close(fd);
	fr_expect_ports(FR_CONN_UDP, port, 1, 1, g_netns);
}

static void test_udp_bound_port_stops_listening_when_connected(void **state)
{
	uint16_t port = fr_free_udp_port();
	int fd = fr_bound(SOCK_DGRAM, port), peer = fr_bound(SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(fr_port_of(peer)),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	(void)state;
	fr_expect_ports(FR_CONN_UDP, port, 1, 0, g_netns);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(send(fd, "x", 1, 0), 1); /* the connect is seen at the first send */
	fr_expect_ports(FR_CONN_UDP, port, 1, 1, g_netns);
	close(fd); /* no second stop */
	close(peer);
	fr_expect_ports(FR_CONN_UDP, port, 1, 1, g_netns);
}

static void test_udp_connected_and_ephemeral_client_ports_report_nothing(void **state)
{
	int srv = fr_bound(SOCK_DGRAM, 0), conn = socket(AF_INET, SOCK_DGRAM, 0);
	int eph = socket(AF_INET, SOCK_DGRAM, 0), eph0 = fr_bound(SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(fr_port_of(srv)),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	uint16_t pconn, peph, peph0 = fr_port_of(eph0);

	(void)state;
	assert_int_equal(connect(conn, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(send(conn, "c", 1, 0), 1);
	assert_int_equal(sendto(eph, "e", 1, 0, (struct sockaddr *)&a, sizeof(a)), 1); /* autobind */
	assert_int_equal(sendto(eph0, "z", 1, 0, (struct sockaddr *)&a, sizeof(a)), 1);
	pconn = fr_port_of(conn);
	peph = fr_port_of(eph);
	close(conn);
	close(eph);
	close(eph0);
	close(srv);
	fr_expect_ports(FR_CONN_UDP, pconn, 0, 0, g_netns);
	fr_expect_ports(FR_CONN_UDP, peph, 0, 0, g_netns);
	fr_expect_ports(FR_CONN_UDP, peph0, 0, 0, g_netns);
	fr_expect_ports(FR_CONN_UDP, ntohs(a.sin_port), 0, 0, g_netns);
}

/* In a new network namespace: listen on TCP and bind UDP to fixed ports, report them and the
 * namespace inode through w, wait for a byte on r, close both. */
static void fr_netns_child(int w, int r)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	uint32_t msg[3];
	int l, u;
	char go;

	if (unshare(CLONE_NEWNET))
		_exit(10);
	l = socket(AF_INET, SOCK_STREAM, 0);
	u = socket(AF_INET, SOCK_DGRAM, 0);
	a.sin_port = htons(4242);
	if (l < 0 || u < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    bind(u, (struct sockaddr *)&a, sizeof(a)))
		_exit(11);
	msg[0] = fr_netns_inode("/proc/self/ns/net");
	msg[1] = 4242;
	msg[2] = 4242;
	if (fr_write_full(w, msg, sizeof(msg)) || fr_read_full(r, &go, 1))
		_exit(12);
	close(l);
	close(u);
	_exit(0);
}

static void test_listener_in_another_netns_carries_its_inode(void **state)
{
	int p[2], q[2], st;
	uint32_t msg[3];
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(q), 0);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		close(q[1]); /* EOF, and exit, if this process fails before the go byte */
		fr_netns_child(p[1], q[0]);
	}
	close(p[1]);
	close(q[0]);
	assert_int_equal(fr_read_full(p[0], msg, sizeof(msg)), 0);
	assert_true(msg[0] != 0 && msg[0] != g_netns);
	fr_expect_ports(FR_CONN_TCP, (uint16_t)msg[1], 1, 0, msg[0]);
	fr_expect_ports(FR_CONN_UDP, (uint16_t)msg[2], 1, 0, msg[0]);
	assert_int_equal(fr_write_full(q[1], "g", 1), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	fr_expect_ports(FR_CONN_TCP, (uint16_t)msg[1], 1, 1, msg[0]);
	fr_expect_ports(FR_CONN_UDP, (uint16_t)msg[2], 1, 1, msg[0]);
	close(p[0]);
	close(q[1]);
}

static void test_port_events_are_counted_and_none_lost(void **state)
{
	struct fr_tracer_counters cnt;
	uint64_t tm[FR_TM__COUNT] = { 0 };

	(void)state;
	fr_tracer_consume(g_t);
	assert_int_equal(fr_tracer_read_counters(g_t, &cnt), 0);
	/* every event collected was submitted; others' sockets may add more */
	assert_true(cnt.port_events >= g_col.nports);
	assert_true(g_col.nports >= 10);
	assert_int_equal(cnt.port_events_lost, 0);
	assert_int_equal(fr_tracer_read_telemetry(g_t, tm), 0);
	assert_int_equal(tm[FR_TM_BPF_PORT_EVENTS_LOST], 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_listener_started_after_tracer_reports_listen_then_close),
		cmocka_unit_test(test_tcp_connection_ports_are_not_listening),
		cmocka_unit_test(test_udp_bound_port_reports_bind_then_release),
		cmocka_unit_test(test_udp_bound_port_stops_listening_when_connected),
		cmocka_unit_test(test_udp_connected_and_ephemeral_client_ports_report_nothing),
		cmocka_unit_test(test_listener_in_another_netns_carries_its_inode),
		cmocka_unit_test(test_port_events_are_counted_and_none_lost),
	};

	(void)argc;
	fr_test_require_root(argv[0]);
	return cmocka_run_group_tests(tests, fr_tt_group_setup, fr_tt_group_teardown);
}
