/* Description: port map - listening TCP / bound UDP ports per netns from a fake proc root, events, malformed and huge files, direction and intra-host rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "portmap.h"
#include "state_fixture.h"

#define NS1 4026531840u
#define NS2 4026532999u

static const char TCP_HDR[] = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
static const char UDP_HDR[] = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n";

struct root {
	char dir[128];
	char net[160];
};

static void write_file(struct root *r, const char *name, const char *content)
{
	char path[256];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", r->net, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void unlink_all(struct root *r)
{
	static const char *const names[] = { "tcp", "tcp6", "udp", "udp6" };
	char path[256];
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", r->net, names[i]);
		unlink(path);
	}
}

static int pm_setup(void **state)
{
	struct root *r = calloc(1, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "/tmp/fr_portmap_%d_XXXXXX", (int)getpid());
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->net, sizeof(r->net), "%s/net", r->dir);
	assert_int_equal(mkdir(r->net, 0700), 0);
	*state = r;
	return 0;
}

static int pm_teardown(void **state)
{
	struct root *r = *state;
	unlink_all(r);
	rmdir(r->net);
	rmdir(r->dir);
	free(r);
	return 0;
}

/* A realistic host: sshd on 22 (v4 and v6), a client connection from 22, nginx on 127.0.0.1:8080,
 * a TIME_WAIT; DNS on udp 53 (v4 and v6), a connected UDP socket on 40000. */
static void write_host(struct root *r)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s%s%s%s%s", TCP_HDR,
		 "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0000000000000000 100 0 0 10 0\n",
		 "   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000    33        0 2222 1 0000000000000000 100 0 0 10 0\n",
		 "   2: 0201A8C0:0016 0501A8C0:D431 01 00000000:00000000 02:000A7A1B 00000000     0        0 3333 4 0000000000000000 20 4 31 10 -1\n",
		 "   3: 0201A8C0:9C40 0801A8C0:01BB 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000\n");
	write_file(r, "tcp", buf);
	snprintf(buf, sizeof(buf), "%s%s%s", TCP_HDR,
		 "   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 100 0 0 10 0\n",
		 "   1: 0000000000000000FFFF00000201A8C0:0050 0000000000000000FFFF00000501A8C0:C000 01 00000000:00000000 00:00000000 00000000     0        0 5555 1 0000000000000000 100 0 0 10 0\n");
	write_file(r, "tcp6", buf);
	snprintf(buf, sizeof(buf), "%s%s%s%s", UDP_HDR,
		 "  100: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 6666 2 0000000000000000 0\n",
		 "  101: 0201A8C0:9C40 08080808:0035 01 00000000:00000000 00:00000000 00000000     0        0 7777 2 0000000000000000 0\n",
		 "  102: 00000000:0000 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 8888 2 0000000000000000 0\n");
	write_file(r, "udp", buf);
	snprintf(buf, sizeof(buf), "%s%s", UDP_HDR,
		 "  200: 00000000000000000000000000000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 9999 2 0000000000000000 0\n");
	write_file(r, "udp6", buf);
}

static void test_load_finds_listening_tcp_and_unconnected_udp_v4_and_v6(void **state)
{
	struct root *r = *state;
	struct fr_portmap *pm = fr_portmap_new();

	write_host(r);
	/* 22 (v4), 8080, 22 (v6), udp 53 (v4), udp 53 (v6) */
	assert_int_equal(fr_portmap_load_sp(pm, NS1, r->dir), 5);
	assert_true(fr_portmap_is_listening_sp(pm, NS1, FR_CONN_TCP, 22));
	assert_true(fr_portmap_is_listening_sp(pm, NS1, FR_CONN_TCP, 8080));
	assert_false(fr_portmap_is_listening_sp(pm, NS1, FR_CONN_TCP, 40000)); /* TIME_WAIT */
	assert_false(fr_portmap_is_listening_sp(pm, NS1, FR_CONN_TCP, 80));    /* established, v6 file */
	assert_false(fr_portmap_is_listening_sp(pm, NS1, FR_CONN_TCP, 54321)); /* a peer port */
	assert_true(fr_portmap_is_listening_sp(pm, NS1, FR_CONN_UDP, 53));
	assert_false(fr_portmap_is_listening_sp(pm, NS1, FR_CONN_UDP, 40000)); /* connected */
	assert_false(fr_portmap_is_listening_sp(pm, NS1, FR_CONN_UDP, 22));    /* per protocol */
	assert_false(fr_portmap_is_listening_sp(pm, NS2, FR_CONN_TCP, 22));    /* per namespace */
	assert_int_equal(fr_portmap_listening_mc(pm), 3); /* tcp 22, tcp 8080, udp 53 */
	assert_int_equal(fr_portmap_malformed_mc(pm), 0);
	fr_portmap_free(pm);
}

