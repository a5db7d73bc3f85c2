/* Description: under load the tracer reports every connection with 0 drops, and with a tiny ring its
 * drop counter equals generated minus received exactly. Needs root; labelled torture. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/types.h>
#include "flowring.h"
#include "test_tracer_util.h"

#define FR_LOAD_CONNS 20000
#define FR_LOAD_BYTES 64
#define FR_TINY_CONNS 400

static uint64_t fr_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Server process: accept n connections, read FR_LOAD_BYTES, close first (no TIME_WAIT on the
 * client's ephemeral ports). */
static void fr_load_server(int l, int n)
{
	char buf[FR_LOAD_BYTES];

	for (int i = 0; i < n; i++) {
		int c = accept(l, NULL, NULL);

		if (c < 0 || fr_read_full(c, buf, sizeof(buf)))
			_exit(10);
		close(c);
	}
	_exit(0);
}

/* Client loop: n connections, each sends FR_LOAD_BYTES and waits for the server's close. */
static int fr_load_clients(const struct sockaddr_in *a, int n)
{
	char buf[FR_LOAD_BYTES];

	memset(buf, 'z', sizeof(buf));
	for (int i = 0; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);

		if (c < 0 || connect(c, (const struct sockaddr *)a, sizeof(*a)) || fr_write_full(c, buf, sizeof(buf)) ||
		    read(c, buf, 1) != 0)
			return -1;
		close(c);
	}
	return 0;
}

static int fr_listener(struct sockaddr_in *a)
{
	socklen_t len = sizeof(*a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)a, sizeof(*a)) || listen(l, 4096) ||
	    getsockname(l, (struct sockaddr *)a, &len))
		return -1;
	return l;
}

static void test_20000_short_tcp_connections_are_all_reported_with_zero_drops(void **state)
{
	struct fr_col col = { 0 };
	struct fr_tracer_counters cnt;
	struct fr_tracer *t = fr_test_tracer(&col, 0, 0);
	struct sockaddr_in a;
	int l = fr_listener(&a), st, clients = 0, servers = 0, reaped, np;
	struct fr_tracer_prog_stat ps[16];
	unsigned long long misses = 0;
	uint16_t port = ntohs(a.sin_port);
	pid_t srv, cli;

	(void)state;
	assert_non_null(t);
	assert_true(l >= 0);
	srv = fork();
	if (srv == 0)
		fr_load_server(l, FR_LOAD_CONNS);
	close(l);
	cli = fork();
	if (cli == 0)
		_exit(fr_load_clients(&a, FR_LOAD_CONNS) ? 1 : 0);
	/* Drain while the churn runs, as the daemon would. */
	while (waitpid(cli, &st, WNOHANG) == 0)
		fr_tracer_poll(t, 10);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(waitpid(srv, &st, 0), srv);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	for (int i = 0; i < 100; i++)
		fr_tracer_poll(t, 10);
	/* A CLOSE the kernel skipped (recursion miss) is recovered by the liveness pass. */
	reaped = fr_tracer_reap_tcp(t, fr_now_ns());
	assert_true(reaped >= 0);
	fr_tracer_consume(t);
	np = fr_tracer_prog_stats(t, ps, 16);
	for (int i = 0; i < np && i < 16; i++)
		misses += ps[i].recursion_misses;
	for (size_t i = 0; i < col.n; i++) {
		const struct fr_conn *c = &col.v[i];

		if (c->type != FR_CONN_TCP)
			continue;
		if (c->dport == port && c->pid == (uint32_t)cli) {
			assert_int_equal(c->monotonic_sent_bytes, FR_LOAD_BYTES);
			clients++;
		} else if (c->sport == port) {
			assert_int_equal(c->monotonic_recv_bytes, FR_LOAD_BYTES);
			servers++;
		}
	}
	assert_int_equal(fr_tracer_read_counters(t, &cnt), 0);
	fprintf(stderr,
		"load: clients=%d servers=%d records=%zu submitted=%llu wakeups=%llu dropped=%llu reaped=%d "
		"recursion_misses=%llu\n",
		clients, servers, col.n, (unsigned long long)cnt.rb_submitted, (unsigned long long)cnt.rb_wakeups,
		(unsigned long long)cnt.rb_reserve_failed, reaped, (unsigned long long)misses);
	assert_int_equal(clients, FR_LOAD_CONNS);
	assert_int_equal(servers, FR_LOAD_CONNS);
	assert_int_equal(cnt.rb_reserve_failed, 0);
	assert_int_equal(cnt.rb_bytes_dropped, 0);
	assert_int_equal(cnt.tcp_map_full, 0);
	fr_tracer_close(t);
	fr_col_free(&col);
}

