/* Description: flowringd's lifecycle: bad flags and config exit 2, one daemon per instance, kill -9 and restart
 * leave a consumer following the new generation, SIGTERM leaves nothing behind, per-client publish intervals. */
#include <flowring/flowring.h>

#include <errno.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "control_client.h"
#include "e2e_util.h"

static const char *g_flowringd;

/* Run flowringd with argv (NULL-terminated, without the program) and expect exit code want and a
 * message containing needle. */
static void expect_exit(int want, const char *needle, const char *const *args)
{
	const char *argv[32];
	char out[8192];
	int n = 0;

	argv[n++] = g_flowringd;
	for (int i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	int rc = fr_e2e_run(argv, out, sizeof(out), 60);
	if (rc != want || !strstr(out, needle))
		print_message("exit %d, output:\n%s\n", rc, out);
	assert_int_equal(rc, want);
	assert_non_null(strstr(out, needle));
}

static void test_bad_flag_value_exits_2_naming_the_flag(void **state)
{
	(void)state;
	expect_exit(2, "--max-closed", (const char *const[]){"--max-closed", "lots", NULL});
	expect_exit(2, "--udp-idle-timeout", (const char *const[]){"--udp-idle-timeout", "-3s", NULL});
	expect_exit(2, "--bogus", (const char *const[]){"--bogus", NULL});
}

static void test_bad_filter_exits_2_quoting_the_entry(void **state)
{
	(void)state;
	char dir[] = "/tmp/fr-life-XXXXXX";
	char shm[64], sock[96];
	assert_non_null(mkdtemp(dir));
	snprintf(shm, sizeof(shm), "%s", dir);
	snprintf(sock, sizeof(sock), "%s/ctl.sock", dir);
	expect_exit(2, "10.0.0.0/33",
		    (const char *const[]){"--shm-dir", shm, "--control", sock, "--exclude-src", "10.0.0.0/33=80", NULL});
	/* nothing was started: no socket, no region */
	assert_int_equal(access(sock, F_OK), -1);
	rmdir(dir);
}

static void test_bad_config_file_exits_2_with_file_and_line(void **state)
{
	(void)state;
	char path[] = "/tmp/fr-life-conf-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "# flowringd test config\nmax-closed = 100\nclient-expiry = soon\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	char needle[64];
	snprintf(needle, sizeof(needle), "%s:3", path);
	expect_exit(2, needle, (const char *const[]){"--config", path, NULL});
	unlink(path);
}

static void test_help_and_version_exit_0(void **state)
{
	(void)state;
	expect_exit(0, "--instance", (const char *const[]){"--help", NULL});
	expect_exit(0, "flowringd", (const char *const[]){"--version", NULL});
}

static void test_second_daemon_on_the_same_instance_is_refused_naming_the_holder(void **state)
{
	(void)state;
	struct fr_e2e_daemon d;
	char pid[32], other_sock[160];

	assert_int_equal(fr_e2e_daemon_start(&d, g_flowringd, NULL), 0);
	snprintf(pid, sizeof(pid), "%d", (int)d.pid);
	/* same control socket */
	expect_exit(1, pid,
		    (const char *const[]){"--shm-dir", d.shm, "--control", d.sock, "--instance", d.instance, NULL});
	/* the refused daemon left the first one's lock file alone */
	char lock[160];
	snprintf(lock, sizeof(lock), "%s.lock", d.sock);
	assert_int_equal(access(lock, F_OK), 0);
	/* another control socket, same instance and shm dir: the live region names its producer */
	snprintf(other_sock, sizeof(other_sock), "%s/other.sock", d.dir);
	expect_exit(1, pid,
		    (const char *const[]){"--shm-dir", d.shm, "--control", other_sock, "--instance", d.instance, NULL});
	assert_int_equal(fr_e2e_daemon_stop(&d), 0);
}

static void test_consumer_follows_a_restart_after_kill_9(void **state)
{
	(void)state;
	struct fr_e2e_daemon d;
	struct fr_events_reader r;
	struct fr_e2e_flow f;
	struct fr_conn c;
	int st;

	assert_int_equal(fr_e2e_daemon_start(&d, g_flowringd, NULL), 0);
	assert_int_equal(fr_events_open(&r, d.shm, d.instance, FR_FROM_LATEST), FR_OK);
	uint64_t gen1 = r.region.generation;

	kill(d.pid, SIGKILL);
	waitpid(d.pid, NULL, 0);
	/* the reader learns it within the heartbeat bound (3 x 100 ms) plus a margin, never spinning */
	uint64_t t0 = fr__now_ns();
	do {
		st = fr_events_read(&r, &c);
		if (st == FR_AGAIN)
			fr_events_wait(&r, 50);
	} while ((st == FR_AGAIN || st == FR_PRODUCER_STALE) && fr__now_ns() - t0 < 5000000000ull);
	assert_int_equal(st, FR_PRODUCER_DEAD);

	/* the restart cleans up the dead producer's socket and regions and publishes a new generation */
	assert_int_equal(fr_e2e_daemon_restart(&d, g_flowringd, NULL), 0);
	st = fr_events_read(&r, &c);
	assert_true(st == FR_NEW_GENERATION || st == FR_PRODUCER_DEAD);
	assert_int_equal(fr_events_reopen(&r), FR_OK);
	assert_true(r.region.generation > gen1);

	assert_int_equal(fr_e2e_tcp_pair(AF_INET, 123, 45, &f), 0);
	bool seen = false;
	t0 = fr__now_ns();
	while (!seen && fr__now_ns() - t0 < 10000000000ull) {
		st = fr_events_read(&r, &c);
		if (st == FR_OK)
			seen = fr_e2e_flow_matches(&f, &c) && c.monotonic_sent_bytes == 123;
		else if (st == FR_AGAIN)
			fr_events_wait(&r, 100);
		else
			fail_msg("after restart: %s", fr_status_str(st));
	}
	assert_true(seen);
	fr_events_close(&r);
	assert_int_equal(fr_e2e_daemon_stop(&d), 0);
}

/* Read the events ring until flow marker shows up (10 s at most); count records of flow f before it. */
static int count_until_marker(struct fr_events_reader *r, const struct fr_e2e_flow *f, const struct fr_e2e_flow *marker)
{
	struct fr_conn c;
	int n = 0;
	uint64_t t0 = fr__now_ns();

	while (fr__now_ns() - t0 < 10000000000ull) {
		int st = fr_events_read(r, &c);
		if (st == FR_OK) {
			if (fr_e2e_flow_matches(marker, &c))
				return n;
			n += fr_e2e_flow_matches(f, &c);
		} else if (st == FR_AGAIN) {
			fr_events_wait(r, 100);
		} else {
			fail_msg("events ring: %s", fr_status_str(st));
		}
	}
	fail_msg("marker connection never reported");
	return -1;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	fclose(f);
}

static void test_sighup_reloads_filters_from_the_config_file(void **state)
{
	(void)state;
	struct fr_e2e_daemon d;
	struct fr_events_reader r;
	struct fr_e2e_flow v6, marker;
	char conf[] = "/tmp/fr-life-hup-XXXXXX";
	int fd = mkstemp(conf);
	assert_true(fd >= 0);
	close(fd);
	write_file(conf, "exclude-dst = ::1\n");

	assert_int_equal(fr_e2e_daemon_start(&d, g_flowringd, (const char *const[]){"--config", conf, NULL}), 0);
	assert_int_equal(fr_events_open(&r, d.shm, d.instance, FR_FROM_LATEST), FR_OK);
	assert_int_equal(fr_e2e_tcp_pair(AF_INET6, 10, 10, &v6), 0);
	assert_int_equal(fr_e2e_tcp_pair(AF_INET, 10, 10, &marker), 0);
	assert_int_equal(count_until_marker(&r, &v6, &marker), 0);

	write_file(conf, "# no filters any more\n");
	kill(d.pid, SIGHUP);
	fr_sleep_ms(300);
	assert_int_equal(fr_e2e_tcp_pair(AF_INET6, 10, 10, &v6), 0);
	assert_int_equal(fr_e2e_tcp_pair(AF_INET, 10, 10, &marker), 0);
	assert_int_equal(count_until_marker(&r, &v6, &marker), 2);

	/* both ends of the first IPv6 connection were excluded, and counted */
	uint64_t filtered = 0;
	fr_sleep_ms(300);
	assert_int_equal(fr_e2e_telemetry(&r, "ingest_filtered", &filtered), 0);
	assert_true(filtered >= 2);
	fr_events_close(&r);
	assert_int_equal(fr_e2e_daemon_stop(&d), 0);
	unlink(conf);
}

/* Wait (3 s at most) for a snapshot numbered above after, following a region regrown for many
 * connections (the newer file continues the numbering). */
static void wait_snapshot_after(struct fr_snapshot_reader *r, uint64_t after)
{
	int st;

	while ((st = fr_snapshot_wait(r, after, 3000)) == FR_NEW_GENERATION)
		assert_int_equal(fr_snapshot_reopen(r), FR_OK);
	assert_int_equal(st, FR_OK);
}

static void test_publish_interval_gives_snapshots_without_requests(void **state)
{
	(void)state;
	struct fr_e2e_daemon d;
	struct fr_snapshot_reader r;
	struct fr_ctl_msg m;

	assert_int_equal(fr_e2e_daemon_start(&d, g_flowringd, (const char *const[]){"--publish-interval", "100ms", NULL}), 0);
	int fd = fr_ctl_client_connect(d.sock, 2000);
	assert_true(fd >= 0);
	assert_int_equal(fr_ctl_client_request(fd, FR_CTL_REGISTER, "periodic", &m, 5000), 0);
	close(fd);
	assert_int_equal(fr_snapshot_open(&r, d.shm, d.instance, "periodic"), FR_OK);
	/* nobody asks: three snapshots arrive on the 100 ms tick, well within 3 s */
	uint64_t t0 = fr__now_ns();
	for (uint64_t n = 0; n < 3; n++)
		wait_snapshot_after(&r, n);
	assert_true(fr__now_ns() - t0 < 3000000000ull);
	fr_snapshot_close(&r);
	assert_int_equal(fr_e2e_daemon_stop(&d), 0);
}

static void test_client_registered_with_interval_0_gets_snapshots_only_when_it_asks(void **state)
{
	(void)state;
	struct fr_e2e_daemon d;
	struct fr_snapshot_reader r, dr;
	struct fr_ctl_msg m;

	assert_int_equal(fr_e2e_daemon_start(&d, g_flowringd, (const char *const[]){"--publish-interval", "100ms", NULL}), 0);
	int fd = fr_ctl_client_connect(d.sock, 2000);
	assert_true(fd >= 0);
	assert_int_equal(fr_ctl_client_register(fd, "on-request", 0, &m, 5000), 0);
	assert_int_equal(m.u.reg.created, 1);
	/* the control: a client taking the daemon's default in the same daemon does get the 100 ms tick */
	assert_int_equal(fr_ctl_client_register(fd, "by-default", -1, &m, 5000), 0);
	assert_int_equal(fr_snapshot_open(&r, d.shm, d.instance, "on-request"), FR_OK);
	assert_int_equal(fr_snapshot_open(&dr, d.shm, d.instance, "by-default"), FR_OK);
	/* within at least 1 s: the default client gets three snapshots on the 100 ms tick ... */
	uint64_t t0 = fr__now_ns();
	for (uint64_t n = 0; n < 3; n++)
		wait_snapshot_after(&dr, n);
	uint64_t waited_ms = (fr__now_ns() - t0) / 1000000ull;
	if (waited_ms < 1000)
		fr_sleep_ms((unsigned)(1000 - waited_ms));
	/* ... and the interval-0 one none: its region is live and its head still 0 (acquire: pairs with
	 * the daemon's release stores of RETIRED and of head at commit) */
	assert_int_not_equal(__atomic_load_n(&r.region.hdr->state, __ATOMIC_ACQUIRE), FR_STATE_RETIRED);
	assert_int_equal(__atomic_load_n(&r.region.hdr->head, __ATOMIC_ACQUIRE), 0);
	/* asked: exactly one snapshot */
	assert_int_equal(fr_ctl_client_request(fd, FR_CTL_SNAPSHOT, "on-request", &m, 5000), 0);
	assert_int_equal(m.u.snap.seq, 1);
	wait_snapshot_after(&r, 0);
	fr_sleep_ms(300);
	assert_int_equal(__atomic_load_n(&r.region.hdr->head, __ATOMIC_ACQUIRE), 1);
	/* registering again with an interval switches it to periodic snapshots */
	assert_int_equal(fr_ctl_client_register(fd, "on-request", 100, &m, 5000), 0);
	assert_int_equal(m.u.reg.created, 0);
	t0 = fr__now_ns();
	for (uint64_t n = 1; n < 4; n++)
		wait_snapshot_after(&r, n);
	assert_true(fr__now_ns() - t0 < 3000000000ull);
	/* and back to on request only: the daemon applied it before it replied, so the head stops here */
	assert_int_equal(fr_ctl_client_register(fd, "on-request", 0, &m, 5000), 0);
	uint64_t head = __atomic_load_n(&r.region.hdr->head, __ATOMIC_ACQUIRE);
	fr_sleep_ms(600);
	assert_int_equal(__atomic_load_n(&r.region.hdr->head, __ATOMIC_ACQUIRE), head);
	close(fd);
	fr_snapshot_close(&r);
	fr_snapshot_close(&dr);
	assert_int_equal(fr_e2e_daemon_stop(&d), 0);
}

/* Does process pid hold a BPF map of this type with max_entries == n? (/proc/<pid>/fdinfo of its map fds) */
static bool holds_map(pid_t pid, unsigned type, unsigned n)
{
	char path[64], line[128];
	bool found = false;

	for (int fd = 3; fd < 1024 && !found; fd++) {
		unsigned t = 0, m = 0;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			sscanf(line, "map_type: %u", &t);
			sscanf(line, "max_entries: %u", &m);
		}
		fclose(f);
		found = t == type && m == n;
	}
	return found;
}

