/* Description: flowringd attaches the conntrack NAT translation to a connection made to a DNAT'd virtual address
 * (run by tests/nat_netns.sh inside a test namespace: --live VIP VPORT REAL RPORT, FLOWRINGD in the environment). */
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

static void test_connection_to_virtual_address_carries_ip_translation(void **state)
{
	(void)state;
	struct fr_e2e_daemon d;
	struct fr_events_reader r;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(g_vport)};
	struct sockaddr_in local;
	socklen_t len = sizeof(local);
	struct fr_conn c;
	bool seen = false;

	assert_int_equal(fr_e2e_daemon_start_opts(&d, getenv("FLOWRINGD"), NULL, true), 0);
	assert_int_equal(fr_events_open(&r, d.shm, d.instance, FR_FROM_LATEST), FR_OK);

	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(inet_pton(AF_INET, g_vip, &sa.sin_addr), 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&local, &len), 0);
	uint16_t cport = ntohs(local.sin_port);
	/* a connection lives a little: conntrack's NEW event reaches the daemon before the close */
	fr_sleep_ms(50);
	close(fd);

	uint64_t t0 = fr__now_ns();
	while (!seen && fr__now_ns() - t0 < 10000000000ull) {
		int st = fr_events_read(&r, &c);
		if (st == FR_OK)
			seen = c.type == FR_CONN_TCP && c.sport == cport && c.dport == g_vport;
		else if (st == FR_AGAIN)
			fr_events_wait(&r, 100);
		else
			fail_msg("events ring: %s", fr_status_str(st));
	}
	assert_true(seen);
	if (!(c.flags & FR_CONN_F_NAT)) {
		uint64_t regs = 0, entries = 0;
		fr_e2e_telemetry(&r, "conntrack_registers", &regs);
		fr_e2e_telemetry(&r, "conntrack_entries_current", &entries);
		char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, c.saddr, a, sizeof(a));
		inet_ntop(AF_INET, c.daddr, b, sizeof(b));
		print_message("no translation for %s:%u -> %s:%u (family %u): conntrack_registers %llu, entries %llu\n", a,
			      c.sport, b, c.dport, c.family, (unsigned long long)regs, (unsigned long long)entries);
		fr_e2e_daemon_dump_log(&d);
	}
	assert_true(c.flags & FR_CONN_F_NAT);
	/* the reply tuple: from the real server back to our local end */
	char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, c.nat.repl_saddr, src, sizeof(src));
	inet_ntop(AF_INET, c.nat.repl_daddr, dst, sizeof(dst));
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
	assert_int_equal(fr_e2e_daemon_stop(&d), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connection_to_virtual_address_carries_ip_translation),
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
	return cmocka_run_group_tests(tests, NULL, NULL);
}
