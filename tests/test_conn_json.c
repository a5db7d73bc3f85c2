/* Description: conn_json renders fr_conn as the JSON contract (names, v4/v6, NAT, nulls, ENOSPC). */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conn_json.h"

static void fr_v4(uint8_t a[16], const char *s)
{
	memset(a, 0, 16);
	assert_int_equal(inet_pton(AF_INET, s, a), 1);
}

static void fr_v6(uint8_t a[16], const char *s)
{
	assert_int_equal(inet_pton(AF_INET6, s, a), 1);
}

static void test_v4_tcp_closed_renders_every_contract_field(void **state)
{
	struct fr_conn c = { 0 };
	char buf[FR_CONN_JSON_MAX];
	int n;

	(void)state;
	fr_v4(c.saddr, "10.1.2.3");
	fr_v4(c.daddr, "127.0.0.1");
	c.sport = 40000;
	c.dport = 8080;
	c.type = FR_CONN_TCP;
	c.family = FR_CONN_V4;
	c.direction = FR_DIR_OUTGOING;
	c.pid = 4242;
	c.netns = 4026531840u;
	c.monotonic_sent_bytes = 100;
	c.last_sent_bytes = 10;
	c.monotonic_recv_bytes = 200;
	c.last_recv_bytes = 20;
	c.monotonic_retransmits = 3;
	c.last_retransmits = 1;
	c.rtt_us = 55;
	c.rtt_var_us = 7;
	c.last_update_ns = 123456789;
	c.monotonic_sent_packets = 5;
	c.monotonic_recv_packets = 6;
	c.cookie = 99;
	c.start_ns = 1000;
	c.end_ns = 2000;
	c.flags = FR_CONN_F_CLOSED | FR_CONN_F_LISTENER_SIDE;
	n = fr_conn_json_format(&c, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(buf));
	assert_string_equal(buf,
		"{\"src\":\"10.1.2.3\",\"dst\":\"127.0.0.1\",\"sport\":40000,\"dport\":8080,\"type\":\"tcp\","
		"\"family\":\"v4\",\"direction\":\"outgoing\",\"pid\":4242,\"netns\":4026531840,"
		"\"monotonic_sent_bytes\":100,\"last_sent_bytes\":10,\"monotonic_recv_bytes\":200,"
		"\"last_recv_bytes\":20,\"monotonic_retransmits\":3,\"last_retransmits\":1,\"rtt\":55,"
		"\"rtt_var\":7,\"last_update_epoch\":123456789,\"intra_host\":false,\"ip_translation\":null,"
		"\"dns_successful_responses\":0,\"dns_failed_responses\":0,\"dns_timeouts\":0,"
		"\"dns_success_latency_sum\":0,\"dns_failure_latency_sum\":0,\"sent_packets\":5,"
		"\"recv_packets\":6,\"cookie\":99,\"start_ns\":1000,\"end_ns\":2000,"
		"\"flags\":[\"closed\",\"listener_side\"]}");
}

static void test_v6_udp_with_nat_renders_translation_and_v6_addresses(void **state)
{
	struct fr_conn c = { 0 };
	char buf[FR_CONN_JSON_MAX];

	(void)state;
	fr_v6(c.saddr, "fd00::1");
	fr_v6(c.daddr, "2001:db8::53");
	fr_v6(c.nat.repl_saddr, "2001:db8::53");
	fr_v6(c.nat.repl_daddr, "fd00::99");
	c.nat.repl_sport = 53;
	c.nat.repl_dport = 5353;
	c.sport = 5353;
	c.dport = 53;
	c.type = FR_CONN_UDP;
	c.family = FR_CONN_V6;
	c.direction = FR_DIR_NONE;
	c.intra_host = 1;
	c.flags = FR_CONN_F_NAT | FR_CONN_F_UDP_CONNECTED;
	assert_true(fr_conn_json_format(&c, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"src\":\"fd00::1\",\"dst\":\"2001:db8::53\""));
	assert_non_null(strstr(buf, "\"type\":\"udp\",\"family\":\"v6\",\"direction\":\"none\""));
	assert_non_null(strstr(buf, "\"intra_host\":true"));
	assert_non_null(strstr(buf, "\"ip_translation\":{\"repl_src_ip\":\"2001:db8::53\",\"repl_dst_ip\":\"fd00::99\","
				    "\"repl_src_port\":53,\"repl_dst_port\":5353}"));
	assert_non_null(strstr(buf, "\"flags\":[\"nat\",\"udp_connected\"]"));
}

static void test_unknown_direction_and_active_end_render_null(void **state)
{
	struct fr_conn c = { 0 };
	char buf[FR_CONN_JSON_MAX];

	(void)state;
	c.direction = FR_DIR_UNKNOWN;
	assert_true(fr_conn_json_format(&c, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"direction\":null"));
	assert_non_null(strstr(buf, "\"end_ns\":null"));
	assert_non_null(strstr(buf, "\"flags\":[]"));
	assert_null(strstr(buf, "\"none\""));
}

static void test_small_buffer_returns_enospc_and_stays_terminated(void **state)
{
	struct fr_conn c = { 0 };
	char buf[64];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(fr_conn_json_format(&c, buf, sizeof(buf)), -ENOSPC);
	assert_true(memchr(buf, '\0', sizeof(buf)) != NULL);
	assert_int_equal(fr_conn_json_format(&c, buf, 0), -ENOSPC);
}

static void test_largest_record_fits_the_documented_maximum(void **state)
{
	struct fr_conn c;
	char buf[FR_CONN_JSON_MAX];

	(void)state;
	memset(&c, 0xff, sizeof(c));
	c.family = FR_CONN_V6;
	c.type = FR_CONN_UDP;
	c.direction = FR_DIR_INCOMING;
	assert_true(fr_conn_json_format(&c, buf, sizeof(buf)) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_tcp_closed_renders_every_contract_field),
		cmocka_unit_test(test_v6_udp_with_nat_renders_translation_and_v6_addresses),
		cmocka_unit_test(test_unknown_direction_and_active_end_render_null),
		cmocka_unit_test(test_small_buffer_returns_enospc_and_stays_terminated),
		cmocka_unit_test(test_largest_record_fits_the_documented_maximum),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