static void test_events_count_sockets_per_port(void **state)
{
	struct root *r = *state;
	struct fr_portmap *pm = fr_portmap_new();

	write_host(r);
	fr_portmap_load_sp(pm, NS1, r->dir); /* tcp 22 is held by two sockets (v4 and v6) */
	assert_int_equal(fr_portmap_remove_sp(pm, NS1, FR_CONN_TCP, 22), 0);
	assert_true(fr_portmap_is_listening_sp(pm, NS1, FR_CONN_TCP, 22));
	fr_portmap_remove_sp(pm, NS1, FR_CONN_TCP, 22);
	assert_false(fr_portmap_is_listening_sp(pm, NS1, FR_CONN_TCP, 22));
	fr_portmap_remove_sp(pm, NS1, FR_CONN_TCP, 22); /* below zero: ignored */
	assert_int_equal(fr_portmap_add_sp(pm, NS2, FR_CONN_UDP, 5353), 0);
	assert_true(fr_portmap_is_listening_sp(pm, NS2, FR_CONN_UDP, 5353));
	assert_false(fr_portmap_is_listening_sp(pm, NS1, FR_CONN_UDP, 5353));
	assert_int_equal(fr_portmap_add_sp(pm, NS2, FR_CONN_UDP, 0), -EINVAL);
	assert_int_equal(fr_portmap_listening_mc(pm), 3); /* tcp 8080, udp 53 (NS1), udp 5353 (NS2) */
	fr_portmap_drop_netns_sp(pm, NS2);
	assert_false(fr_portmap_is_listening_sp(pm, NS2, FR_CONN_UDP, 5353));
	fr_portmap_free(pm);
}

static void test_reload_replaces_a_namespace_only(void **state)
{
	struct root *r = *state;
	struct fr_portmap *pm = fr_portmap_new();
	char buf[512];

	write_host(r);
	fr_portmap_load_sp(pm, NS1, r->dir);
	fr_portmap_load_sp(pm, NS2, r->dir);
	unlink_all(r);
	snprintf(buf, sizeof(buf), "%s%s", TCP_HDR,
		 "   0: 00000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n");
	write_file(r, "tcp", buf); /* tcp6, udp, udp6 missing: not an error */
	assert_int_equal(fr_portmap_load_sp(pm, NS2, r->dir), 1);
	assert_true(fr_portmap_is_listening_sp(pm, NS2, FR_CONN_TCP, 8081));
	assert_false(fr_portmap_is_listening_sp(pm, NS2, FR_CONN_TCP, 22));
	assert_false(fr_portmap_is_listening_sp(pm, NS2, FR_CONN_UDP, 53));
	assert_true(fr_portmap_is_listening_sp(pm, NS1, FR_CONN_TCP, 22));
	fr_portmap_free(pm);
}

