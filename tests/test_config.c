/* Description: flowringd configuration - defaults, every flag, duration/size parsing, config file (file:line errors,
 * duplicates, unknown keys), command line over file, SIGHUP filter reload. */
#include <errno.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static char fr_tmpdir[] = "/tmp/fr_test_config.XXXXXX";

/* argv is built from a NULL-terminated list; getopt may permute it, so it is a fresh copy each call. */
static int parse(struct fr_config *cfg, char *err, size_t errlen, ...)
{
	char *argv[64];
	int argc = 0;
	va_list ap;

	argv[argc++] = (char *)"flowringd";
	va_start(ap, errlen);
	for (const char *a; (a = va_arg(ap, const char *)) != NULL;)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	return fr_config_parse(cfg, argc, argv, err, errlen);
}

static const char *write_file(const char *name, const char *text)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fr_tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_defaults_match_the_documented_values(void **state)
{
	struct fr_config cfg;
	char err[256];
	(void)state;

	assert_int_equal(parse(&cfg, err, sizeof(err), NULL), 0);
	assert_string_equal(cfg.instance, "default");
	assert_string_equal(cfg.shm_dir, "/dev/shm");
	assert_string_equal(cfg.control_path, "/run/flowring/default.sock");
	assert_false(cfg.group_set);
	assert_int_equal(cfg.publish_interval_ms, 0);
	assert_int_equal(cfg.max_closed, 10000);
	assert_int_equal(cfg.max_tracked, 65536);
	assert_int_equal(cfg.max_clients, 64);
	assert_int_equal(cfg.client_expiry_ms, 120000);
	assert_int_equal(cfg.udp_idle_timeout_ms, 30000);
	assert_int_equal(cfg.exclude_src.n, 0);
	assert_false(cfg.no_conntrack);
	assert_false(cfg.no_udp);
	assert_int_equal(cfg.log_level, FR_LOG_INFO);
	assert_int_equal(cfg.ringbuf_size, 16u << 20);
	assert_int_equal(cfg.tcp_map_entries, 65536);
	assert_int_equal(cfg.udp_map_entries, 65536);
	fr_config_free(&cfg);
}

static void test_every_flag_sets_its_field(void **state)
{
	struct fr_config cfg;
	char err[256];
	(void)state;

	assert_int_equal(parse(&cfg, err, sizeof(err), "--instance", "lab", "--shm-dir", "/tmp/x", "--control",
			       "/tmp/c.sock", "--group", "0", "--publish-interval", "250", "--max-closed", "5",
			       "--max-tracked", "6", "--max-clients", "7", "--client-expiry", "1h", "--udp-idle-timeout",
			       "45", "--exclude-src", "10.0.0.0/8 *", "--exclude-src", "* udp53", "--exclude-dst",
			       "::1 tcp22", "--no-conntrack", "--no-udp", "--log-level", "debug", "--ringbuf-size", "64K",
			       "--tcp-map-entries", "1048576", "--udp-map-entries", "4096", NULL),
			 0);
	assert_string_equal(cfg.instance, "lab");
	assert_string_equal(cfg.shm_dir, "/tmp/x");
	assert_string_equal(cfg.control_path, "/tmp/c.sock");
	assert_true(cfg.group_set);
	assert_int_equal(cfg.group, 0);
	assert_int_equal(cfg.publish_interval_ms, 250);
	assert_int_equal(cfg.max_closed, 5);
	assert_int_equal(cfg.max_tracked, 6);
	assert_int_equal(cfg.max_clients, 7);
	assert_int_equal(cfg.client_expiry_ms, 3600000);
	assert_int_equal(cfg.udp_idle_timeout_ms, 45000);
	assert_int_equal(cfg.exclude_src.n, 2);
	assert_string_equal(cfg.exclude_src.items[0], "10.0.0.0/8 *");
	assert_string_equal(cfg.exclude_src.items[1], "* udp53");
	assert_int_equal(cfg.exclude_dst.n, 1);
	assert_string_equal(cfg.exclude_dst.items[0], "::1 tcp22");
	assert_true(cfg.no_conntrack);
	assert_true(cfg.no_udp);
	assert_int_equal(cfg.log_level, FR_LOG_DEBUG);
	assert_int_equal(cfg.ringbuf_size, 65536);
	assert_int_equal(cfg.tcp_map_entries, 1048576);
	assert_int_equal(cfg.udp_map_entries, 4096);
	fr_config_free(&cfg);

	assert_int_equal(parse(&cfg, err, sizeof(err), "-i", "x2", "--group=root", NULL), 0);
	assert_string_equal(cfg.instance, "x2");
	assert_string_equal(cfg.control_path, "/run/flowring/x2.sock");
	assert_int_equal(cfg.group, 0);
	fr_config_free(&cfg);
}

