/* Description: source/destination exclude filters - grammar accept/reject (every reject names the entry), matching, counting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "filter.h"
#include "state_fixture.h"

static struct fr_conn mk(const char *src, uint16_t sport, const char *dst, uint16_t dport, uint8_t type)
{
	return conn_between(src, sport, dst, dport, type);
}

static void test_accepts_every_documented_form(void **state)
{
	static const char *const ok[] = {
		"*",
		"*=53",
		"10.0.0.0/8=tcp:80,udp:1000-2000",
		"10.1.2.3/8=80",
		"192.168.1.7",
		"::1=TCP 8080,9000-9100",
		"fe80::/64=*",
		"2001:db8::1=udp:*",
		"::ffff:10.0.0.0/104=tcp:22",
		"0.0.0.0/0=Udp:1-65535",
		"  10.0.0.1 = tcp : 443 , 8443 ",
		"1.2.3.4=tcp80",
		"10.0.0.0/8=22;192.168.0.0/16=tcp:443",
	};
	char err[256];
	(void)state;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct fr_filter *f = fr_filter_new();
		err[0] = '\0';
		if (fr_filter_parse(f, FR_FILTER_SRC, ok[i], err, sizeof(err)) != 0)
			fail_msg("rejected \"%s\": %s", ok[i], err);
		fr_filter_free(f);
	}
}

static void test_rejects_bad_entries_naming_the_entry_and_the_bad_part(void **state)
{
	static const struct {
		const char *text, *quoted; /* quoted: what the message must contain */
	} bad[] = {
		{ "10.0.0.0/33=80", "address spec \"10.0.0.0/33\" in entry \"10.0.0.0/33=80\"" },
		{ "::1/129", "\"::1/129\"" },
		{ "10.0.0.0/=80", "\"10.0.0.0/\"" },
		{ "10.0.0.0/8x=80", "\"10.0.0.0/8x\"" },
		{ "10.0.0.256=80", "address spec \"10.0.0.256\"" },
		{ "example.com=80", "address spec \"example.com\" in entry \"example.com=80\"" },
		{ "**=80", "\"**\"" },
		{ "10.0.0.1=0", "port spec \"0\" in entry \"10.0.0.1=0\"" },
		{ "10.0.0.1=65536", "port spec \"65536\"" },
		{ "10.0.0.1=2000-1000", "port spec \"2000-1000\" in entry \"10.0.0.1=2000-1000\": range start 2000 is above its end 1000" },
		{ "10.0.0.1=0-10", "port spec \"0-10\"" },
		{ "10.0.0.1=10-", "port spec \"10-\"" },
		{ "10.0.0.1=-10", "port spec \"-10\"" },
		{ "10.0.0.1=sctp:80", "port spec \"sctp:80\"" },
		{ "10.0.0.1=tcp", "port spec \"tcp\"" },
		{ "10.0.0.1=tcp:", "port spec \"tcp:\"" },
		{ "10.0.0.1=80,,81", "filter entry \"10.0.0.1=80,,81\": empty port spec" },
		{ "10.0.0.1=", "filter entry \"10.0.0.1=\": empty port spec" },
		{ "10.0.0.1=+80", "port spec \"+80\"" },
		{ "10.0.0.1=8 0", "port spec \"8 0\"" },
		{ "10.0.0.1=1-2-3", "port spec \"1-2-3\"" },
		{ "", "filter entry \"\"" },
		{ "10.0.0.0/8=22;;", "filter entry \"\"" },
		{ "10.0.0.1=80,tcp:99999", "port spec \"tcp:99999\" in entry \"10.0.0.1=80,tcp:99999\"" },
	};
	char err[256];
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fr_filter *f = fr_filter_new();
		err[0] = '\0';
		if (fr_filter_parse(f, FR_FILTER_DST, bad[i].text, err, sizeof(err)) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i].text);
		if (!strstr(err, bad[i].quoted))
			fail_msg("message for \"%s\" is \"%s\", expected it to contain \"%s\"", bad[i].text, err,
				 bad[i].quoted);
		/* all or nothing */
		assert_int_equal(fr_filter_count(f, FR_FILTER_DST), 0);
		fr_filter_free(f);
	}
}