static void test_malformed_lines_are_skipped_and_counted(void **state)
{
	struct root *r = *state;
	struct fr_portmap *pm = fr_portmap_new();
	char buf[2048];

	snprintf(buf, sizeof(buf), "%s%s%s%s%s%s%s%s", TCP_HDR,
		 "   0: 00000000:0016 00000000:0000 0A 0 0 0 0 0 1 1\n",  /* good */
		 "   1: 0000000:0017 00000000:0000 0A 0 0\n",             /* 7 hex digits */
		 "   2: 00000000:0018 00000000:0000 ZZ 0 0\n",            /* bad state */
		 "garbage\n",
		 "   3: 00000000:00190 00000000:0000 0A 0\n",             /* 5-digit port */
		 "   4: 00000000000000000000000000000000:001A 00000000000000000000000000000000:0000 0A 0\n", /* v6 in v4 file */
		 "   5: 00000000:001B 00000000:0000\n");                  /* truncated */
	write_file(r, "tcp", buf);
	assert_int_equal(fr_portmap_load_sp(pm, NS1, r->dir), 1);
	assert_int_equal(fr_portmap_malformed_mc(pm), 6);
	assert_true(fr_portmap_is_listening_sp(pm, NS1, FR_CONN_TCP, 22));
	for (uint16_t p = 23; p <= 27; p++)
		assert_false(fr_portmap_is_listening_sp(pm, NS1, FR_CONN_TCP, p));
	uint64_t tm[FR_TM__COUNT] = { 0 };
	fr_portmap_to_telemetry(pm, tm);
	assert_int_equal(tm[FR_TM_PROC_LINES_MALFORMED], 6);
	assert_int_equal(tm[FR_TM_LISTEN_PORTS], 1);
	fr_portmap_free(pm);
}

static void test_huge_file_of_200k_lines_is_streamed(void **state)
{
	struct root *r = *state;
	struct fr_portmap *pm = fr_portmap_new();
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/tcp", r->net);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(TCP_HDR, f);
	for (unsigned i = 0; i < 200000; i++) {
		/* every 4th line listens on a distinct port 1..50000; every 1000th is malformed */
		if (i % 1000 == 999)
			fprintf(f, "%6u: broken line\n", i);
		else
			fprintf(f, "%6u: 0100007F:%04X 0200007F:%04X %s 00000000:00000000 00:00000000 00000000     0        0 %u 1 0000000000000000 100 0 0 10 0\n",
				i, i % 4 == 0 ? i / 4 + 1 : 60000u, i % 4 == 0 ? 0u : 1234u, i % 4 == 0 ? "0A" : "01", i);
	}
	fclose(f);
	int n = fr_portmap_load_sp(pm, NS1, r->dir);
	assert_int_equal(n, 50000); /* lines with i%4==0 are never the malformed i%1000==999 */
	assert_int_equal(fr_portmap_malformed_mc(pm), 200);
	assert_int_equal(fr_portmap_listening_mc(pm), 50000);
	assert_true(fr_portmap_is_listening_sp(pm, NS1, FR_CONN_TCP, 1));
	assert_true(fr_portmap_is_listening_sp(pm, NS1, FR_CONN_TCP, 50000));
	assert_false(fr_portmap_is_listening_sp(pm, NS1, FR_CONN_TCP, 50001));
	fr_portmap_free(pm);
}

static struct fr_conn mk(const char *src, uint16_t sport, const char *dst, uint16_t dport, uint8_t type)
{
	struct fr_conn c = conn_between(src, sport, dst, dport, type);

	c.netns = NS1;
	return c;
}