static void test_help_and_version_return_exit_ok(void **state)
{
	struct fr_config cfg;
	char err[256];
	(void)state;

	assert_int_equal(parse(&cfg, err, sizeof(err), "--version", NULL), FR_CONFIG_EXIT_OK);
	assert_int_equal(parse(&cfg, err, sizeof(err), "-h", NULL), FR_CONFIG_EXIT_OK);
}

static void test_durations_parse_and_reject(void **state)
{
	uint64_t ms;
	(void)state;

	assert_int_equal(fr_config_parse_duration_ms("500ms", 1000, &ms), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(fr_config_parse_duration_ms("30s", 1000, &ms), 0);
	assert_int_equal(ms, 30000);
	assert_int_equal(fr_config_parse_duration_ms("2m", 1000, &ms), 0);
	assert_int_equal(ms, 120000);
	assert_int_equal(fr_config_parse_duration_ms("1h", 1000, &ms), 0);
	assert_int_equal(ms, 3600000);
	assert_int_equal(fr_config_parse_duration_ms("7", 1000, &ms), 0);
	assert_int_equal(ms, 7000);
	assert_int_equal(fr_config_parse_duration_ms("7", 1, &ms), 0);
	assert_int_equal(ms, 7);
	assert_int_equal(fr_config_parse_duration_ms("-5s", 1000, &ms), -EINVAL);
	assert_int_equal(fr_config_parse_duration_ms("+5s", 1000, &ms), -EINVAL);
	assert_int_equal(fr_config_parse_duration_ms("", 1000, &ms), -EINVAL);
	assert_int_equal(fr_config_parse_duration_ms("abc", 1000, &ms), -EINVAL);
	assert_int_equal(fr_config_parse_duration_ms("5x", 1000, &ms), -EINVAL);
	assert_int_equal(fr_config_parse_duration_ms("5s ", 1000, &ms), -EINVAL);
	assert_int_equal(fr_config_parse_duration_ms(" 5s", 1000, &ms), -EINVAL);
	assert_int_equal(fr_config_parse_duration_ms("5sec", 1000, &ms), -EINVAL);
	assert_int_equal(fr_config_parse_duration_ms("99999999999999999999", 1, &ms), -ERANGE);
	assert_int_equal(fr_config_parse_duration_ms("18446744073709551h", 1000, &ms), -ERANGE);
}

static void test_sizes_and_counts_parse_and_reject(void **state)
{
	uint64_t v;
	uint32_t u;
	(void)state;

	assert_int_equal(fr_config_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(fr_config_parse_size("8M", &v), 0);
	assert_int_equal(v, 8u << 20);
	assert_int_equal(fr_config_parse_size("1GiB", &v), 0);
	assert_int_equal(v, 1u << 30);
	assert_int_equal(fr_config_parse_size("1T", &v), -EINVAL);
	assert_int_equal(fr_config_parse_size("-1", &v), -EINVAL);
	assert_int_equal(fr_config_parse_size("17179869184G", &v), -ERANGE);
	assert_int_equal(fr_config_parse_u32("4294967295", 0, UINT32_MAX, &u), 0);
	assert_int_equal(u, UINT32_MAX);
	assert_int_equal(fr_config_parse_u32("4294967296", 0, UINT32_MAX, &u), -ERANGE);
	assert_int_equal(fr_config_parse_u32("12a", 0, 100, &u), -EINVAL);
	assert_int_equal(fr_config_parse_u32("0", 1, 100, &u), -ERANGE);
}

static void test_bad_flag_values_name_the_flag(void **state)
{
	struct fr_config cfg;
	char err[256];
	(void)state;

	assert_int_equal(parse(&cfg, err, sizeof(err), "--max-closed", "-3", NULL), -EINVAL);
	assert_non_null(strstr(err, "--max-closed"));
	assert_non_null(strstr(err, "-3"));
	assert_int_equal(parse(&cfg, err, sizeof(err), "--max-clients", "0", NULL), -EINVAL);
	assert_non_null(strstr(err, "--max-clients"));
	assert_int_equal(parse(&cfg, err, sizeof(err), "--client-expiry", "2 m", NULL), -EINVAL);
	assert_non_null(strstr(err, "--client-expiry"));
	assert_int_equal(parse(&cfg, err, sizeof(err), "--ringbuf-size", "12K", NULL), -EINVAL);
	assert_non_null(strstr(err, "power of two"));
	assert_int_equal(parse(&cfg, err, sizeof(err), "--tcp-map-entries", "100", NULL), -EINVAL);
	assert_non_null(strstr(err, "--tcp-map-entries"));
	assert_int_equal(parse(&cfg, err, sizeof(err), "--udp-map-entries", "lots", NULL), -EINVAL);
	assert_non_null(strstr(err, "--udp-map-entries"));
	assert_int_equal(parse(&cfg, err, sizeof(err), "--log-level", "loud", NULL), -EINVAL);
	assert_non_null(strstr(err, "--log-level"));
	assert_int_equal(parse(&cfg, err, sizeof(err), "--instance", "../etc", NULL), -EINVAL);
	assert_non_null(strstr(err, "--instance"));
	assert_int_equal(parse(&cfg, err, sizeof(err), "--instance", ".hidden", NULL), -EINVAL);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--instance", "a b", NULL), -EINVAL);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--instance", "0123456789abcdef0123456789abcdefX", NULL), -EINVAL);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--group", "no-such-group-here", NULL), -EINVAL);
	assert_non_null(strstr(err, "--group"));
	assert_int_equal(parse(&cfg, err, sizeof(err), "--control", "relative.sock", NULL), -EINVAL);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--bogus", NULL), -EINVAL);
	assert_non_null(strstr(err, "bogus"));
	assert_int_equal(parse(&cfg, err, sizeof(err), "--max-closed", NULL), -EINVAL);
	assert_non_null(strstr(err, "missing value"));
	assert_int_equal(parse(&cfg, err, sizeof(err), "stray", NULL), -EINVAL);
	assert_non_null(strstr(err, "stray"));
}

