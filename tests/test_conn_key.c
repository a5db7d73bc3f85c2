/* Description: connection keys - packing, v4-mapped folding, hashing, BeautifyKey, ConnectionSummary, packed records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "conn_key.h"

static struct fr_conn v4conn(const char *s, uint16_t sp, const char *d, uint16_t dp, uint32_t pid, uint8_t type)
{
	struct fr_conn c;
	memset(&c, 0, sizeof(c));
	assert_int_equal(inet_pton(AF_INET, s, c.saddr), 1);
	assert_int_equal(inet_pton(AF_INET, d, c.daddr), 1);
	c.sport = sp;
	c.dport = dp;
	c.pid = pid;
	c.type = type;
	c.family = FR_CONN_V4;
	return c;
}

static struct fr_conn v6conn(const char *s, uint16_t sp, const char *d, uint16_t dp, uint32_t pid, uint8_t type)
{
	struct fr_conn c;
	memset(&c, 0, sizeof(c));
	assert_int_equal(inet_pton(AF_INET6, s, c.saddr), 1);
	assert_int_equal(inet_pton(AF_INET6, d, c.daddr), 1);
	c.sport = sp;
	c.dport = dp;
	c.pid = pid;
	c.type = type;
	c.family = FR_CONN_V6;
	return c;
}

static void test_beautify_key_matches_reference_format_v4(void **state)
{
	(void)state;
	struct fr_conn c = v4conn("10.0.0.1", 5000, "10.0.0.2", 80, 4242, FR_CONN_TCP);
	struct fr_conn_key k;
	char buf[FR_CONN_KEY_TEXT_MAX];

	fr_conn_key_from_conn(&k, &c);
	assert_int_equal(fr_conn_key_beautify(&k, buf, sizeof(buf)), (int)strlen("p:4242|src:10.0.0.1:5000|dst:10.0.0.2:80|f:0|t:0"));
	assert_string_equal(buf, "p:4242|src:10.0.0.1:5000|dst:10.0.0.2:80|f:0|t:0");
}

static void test_beautify_key_v6_udp_prints_family_and_type_numbers(void **state)
{
	(void)state;
	struct fr_conn c = v6conn("2001:db8::1", 53, "2001:db8::2", 40000, 7, FR_CONN_UDP);
	struct fr_conn_key k;
	char buf[FR_CONN_KEY_TEXT_MAX];

	fr_conn_key_from_conn(&k, &c);
	fr_conn_key_beautify(&k, buf, sizeof(buf));
	assert_string_equal(buf, "p:7|src:2001:db8::1:53|dst:2001:db8::2:40000|f:1|t:1");
}

static void test_beautify_key_reports_enospc_when_buffer_small(void **state)
{
	(void)state;
	struct fr_conn c = v4conn("10.0.0.1", 5000, "10.0.0.2", 80, 4242, FR_CONN_TCP);
	struct fr_conn_key k;
	char buf[10];

	fr_conn_key_from_conn(&k, &c);
	assert_int_equal(fr_conn_key_beautify(&k, buf, sizeof(buf)), -ENOSPC);
	assert_int_equal(strlen(buf), 9);
}

static void test_v4mapped_addresses_fold_to_the_ipv4_key(void **state)
{
	(void)state;
	struct fr_conn m = v6conn("::ffff:192.168.1.5", 443, "::ffff:10.1.2.3", 51000, 99, FR_CONN_TCP);
	struct fr_conn p = v4conn("192.168.1.5", 443, "10.1.2.3", 51000, 99, FR_CONN_TCP);
	struct fr_conn_key km, kp;
	char buf[FR_CONN_KEY_TEXT_MAX];

	fr_conn_key_from_conn(&km, &m);
	fr_conn_key_from_conn(&kp, &p);
	assert_true(fr_conn_key_equal(&km, &kp));
	assert_int_equal(fr_conn_key_hash(&km, 1), fr_conn_key_hash(&kp, 1));
	assert_int_equal(fr_conn_key_family(&km), FR_CONN_V4);
	fr_conn_key_beautify(&km, buf, sizeof(buf));
	assert_string_equal(buf, "p:99|src:192.168.1.5:443|dst:10.1.2.3:51000|f:0|t:0");

	assert_true(fr_conn_fold_v4mapped(&m));
	assert_int_equal(m.family, FR_CONN_V4);
	assert_memory_equal(m.saddr, p.saddr, 16);
	assert_memory_equal(m.daddr, p.daddr, 16);
}

static void test_real_ipv6_peer_is_not_folded(void **state)
{
	(void)state;
	struct fr_conn c = v6conn("::ffff:192.168.1.5", 443, "2001:db8::9", 51000, 1, FR_CONN_TCP);
	struct fr_conn copy = c;
	struct fr_conn_key k;

	assert_false(fr_conn_fold_v4mapped(&c));
	assert_memory_equal(&c, &copy, sizeof(c));
	fr_conn_key_from_conn(&k, &c);
	assert_int_equal(fr_conn_key_family(&k), FR_CONN_V6);
}

static void test_key_fields_round_trip_and_differ_by_each_component(void **state)
{
	(void)state;
	struct fr_conn base = v4conn("10.0.0.1", 1000, "10.0.0.2", 2000, 55, FR_CONN_TCP);
	struct fr_conn_key k0, k;
	uint8_t a[16], want[16] = { 10, 0, 0, 2 };

	fr_conn_key_from_conn(&k0, &base);
	assert_int_equal(fr_conn_key_pid(&k0), 55);
	assert_int_equal(fr_conn_key_sport(&k0), 1000);
	assert_int_equal(fr_conn_key_dport(&k0), 2000);
	assert_int_equal(fr_conn_key_type(&k0), FR_CONN_TCP);
	fr_conn_key_daddr(&k0, a);
	assert_memory_equal(a, want, 16);
	assert_int_equal(fr_conn_key_len(k0.b), FR_CONN_KEY_V4_LEN);

	struct fr_conn v[6];
	for (int i = 0; i < 6; i++)
		v[i] = base;
	v[0].pid = 56;
	v[1].sport = 1001;
	v[2].dport = 2001;
	v[3].type = FR_CONN_UDP;
	v[4].saddr[3] = 9;
	v[5].daddr[3] = 9;
	for (int i = 0; i < 6; i++) {
		fr_conn_key_from_conn(&k, &v[i]);
		assert_false(fr_conn_key_equal(&k, &k0));
	}
	/* netns and direction are not part of the key */
	base.netns = 12345;
	base.direction = FR_DIR_INCOMING;
	fr_conn_key_from_conn(&k, &base);
	assert_true(fr_conn_key_equal(&k, &k0));
}