static void test_map_entry_flags_size_the_kernel_maps(void **state)
{
	(void)state;
	struct fr_e2e_daemon d;

	assert_int_equal(fr_e2e_daemon_start(&d, g_flowringd,
					     (const char *const[]){"--tcp-map-entries", "3072", "--udp-map-entries", "5120",
								   NULL}),
			 0);
	/* BPF_MAP_TYPE_HASH is 1 */
	assert_true(holds_map(d.pid, 1, 3072));
	assert_true(holds_map(d.pid, 1, 5120));
	assert_int_equal(fr_e2e_daemon_stop(&d), 0);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s FLOWRINGD\n", argv[0]);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: test_flowringd_lifecycle needs root (BPF programs, cgroup hooks)\n");
		return 77;
	}
	g_flowringd = argv[1];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_flag_value_exits_2_naming_the_flag),
		cmocka_unit_test(test_bad_filter_exits_2_quoting_the_entry),
		cmocka_unit_test(test_bad_config_file_exits_2_with_file_and_line),
		cmocka_unit_test(test_help_and_version_exit_0),
		cmocka_unit_test(test_second_daemon_on_the_same_instance_is_refused_naming_the_holder),
		cmocka_unit_test(test_consumer_follows_a_restart_after_kill_9),
		cmocka_unit_test(test_sighup_reloads_filters_from_the_config_file),
		cmocka_unit_test(test_publish_interval_gives_snapshots_without_requests),
		cmocka_unit_test(test_map_entry_flags_size_the_kernel_maps),
		cmocka_unit_test(test_client_registered_with_interval_0_gets_snapshots_only_when_it_asks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