static void test_config_file_is_read_with_comments(void **state)
{
	struct fr_config cfg;
	char err[256];
	const char *p = write_file("good.conf", "# flowringd\n\n  instance = filed  # trailing comment\n"
						"max-closed=42\nclient-expiry = 30s\nexclude-dst = 10.1.0.0/16 tcp80-90\n"
						"exclude-dst = * udp53\nno-udp = true\n");
	(void)state;

	assert_int_equal(parse(&cfg, err, sizeof(err), "--config", p, NULL), 0);
	assert_string_equal(cfg.instance, "filed");
	assert_string_equal(cfg.control_path, "/run/flowring/filed.sock");
	assert_int_equal(cfg.max_closed, 42);
	assert_int_equal(cfg.client_expiry_ms, 30000);
	assert_int_equal(cfg.exclude_dst.n, 2);
	assert_string_equal(cfg.exclude_dst.items[1], "* udp53");
	assert_true(cfg.no_udp);
	assert_string_equal(cfg.config_path, p);
	fr_config_free(&cfg);
}

static void test_bad_file_line_reports_file_and_line(void **state)
{
	struct fr_config cfg;
	char err[256], want[600];
	const char *p = write_file("bad.conf", "instance = ok\n# c\nmax-tracked = lots\n");
	(void)state;

	assert_int_equal(parse(&cfg, err, sizeof(err), "-c", p, NULL), -EINVAL);
	snprintf(want, sizeof(want), "%s:3: max-tracked", p);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "lots"));

	p = write_file("noeq.conf", "max-tracked 5\n");
	assert_int_equal(parse(&cfg, err, sizeof(err), "-c", p, NULL), -EINVAL);
	assert_non_null(strstr(err, ":1:"));
	assert_non_null(strstr(err, "key = value"));

	p = write_file("empty.conf", "max-tracked =\n");
	assert_int_equal(parse(&cfg, err, sizeof(err), "-c", p, NULL), -EINVAL);
	assert_non_null(strstr(err, "missing value"));

	assert_int_equal(parse(&cfg, err, sizeof(err), "-c", "/nonexistent/flowring.conf", NULL), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/flowring.conf"));
}