static void test_map_form_add_accepts_seed_style_specs_and_rejects_bad_ones(void **state)
{
	const char *ports[] = { "TCP 8080", "udp *", "8000-9000" };
	const char *badp[] = { "80", "tcp 0" };
	struct fr_filter *f = fr_filter_new();
	char err[256];
	(void)state;

	assert_int_equal(fr_filter_add(f, FR_FILTER_SRC, "172.16.0.0/12", ports, 3, err, sizeof(err)), 0);
	assert_int_equal(fr_filter_add(f, FR_FILTER_SRC, "10.0.0.1", badp, 2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "port spec \"tcp 0\""));
	assert_non_null(strstr(err, "10.0.0.1"));
	assert_int_equal(fr_filter_count(f, FR_FILTER_SRC), 1);

	struct fr_conn c = mk("172.20.1.1", 8080, "8.8.8.8", 1, FR_CONN_TCP);
	assert_true(fr_filter_match(f, &c));
	c.type = FR_CONN_UDP; /* udp only by the '*' spec */
	c.sport = 1;
	assert_true(fr_filter_match(f, &c));
	c.type = FR_CONN_TCP;
	assert_false(fr_filter_match(f, &c));
	c.sport = 8500;
	assert_true(fr_filter_match(f, &c));
	fr_filter_free(f);
}

static void test_source_entries_match_source_ip_port_and_type(void **state)
{
	struct fr_filter *f = fr_filter_new();
	(void)state;

	assert_int_equal(fr_filter_parse(f, FR_FILTER_SRC, "10.0.0.0/8=tcp:80,udp:1000-2000", NULL, 0), 0);
	struct fr_conn c = mk("10.200.3.4", 80, "1.1.1.1", 5000, FR_CONN_TCP);
	assert_true(fr_filter_match(f, &c));
	c.type = FR_CONN_UDP; /* udp:80 not listed */
	assert_false(fr_filter_match(f, &c));
	c.sport = 1000;
	assert_true(fr_filter_match(f, &c));
	c.sport = 2000;
	assert_true(fr_filter_match(f, &c));
	c.sport = 2001;
	assert_false(fr_filter_match(f, &c));
	c = mk("11.0.0.1", 80, "10.0.0.1", 80, FR_CONN_TCP); /* source outside, dest inside: src rules only */
	assert_false(fr_filter_match(f, &c));
	fr_filter_free(f);
}

static void test_dest_entries_match_dest_ip_port_and_type(void **state)
{
	struct fr_filter *f = fr_filter_new();
	(void)state;

	assert_int_equal(fr_filter_parse(f, FR_FILTER_DST, "*=53", NULL, 0), 0);
	struct fr_conn c = mk("10.0.0.1", 40000, "8.8.8.8", 53, FR_CONN_UDP);
	assert_true(fr_filter_match(f, &c));
	c.type = FR_CONN_TCP;
	assert_true(fr_filter_match(f, &c));
	c = mk("2001:db8::1", 40000, "2001:db8::53", 53, FR_CONN_UDP); /* '*' covers IPv6 too */
	assert_true(fr_filter_match(f, &c));
	c.dport = 54;
	assert_false(fr_filter_match(f, &c));
	c = mk("10.0.0.1", 53, "8.8.8.8", 40000, FR_CONN_UDP); /* port 53 on the source side */
	assert_false(fr_filter_match(f, &c));
	fr_filter_free(f);
}

static void test_bare_ipv6_address_is_a_single_host_not_a_64(void **state)
{
	struct fr_filter *f = fr_filter_new();
	(void)state;

	assert_int_equal(fr_filter_parse(f, FR_FILTER_DST, "2001:db8::1", NULL, 0), 0);
	struct fr_conn c = mk("2001:db8::9", 1, "2001:db8::1", 443, FR_CONN_TCP);
	assert_true(fr_filter_match(f, &c));
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::2", c.daddr), 1); /* same /64 */
	assert_false(fr_filter_match(f, &c));
	fr_filter_free(f);
}