static void test_hash_depends_on_seed_and_spreads_ports(void **state)
{
	(void)state;
	struct fr_conn c = v4conn("10.0.0.1", 1, "10.0.0.2", 80, 1, FR_CONN_TCP);
	struct fr_conn_key k;
	uint64_t seen[1024];
	int buckets[64] = { 0 };

	fr_conn_key_from_conn(&k, &c);
	assert_int_not_equal(fr_conn_key_hash(&k, 1), fr_conn_key_hash(&k, 2));
	for (int i = 0; i < 1024; i++) {
		c.sport = (uint16_t)(1 + i);
		fr_conn_key_from_conn(&k, &c);
		seen[i] = fr_conn_key_hash(&k, 42);
		buckets[seen[i] & 63]++;
	}
	for (int i = 0; i < 64; i++) /* 16 expected per bucket */
		assert_true(buckets[i] > 2 && buckets[i] < 40);
}

static void test_connection_summary_tcp_line(void **state)
{
	(void)state;
	struct fr_conn c = v4conn("10.0.0.1", 5000, "10.0.0.2", 80, 4242, FR_CONN_TCP);
	char buf[FR_CONN_SUMMARY_MAX];

	c.direction = FR_DIR_OUTGOING;
	c.monotonic_sent_bytes = 1536;
	c.last_sent_bytes = 512;
	c.monotonic_recv_bytes = 10;
	c.last_recv_bytes = 10;
	c.monotonic_retransmits = 2;
	c.last_retransmits = 1;
	c.rtt_us = 150;
	c.rtt_var_us = 20;
	assert_true(fr_conn_summary(&c, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "tcp pid 4242 10.0.0.1:5000 -> 10.0.0.2:80 outgoing sent 1.5KiB (+512B) recv 10B (+10B) "
				 "retrans 2 (+1) rtt 150us/20us");
}

static void test_connection_summary_udp_v6_with_nat(void **state)
{
	(void)state;
	struct fr_conn c = v6conn("fd00::1", 53, "fd00::2", 40000, 7, FR_CONN_UDP);
	char buf[FR_CONN_SUMMARY_MAX];

	c.direction = FR_DIR_NONE;
	c.monotonic_sent_bytes = 3 * 1024 * 1024;
	c.flags = FR_CONN_F_NAT;
	assert_int_equal(inet_pton(AF_INET6, "fd00::9", c.nat.repl_saddr), 1);
	assert_int_equal(inet_pton(AF_INET6, "fd00::1", c.nat.repl_daddr), 1);
	c.nat.repl_sport = 8053;
	c.nat.repl_dport = 53;
	fr_conn_summary(&c, buf, sizeof(buf));
	assert_string_equal(buf, "udp pid 7 [fd00::1]:53 -> [fd00::2]:40000 none sent 3.0MiB (+0B) recv 0B (+0B) "
				 "nat [fd00::9]:8053 -> [fd00::1]:53");
	assert_int_equal(fr_conn_summary(&c, buf, 20), -ENOSPC);
	assert_int_equal(strlen(buf), 19);
}

static void test_packed_record_round_trips_every_field(void **state)
{
	(void)state;
	struct fr_conn c = v6conn("2001:db8::1", 443, "2001:db8::2", 51000, 77, FR_CONN_TCP), out;
	uint8_t buf[FR_CONN_PACKED_MAX];
	size_t n;

	c.monotonic_sent_bytes = 123456789012ull;
	c.monotonic_recv_bytes = 5;
	c.monotonic_sent_packets = 300;
	c.monotonic_recv_packets = 1;
	c.last_update_ns = 1000000000000ull;
	c.start_ns = c.last_update_ns - 5000000;
	c.end_ns = c.last_update_ns + 7;
	c.cookie = 0xdeadbeefcafeull;
	c.dns_success_latency_sum = 11;
	c.dns_failure_latency_sum = 12;
	c.monotonic_retransmits = 3;
	c.rtt_us = 150;
	c.rtt_var_us = 20;
	c.netns = 4026531840u;
	c.dns_successful_responses = 4;
	c.dns_failed_responses = 5;
	c.dns_timeouts = 6;
	c.flags = FR_CONN_F_CLOSED | FR_CONN_F_NAT;
	c.direction = FR_DIR_INCOMING;
	c.intra_host = 1;
	memset(c.nat.repl_saddr, 0xab, 16);
	c.nat.repl_sport = 9;
	c.resv[3] = 1;
	n = fr_conn_pack(&c, buf);
	assert_true(n <= FR_CONN_PACKED_MAX);
	assert_int_equal(fr_conn_packed_last_update(buf), c.last_update_ns);
	fr_conn_unpack(buf, &out);
	assert_memory_equal(&out, &c, sizeof(c)); /* last_* are zero in both */
}

static void test_packed_ipv4_record_is_small(void **state)
{
	(void)state;
	struct fr_conn c = v4conn("10.0.0.1", 40000, "10.0.0.2", 443, 123456, FR_CONN_TCP), out;
	uint8_t buf[FR_CONN_PACKED_MAX];
	size_t n;

	c.monotonic_sent_bytes = 20000;
	c.monotonic_recv_bytes = 800000;
	c.monotonic_sent_packets = 40;
	c.monotonic_recv_packets = 600;
	c.last_update_ns = 86400ull * 1000000000ull;
	c.start_ns = c.last_update_ns - 2000000;
	c.end_ns = c.last_update_ns;
	c.cookie = 123456;
	c.rtt_us = 400;
	c.rtt_var_us = 100;
	c.netns = 4026531840u;
	c.flags = FR_CONN_F_CLOSED;
	c.direction = FR_DIR_OUTGOING;
	n = fr_conn_pack(&c, buf);
	assert_true(n <= 64); /* 240 unpacked */
	fr_conn_unpack(buf, &out);
	assert_memory_equal(&out, &c, sizeof(c));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_beautify_key_matches_reference_format_v4),
		cmocka_unit_test(test_beautify_key_v6_udp_prints_family_and_type_numbers),
		cmocka_unit_test(test_beautify_key_reports_enospc_when_buffer_small),
		cmocka_unit_test(test_v4mapped_addresses_fold_to_the_ipv4_key),
		cmocka_unit_test(test_real_ipv6_peer_is_not_folded),
		cmocka_unit_test(test_key_fields_round_trip_and_differ_by_each_component),
		cmocka_unit_test(test_hash_depends_on_seed_and_spreads_ports),
		cmocka_unit_test(test_connection_summary_tcp_line),
		cmocka_unit_test(test_connection_summary_udp_v6_with_nat),
		cmocka_unit_test(test_packed_record_round_trips_every_field),
		cmocka_unit_test(test_packed_ipv4_record_is_small),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