static void test_unknown_file_key_is_an_error(void **state)
{
	struct fr_config cfg;
	char err[256];
	const char *p = write_file("unknown.conf", "max-closed = 1\nmax_closed = 2\n");
	(void)state;

	assert_int_equal(parse(&cfg, err, sizeof(err), "-c", p, NULL), -EINVAL);
	assert_non_null(strstr(err, ":2: max_closed: unknown key"));
	p = write_file("nested.conf", "config = /etc/other\n");
	assert_int_equal(parse(&cfg, err, sizeof(err), "-c", p, NULL), -EINVAL);
	assert_non_null(strstr(err, "unknown key"));
}

static void test_duplicate_scalar_key_in_file_is_an_error(void **state)
{
	struct fr_config cfg;
	char err[256];
	const char *p = write_file("dup.conf", "max-closed = 1\nmax-tracked = 3\n\nmax-closed = 2\n");
	(void)state;

	assert_int_equal(parse(&cfg, err, sizeof(err), "-c", p, NULL), -EINVAL);
	assert_non_null(strstr(err, ":4: max-closed: duplicate key (first set at line 1)"));
	p = write_file("dupinst.conf", "instance = a\ninstance = b\n");
	assert_int_equal(parse(&cfg, err, sizeof(err), "-c", p, NULL), -EINVAL);
	assert_non_null(strstr(err, "duplicate"));
}

static void test_command_line_overrides_file(void **state)
{
	struct fr_config cfg;
	char err[256];
	const char *p = write_file("over.conf", "max-closed = 1\nlog-level = warn\nexclude-src = 10.0.0.1 *\n"
						"exclude-dst = 10.0.0.2 *\n");
	(void)state;

	/* flags before and after --config both win over the file */
	assert_int_equal(parse(&cfg, err, sizeof(err), "--max-closed", "99", "-c", p, "--exclude-src", "* tcp22", NULL),
			 0);
	assert_int_equal(cfg.max_closed, 99);
	assert_int_equal(cfg.log_level, FR_LOG_WARN);
	assert_int_equal(cfg.exclude_src.n, 1);
	assert_string_equal(cfg.exclude_src.items[0], "* tcp22");
	assert_true(cfg.exclude_src.from_cmdline);
	assert_int_equal(cfg.exclude_dst.n, 1);
	assert_string_equal(cfg.exclude_dst.items[0], "10.0.0.2 *");
	fr_config_free(&cfg);

	/* a scalar flag repeated on the command line: the last one wins */
	assert_int_equal(parse(&cfg, err, sizeof(err), "--max-closed", "5", "--max-closed", "6", NULL), 0);
	assert_int_equal(cfg.max_closed, 6);
	fr_config_free(&cfg);
}