static int fr_lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), err = 0;

	if (fd < 0)
		return -errno;
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr))
			err = -errno;
	} else {
		err = -errno;
	}
	close(fd);
	return err;
}

/* Child in its own netns: both ends of FR_TINY_CONNS connections, so 2 records each. */
static void fr_tiny_child(int ready_w, int go_r)
{
	struct sockaddr_in a;
	char go, buf[FR_LOAD_BYTES];
	int l;

	if (unshare(CLONE_NEWNET) || fr_lo_up())
		_exit(10);
	if (fr_write_full(ready_w, "r", 1) || fr_read_full(go_r, &go, 1))
		_exit(11);
	l = fr_listener(&a);
	if (l < 0)
		_exit(12);
	memset(buf, 'q', sizeof(buf));
	for (int i = 0; i < FR_TINY_CONNS; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0), s;

		if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)))
			_exit(13);
		s = accept(l, NULL, NULL);
		if (s < 0 || fr_write_full(c, buf, sizeof(buf)) || fr_read_full(s, buf, sizeof(buf)))
			_exit(14);
		close(s);
		close(c);
	}
	close(l);
	usleep(100000); /* let the FIN exchanges finish inside the namespace */
	_exit(0);
}

static void test_tiny_ring_drop_counter_equals_generated_minus_received(void **state)
{
	struct fr_col col = { 0 };
	struct fr_tracer_counters cnt;
	struct fr_tracer *t;
	int p[2], q[2], st;
	char path[64], c;
	uint32_t ns;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(q), 0);
	pid = fork();
	if (pid == 0)
		fr_tiny_child(p[1], q[0]);
	assert_int_equal(fr_read_full(p[0], &c, 1), 0);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	ns = fr_netns_inode(path);
	assert_true(ns != 0);
	/* One page: room for ~26 records; nothing is consumed until the child is done. */
	t = fr_test_tracer(&col, ns, (uint32_t)sysconf(_SC_PAGESIZE));
	assert_non_null(t);
	assert_int_equal(fr_write_full(q[1], "g", 1), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	usleep(200000); /* the last closes run in softirq after the child's exit */
	fr_tracer_consume(t);
	assert_int_equal(fr_tracer_read_counters(t, &cnt), 0);
	fprintf(stderr, "tiny ring: generated=%d received=%zu dropped=%llu bytes_dropped=%llu port_events=%llu lost=%llu\n",
		2 * FR_TINY_CONNS, col.n, (unsigned long long)cnt.rb_reserve_failed,
		(unsigned long long)cnt.rb_bytes_dropped, (unsigned long long)cnt.port_events,
		(unsigned long long)cnt.port_events_lost);
	assert_true(cnt.rb_reserve_failed > 0);
	assert_int_equal(col.n + cnt.rb_reserve_failed, 2 * FR_TINY_CONNS);
	assert_int_equal(cnt.rb_bytes_dropped, cnt.rb_reserve_failed * sizeof(struct fr_bpf_conn));
	/* the listener's start and stop: each delivered or counted as lost, never both */
	assert_int_equal(cnt.port_events + cnt.port_events_lost, 2);
	assert_int_equal(col.nports, cnt.port_events);
	for (size_t i = 0; i < col.n; i++)
		assert_int_equal(col.v[i].netns, ns);
	fr_tracer_close(t);
	fr_col_free(&col);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_20000_short_tcp_connections_are_all_reported_with_zero_drops),
		cmocka_unit_test(test_tiny_ring_drop_counter_equals_generated_minus_received),
	};

	(void)argc;
	fr_test_require_root(argv[0]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
