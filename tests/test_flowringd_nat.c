/* Description: flowringd across network namespaces: a connection to a DNAT'd virtual address carries its conntrack
 * translation, and a direct one is OUTGOING at the client and INCOMING at the server (run by tests/nat_netns.sh
 * inside a test namespace: --live VIP VPORT REAL RPORT, FLOWRINGD in the environment). */
#include <flowring/flowring.h>

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
#include <unistd.h>

#include <cmocka.h>

#include "e2e_util.h"

static const char *g_vip, *g_real;
static uint16_t g_vport, g_rport;

static struct fr_e2e_daemon g_d;

static int setup(void **state)
{
	(void)state;
	return fr_e2e_daemon_start_opts(&g_d, getenv("FLOWRINGD"), NULL, true) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return fr_e2e_daemon_stop(&g_d) == 0 ? 0 : -1;
}

/* Connect to ip:port, keep the connection 50 ms (conntrack's NEW event reaches the daemon before the
 * close), close; returns the local port. */
static uint16_t connect_briefly(const char *ip, uint16_t port, struct sockaddr_in *local)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	socklen_t len = sizeof(*local);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)local, &len), 0);
	fr_sleep_ms(50);
	close(fd);
	return ntohs(local->sin_port);
}

/* The records of both ends of a connection, in whatever order they closed (10 s at most): the client's
 * (cport -> dport) and the server's (sport -> cport; sport differs from dport under DNAT). */
static void both_ends(struct fr_events_reader *r, uint16_t cport, uint16_t dport, uint16_t sport,
		      struct fr_conn *client, struct fr_conn *server)
{
	struct fr_conn c;
	bool have_client = false, have_server = false;
	uint64_t t0 = fr__now_ns();

	while (!(have_client && have_server) && fr__now_ns() - t0 < 10000000000ull) {
		int st = fr_events_read(r, &c);
		if (st == FR_OK && c.type == FR_CONN_TCP && c.sport == cport && c.dport == dport) {
			*client = c;
			have_client = true;
		} else if (st == FR_OK && c.type == FR_CONN_TCP && c.sport == sport && c.dport == cport) {
			*server = c;
			have_server = true;
		} else if (st == FR_AGAIN) {
			fr_events_wait(r, 100);
		} else if (st != FR_OK) {
			fail_msg("events ring: %s", fr_status_str(st));
		}
	}
	if (!have_client || !have_server)
		fail_msg("no record of the %s end of %u -> %u", have_client ? "server" : "client", cport, dport);
}

static void test_connection_to_virtual_address_carries_ip_translation(void **state)
{
	(void)state;
	struct fr_events_reader r;
	struct sockaddr_in local;
	struct fr_conn c, server;

	assert_int_equal(fr_events_open(&r, g_d.shm, g_d.instance, FR_FROM_LATEST), FR_OK);
	uint16_t cport = connect_briefly(g_vip, g_vport, &local);
	/* the server's end (in the other namespace) closes under the real address and port */
	both_ends(&r, cport, g_vport, g_rport, &c, &server);
	if (!(c.flags & FR_CONN_F_NAT))
		fr_e2e_daemon_dump_log(&g_d);
	assert_true(c.flags & FR_CONN_F_NAT);
	/* the reply tuple: from the real server back to our local end */
	char src[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, c.nat.repl_saddr, src, sizeof(src));
	assert_string_equal(src, g_real);
	assert_int_equal(c.nat.repl_sport, g_rport);
	assert_memory_equal(c.nat.repl_daddr, &local.sin_addr, 4);
	assert_int_equal(c.nat.repl_dport, cport);
	assert_int_equal(c.pid, getpid());

	uint64_t translated = 0;
	for (int i = 0; i < 30 && translated == 0; i++) {
		fr_sleep_ms(100);
		assert_int_equal(fr_e2e_telemetry(&r, "conntrack_translated", &translated), 0);
	}
	assert_true(translated >= 1);
	fr_events_close(&r);
}

static void test_connection_across_namespaces_is_outgoing_and_its_server_side_incoming(void **state)
{
	(void)state;
	struct fr_events_reader r;
	struct sockaddr_in local;
	struct fr_conn c, server;

	assert_int_equal(fr_events_open(&r, g_d.shm, g_d.instance, FR_FROM_LATEST), FR_OK);
	/* straight to the server in the other namespace: no NAT */
	uint16_t cport = connect_briefly(g_real, g_rport, &local);
	both_ends(&r, cport, g_rport, g_rport, &c, &server);
	assert_int_equal(c.direction, FR_DIR_OUTGOING);
	assert_false(c.flags & FR_CONN_F_NAT);
	assert_int_equal(c.intra_host, 0);
	assert_int_equal(c.netns, fr_e2e_self_netns());
	/* the server's end lives in its own namespace, where the port is a listening one */
	assert_int_equal(server.direction, FR_DIR_INCOMING);
	assert_true(server.netns != fr_e2e_self_netns());
	fr_events_close(&r);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connection_to_virtual_address_carries_ip_translation),
		cmocka_unit_test(test_connection_across_namespaces_is_outgoing_and_its_server_side_incoming),
	};
	if (argc == 4 && strcmp(argv[1], "--serve") == 0)
		return fr_e2e_serve_forever(argv[2], (uint16_t)atoi(argv[3]));
	if (argc != 6 || strcmp(argv[1], "--live") != 0 || !getenv("FLOWRINGD")) {
		fprintf(stderr, "usage: FLOWRINGD=path test_flowringd_nat --live VIP VPORT REAL RPORT | --serve IP PORT\n"
				"(run by tests/nat_netns.sh)\n");
		return 2;
	}
	g_vip = argv[2];
	g_vport = (uint16_t)atoi(argv[3]);
	g_real = argv[4];
	g_rport = (uint16_t)atoi(argv[5]);
	return cmocka_run_group_tests(tests, setup, teardown);
}