static void test_reload_replaces_file_filters_and_keeps_cmdline_ones(void **state)
{
	struct fr_config cfg;
	char err[256];
	const char *p = write_file("reload.conf", "exclude-src = 10.0.0.1 *\nexclude-dst = 10.0.0.2 *\n");
	char path[512];
	(void)state;

	snprintf(path, sizeof(path), "%s", p);
	assert_int_equal(parse(&cfg, err, sizeof(err), "-c", path, "--exclude-dst", "1.1.1.1 *", NULL), 0);
	write_file("reload.conf", "max-closed = 3\nexclude-src = 10.9.9.9 *\nexclude-src = * udp\n"
				  "exclude-dst = 10.0.0.3 *\n");
	assert_int_equal(fr_config_reload_filters(&cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.exclude_src.n, 2);
	assert_string_equal(cfg.exclude_src.items[0], "10.9.9.9 *");
	assert_int_equal(cfg.exclude_dst.n, 1);
	assert_string_equal(cfg.exclude_dst.items[0], "1.1.1.1 *");
	assert_int_equal(cfg.max_closed, 10000); /* only filters are reloaded */

	/* a broken file leaves the running filters alone */
	write_file("reload.conf", "exclude-src = 10.8.8.8 *\nbogus = 1\n");
	assert_int_equal(fr_config_reload_filters(&cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":2: bogus"));
	assert_int_equal(cfg.exclude_src.n, 2);
	assert_string_equal(cfg.exclude_src.items[1], "* udp");
	fr_config_free(&cfg);
}

static void test_example_config_file_parses_to_the_defaults(void **state)
{
	static const char *const keys[] = {"instance", "shm-dir", "control", "group", "publish-interval", "max-closed",
					   "max-tracked", "max-clients", "client-expiry", "udp-idle-timeout",
					   "exclude-src", "exclude-dst", "no-conntrack", "no-udp", "log-level",
					   "ringbuf-size", "tcp-map-entries", "udp-map-entries"};
	struct fr_config cfg, def;
	char err[256], line[512];
	FILE *f;
	(void)state;

	assert_int_equal(parse(&cfg, err, sizeof(err), "-c", FR_EXAMPLE_CONF, NULL), 0);
	fr_config_defaults(&def);
	strcpy(def.config_path, FR_EXAMPLE_CONF);
	strcpy(def.control_path, "/run/flowring/default.sock");
	assert_memory_equal(&cfg, &def, sizeof(cfg));
	fr_config_free(&cfg);
	/* and it mentions every key, set or commented out */
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		bool found = false;
		f = fopen(FR_EXAMPLE_CONF, "r");
		assert_non_null(f);
		while (!found && fgets(line, sizeof(line), f)) {
			const char *p = line[0] == '#' ? line + 2 : line;
			found = strncmp(p, keys[i], strlen(keys[i])) == 0 && strncmp(p + strlen(keys[i]), " = ", 3) == 0;
		}
		fclose(f);
		if (!found)
			fail_msg("%s does not mention key '%s'", FR_EXAMPLE_CONF, keys[i]);
	}
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(fr_tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[600];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fr_tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_match_the_documented_values),
		cmocka_unit_test(test_every_flag_sets_its_field),
		cmocka_unit_test(test_help_and_version_return_exit_ok),
		cmocka_unit_test(test_durations_parse_and_reject),
		cmocka_unit_test(test_sizes_and_counts_parse_and_reject),
		cmocka_unit_test(test_bad_flag_values_name_the_flag),
		cmocka_unit_test(test_config_file_is_read_with_comments),
		cmocka_unit_test(test_bad_file_line_reports_file_and_line),
		cmocka_unit_test(test_unknown_file_key_is_an_error),
		cmocka_unit_test(test_duplicate_scalar_key_in_file_is_an_error),
		cmocka_unit_test(test_command_line_overrides_file),
		cmocka_unit_test(test_reload_replaces_file_filters_and_keeps_cmdline_ones),
		cmocka_unit_test(test_example_config_file_parses_to_the_defaults),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