static void test_direction_follows_listening_ports_local_and_udp_rules(void **state)
{
	struct root *r = *state;
	struct fr_portmap *pm = fr_portmap_new();
	struct fr_host_addr host = { .family = FR_CONN_V4, .addr = { 192, 168, 1, 2 } };

	write_host(r);
	fr_portmap_load_sp(pm, NS1, r->dir);
	assert_int_equal(fr_portmap_set_host_addrs_sp(pm, NS1, &host, 1), 0);

	struct fr_conn c = mk("192.168.1.2", 22, "192.168.1.5", 54321, FR_CONN_TCP);
	assert_int_equal(fr_portmap_direction_sp(pm, &c), FR_DIR_INCOMING);
	c = mk("192.168.1.2", 40000, "192.168.1.8", 443, FR_CONN_TCP);
	assert_int_equal(fr_portmap_direction_sp(pm, &c), FR_DIR_OUTGOING);
	c.netns = NS2; /* port 22 listens in NS1 only */
	c.sport = 22;
	assert_int_equal(fr_portmap_direction_sp(pm, &c), FR_DIR_OUTGOING);
	c = mk("127.0.0.1", 8080, "127.0.0.1", 50000, FR_CONN_TCP);
	assert_int_equal(fr_portmap_direction_sp(pm, &c), FR_DIR_LOCAL);
	c = mk("::1", 50000, "::1", 22, FR_CONN_TCP);
	assert_int_equal(fr_portmap_direction_sp(pm, &c), FR_DIR_LOCAL);
	c = mk("10.0.0.1", 50000, "192.168.1.2", 22, FR_CONN_TCP); /* to a host address */
	assert_int_equal(fr_portmap_direction_sp(pm, &c), FR_DIR_LOCAL);
	c.netns = NS2; /* the host address set is NS1's */
	assert_int_equal(fr_portmap_direction_sp(pm, &c), FR_DIR_OUTGOING);
	c = mk("192.168.1.2", 53, "8.8.4.4", 41000, FR_CONN_UDP);
	assert_int_equal(fr_portmap_direction_sp(pm, &c), FR_DIR_INCOMING);
	c = mk("192.168.1.2", 41000, "8.8.8.8", 53, FR_CONN_UDP);
	assert_int_equal(fr_portmap_direction_sp(pm, &c), FR_DIR_NONE);
	c.flags = FR_CONN_F_UDP_CONNECTED;
	assert_int_equal(fr_portmap_direction_sp(pm, &c), FR_DIR_OUTGOING);
	fr_portmap_free(pm);
}

static void fr_count_progress(void *ctx)
{
	(*(int *)ctx)++;
}

static void test_intra_host_rules(void **state)
{
	int calls = 0;

	(void)state;
	struct fr_conn c = mk("10.0.0.5", 1000, "10.0.0.5", 2000, FR_CONN_TCP);
	assert_true(fr_conn_is_intra_host(&c));
	c = mk("127.0.0.1", 1000, "127.0.0.53", 53, FR_CONN_UDP);
	assert_true(fr_conn_is_intra_host(&c));
	c = mk("10.0.0.5", 1000, "10.0.0.6", 2000, FR_CONN_TCP);
	assert_false(fr_conn_is_intra_host(&c));
	c = mk("::", 50174, "::1", 57040, FR_CONN_UDP); /* unconnected UDP bound to :: sending to ::1 */
	assert_true(fr_conn_is_intra_host(&c));
	c = mk("0.0.0.0", 50174, "8.8.8.8", 53, FR_CONN_UDP);
	assert_false(fr_conn_is_intra_host(&c));

	/* a container 172.17.0.2:5000 -> 172.17.0.3:80 and the server's side 172.17.0.3:80 -> 172.17.0.2:5000;
	 * a NATed client 10.0.0.5:6000 -> 10.96.0.10:443 whose reply comes from 172.17.0.3:80 */
	struct fr_conn batch[4];
	batch[0] = mk("172.17.0.2", 5000, "172.17.0.3", 80, FR_CONN_TCP);
	batch[1] = mk("172.17.0.3", 80, "172.17.0.2", 5000, FR_CONN_TCP);
	batch[2] = mk("10.0.0.5", 6000, "10.96.0.10", 443, FR_CONN_TCP);
	batch[2].flags = FR_CONN_F_NAT;
	inet_pton(AF_INET, "172.17.0.3", batch[2].nat.repl_saddr);
	inet_pton(AF_INET, "10.0.0.5", batch[2].nat.repl_daddr);
	batch[2].nat.repl_sport = 80;
	batch[2].nat.repl_dport = 6000;
	batch[3] = mk("10.0.0.5", 7000, "1.1.1.1", 443, FR_CONN_TCP);
	assert_int_equal(fr_conns_mark_intra_host(batch, 4, fr_count_progress, &calls), 3);
	assert_int_equal(batch[0].intra_host, 1);
	assert_int_equal(batch[1].intra_host, 1);
	assert_int_equal(batch[2].intra_host, 1);
	assert_int_equal(batch[3].intra_host, 0);
	assert_int_equal(calls, 8); /* twice per record: a large batch's caller can do other work meanwhile */
	batch[1].type = FR_CONN_UDP; /* same numbers, other protocol: not the same end */
	batch[0].intra_host = batch[1].intra_host = batch[2].intra_host = 0;
	assert_int_equal(fr_conns_mark_intra_host(batch, 4, NULL, NULL), 0);
}