static void test_cidr_prefix_boundaries_and_host_bits(void **state)
{
	struct fr_filter *f = fr_filter_new();
	(void)state;

	/* host bits set in the spec are masked off: 192.168.1.77/25 is 192.168.1.0/25 */
	assert_int_equal(fr_filter_parse(f, FR_FILTER_DST, "192.168.1.77/25;fe80::1234/10", NULL, 0), 0);
	struct fr_conn c = mk("1.1.1.1", 1, "192.168.1.0", 9, FR_CONN_TCP);
	assert_true(fr_filter_match(f, &c));
	c.daddr[3] = 127;
	assert_true(fr_filter_match(f, &c));
	c.daddr[3] = 128;
	assert_false(fr_filter_match(f, &c));
	c = mk("fe80::1", 1, "febf:ffff::1", 9, FR_CONN_UDP);
	assert_true(fr_filter_match(f, &c));
	assert_int_equal(inet_pton(AF_INET6, "fec0::1", c.daddr), 1);
	assert_false(fr_filter_match(f, &c));
	fr_filter_free(f);
}

static void test_v4mapped_spec_and_records_match_ipv4(void **state)
{
	struct fr_filter *f = fr_filter_new();
	(void)state;

	assert_int_equal(fr_filter_parse(f, FR_FILTER_DST, "::ffff:10.0.0.0/104=tcp:22", NULL, 0), 0);
	struct fr_conn c = mk("10.9.9.9", 1, "10.1.2.3", 22, FR_CONN_TCP);
	assert_true(fr_filter_match(f, &c));
	c = mk("::ffff:10.9.9.9", 1, "::ffff:10.1.2.3", 22, FR_CONN_TCP); /* unfolded record */
	assert_true(fr_filter_match(f, &c));
	fr_filter_free(f);
}

static void test_apply_counts_exclusions_monotonically(void **state)
{
	struct fr_filter *f = fr_filter_new();
	(void)state;

	assert_int_equal(fr_filter_parse(f, FR_FILTER_SRC, "127.0.0.0/8", NULL, 0), 0);
	struct fr_conn in = mk("127.0.0.1", 1, "127.0.0.1", 2, FR_CONN_TCP), out = mk("10.0.0.1", 1, "10.0.0.2", 2, FR_CONN_TCP);
	assert_true(fr_filter_apply_sp(f, &in));
	assert_false(fr_filter_apply_sp(f, &out));
	assert_true(fr_filter_apply_sp(f, &in));
	assert_int_equal(fr_filter_excluded_mc(f), 2);
	assert_int_equal(fr_filter_excluded_mc(f), 2);
	fr_filter_free(f);
}

static void test_empty_filter_matches_nothing(void **state)
{
	struct fr_filter *f = fr_filter_new();
	struct fr_conn c = mk("10.0.0.1", 1, "10.0.0.2", 2, FR_CONN_UDP);
	(void)state;
	assert_false(fr_filter_match(f, &c));
	fr_filter_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_every_documented_form),
		cmocka_unit_test(test_rejects_bad_entries_naming_the_entry_and_the_bad_part),
		cmocka_unit_test(test_map_form_add_accepts_seed_style_specs_and_rejects_bad_ones),
		cmocka_unit_test(test_source_entries_match_source_ip_port_and_type),
		cmocka_unit_test(test_dest_entries_match_dest_ip_port_and_type),
		cmocka_unit_test(test_bare_ipv6_address_is_a_single_host_not_a_64),
		cmocka_unit_test(test_cidr_prefix_boundaries_and_host_bits),
		cmocka_unit_test(test_v4mapped_spec_and_records_match_ipv4),
		cmocka_unit_test(test_apply_counts_exclusions_monotonically),
		cmocka_unit_test(test_empty_filter_matches_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