static void test_classify_sets_direction_and_intra_host(void **state)
{
	(void)state;
	struct fr_portmap *pm = fr_portmap_new();
	struct fr_host_addr host = { .family = FR_CONN_V4, .addr = { 192, 168, 1, 2 } };
	struct fr_conn c = mk("127.0.0.1", 40000, "127.0.0.1", 6379, FR_CONN_TCP);
	fr_portmap_classify_sp(pm, &c);
	assert_int_equal(c.direction, FR_DIR_LOCAL);
	assert_int_equal(c.intra_host, 1);
	/* to one of the host's addresses from an unspecified source: LOCAL, hence intra-host */
	assert_int_equal(fr_portmap_set_host_addrs_sp(pm, NS1, &host, 1), 0);
	c = mk("0.0.0.0", 40000, "192.168.1.2", 53, FR_CONN_UDP);
	fr_portmap_classify_sp(pm, &c);
	assert_int_equal(c.direction, FR_DIR_LOCAL);
	assert_int_equal(c.intra_host, 1);
	c = mk("192.168.1.2", 40000, "192.168.1.9", 443, FR_CONN_TCP);
	fr_portmap_classify_sp(pm, &c);
	assert_int_equal(c.direction, FR_DIR_OUTGOING);
	assert_int_equal(c.intra_host, 0);
	fr_portmap_free(pm);
}

static void test_missing_proc_root_reads_nothing_and_bad_root_fails(void **state)
{
	(void)state;
	struct fr_portmap *pm = fr_portmap_new();
	assert_int_equal(fr_portmap_load_sp(pm, NS1, "/nonexistent-fr-root"), 0);
	assert_int_equal(fr_portmap_load_sp(pm, NS1, NULL), -EINVAL);
	fr_portmap_free(pm);
}

static void test_real_proc_of_this_process_loads(void **state)
{
	(void)state;
	struct fr_portmap *pm = fr_portmap_new();
	assert_true(fr_portmap_load_sp(pm, NS1, "/proc/self") >= 0);
	assert_int_equal(fr_portmap_malformed_mc(pm), 0);
	fr_portmap_free(pm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load_finds_listening_tcp_and_unconnected_udp_v4_and_v6, pm_setup, pm_teardown),
		cmocka_unit_test_setup_teardown(test_events_count_sockets_per_port, pm_setup, pm_teardown),
		cmocka_unit_test_setup_teardown(test_reload_replaces_a_namespace_only, pm_setup, pm_teardown),
		cmocka_unit_test_setup_teardown(test_malformed_lines_are_skipped_and_counted, pm_setup, pm_teardown),
		cmocka_unit_test_setup_teardown(test_huge_file_of_200k_lines_is_streamed, pm_setup, pm_teardown),
		cmocka_unit_test_setup_teardown(test_direction_follows_listening_ports_local_and_udp_rules, pm_setup, pm_teardown),
		cmocka_unit_test(test_intra_host_rules),
		cmocka_unit_test(test_classify_sets_direction_and_intra_host),
		cmocka_unit_test(test_missing_proc_root_reads_nothing_and_bad_root_fails),
		cmocka_unit_test(test_real_proc_of_this_process_loads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
