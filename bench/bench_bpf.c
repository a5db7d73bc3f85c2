/* bench_bpf - kernel-side cost of flowring's BPF programs against Debian's tcplife, and the raw
 * ring-buffer drain rate, in one run.
 *
 *   bench_bpf [--smoke] [--conns N] [--rounds R]
 *
 * A fixed loopback churn (N TCP connections: connect, 64 bytes, server closes) runs R times while
 * flowring's tracer AND /usr/sbin/tcplife are both attached, so both see the same events. Per-program
 * cost comes from the kernel's bpf_stats (run_time_ns / run_cnt deltas per round); the medians
 * over rounds are printed with the ratio to tcplife. Then a churn runs without consuming, and the
 * accumulated records are drained with a no-op consumer: the raw drain rate. Needs root.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "tracer.h"

#define FR_MAXP FR_TRACER_MAX_PROGS
#define FR_MAX_ROUNDS 32
#define FR_PAYLOAD 64
#define FR_TCPLIFE "/usr/sbin/tcplife"

static uint64_t g_closed;

static void fr_noop(void *ctx, const struct fr_conn *c)
{
	(void)ctx;
	(void)c;
	g_closed++;
}

static uint64_t fr_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int fr_full(int fd, char *buf, size_t len, int wr)
{
	while (len) {
		ssize_t n = wr ? write(fd, buf, len) : read(fd, buf, len);

		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* n connections on loopback between two forked processes; the parent drains t meanwhile
 * (unless t is NULL). Returns 0 or -1. */
static int fr_churn(struct fr_tracer *t, int n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), st, ok = 0;
	char buf[FR_PAYLOAD] = { 0 };
	pid_t srv, cli;

	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 4096) ||
	    getsockname(l, (struct sockaddr *)&a, &len))
		return -1;
	srv = fork();
	if (srv == 0) {
		for (int i = 0; i < n; i++) {
			int c = accept(l, NULL, NULL);

			if (c < 0 || fr_full(c, buf, sizeof(buf), 0))
				_exit(1);
			close(c);
		}
		_exit(0);
	}
	close(l);
	cli = fork();
	if (cli == 0) {
		for (int i = 0; i < n; i++) {
			int c = socket(AF_INET, SOCK_STREAM, 0);

			if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) || fr_full(c, buf, sizeof(buf), 1) ||
			    read(c, buf, 1) != 0)
				_exit(1);
			close(c);
		}
		_exit(0);
	}
	if (t) {
		while (waitpid(cli, &st, WNOHANG) == 0)
			fr_tracer_poll(t, 10);
	} else {
		waitpid(cli, &st, 0);
	}
	ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	waitpid(srv, &st, 0);
	ok = ok && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	return ok ? 0 : -1;
}

/* The distinct BPF program ids held by process pid (from /proc/pid/fdinfo "prog_id:"). */
static int fr_prog_ids_of(pid_t pid, uint32_t *ids, int max)
{
	char path[64], line[128];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		char p2[320];
		FILE *f;

		snprintf(p2, sizeof(p2), "%s/%s", path, de->d_name);
		f = fopen(p2, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f) && n < max) {
			unsigned id;

			int dup = 0;

			if (sscanf(line, "prog_id: %u", &id) != 1)
				continue;
			/* the program fd and its link fd both name the program: count it once */
			for (int i = 0; i < n; i++)
				dup |= ids[i] == id;
			if (!dup)
				ids[n++] = id;
		}
		fclose(f);
	}
	closedir(d);
	return n;
}

static int fr_prog_stat_by_id(uint32_t id, uint64_t *cnt, uint64_t *ns)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	if (fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		close(fd);
		return -errno;
	}
	close(fd);
	*cnt = info.run_cnt;
	*ns = info.run_time_ns;
	return 0;
}

static pid_t fr_start_tcplife(uint32_t *ids, int *nids)
{
	pid_t pid;

	*nids = 0;
	if (access(FR_TCPLIFE, X_OK))
		return -1;
	/* tcplife uses a classic tracepoint: tracefs must be mounted (we never need it ourselves). */
	if (access("/sys/kernel/tracing/events", F_OK) && mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL))
		fprintf(stderr, "bench_bpf: cannot mount tracefs: %s\n", strerror(errno));
	pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		dup2(fd, 2);
		execl(FR_TCPLIFE, "tcplife", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100 && *nids == 0; i++) {
		usleep(50000);
		*nids = fr_prog_ids_of(pid, ids, FR_MAXP);
	}
	return pid;
}

static int fr_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double fr_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), fr_cmp);
	return n ? v[n / 2] : 0;
}

int main(int argc, char **argv)
{
	int conns = 20000, rounds = 5, smoke = 0, np, nids = 0, rc = 1;
	struct fr_tracer_prog_stat p0[FR_MAXP], p1[FR_MAXP];
	static double per_prog[FR_MAXP][FR_MAX_ROUNDS], state_ns[FR_MAX_ROUNDS], total_ns[FR_MAX_ROUNDS];
	static double life_ns[FR_MAX_ROUNDS], life_conn[FR_MAX_ROUNDS];
	struct fr_tracer_counters cnt;
	struct fr_tracer_opts o;
	struct fr_tracer *t = NULL;
	uint32_t ids[FR_MAXP];
	pid_t life = -1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--smoke")) {
			smoke = 1;
			conns = 1000;
			rounds = 3;
		} else if (!strcmp(argv[i], "--conns") && i + 1 < argc) {
			conns = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
			rounds = atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: bench_bpf [--smoke] [--conns N] [--rounds R]\n");
			return 2;
		}
	}
	if (rounds < 1 || rounds > FR_MAX_ROUNDS || conns < 1) {
		fprintf(stderr, "bench_bpf: rounds 1..%d, conns >= 1\n", FR_MAX_ROUNDS);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bench_bpf: SKIPPED: needs root to load BPF programs\n");
		return 77;
	}
	fr_tracer_opts_init(&o);
	o.on_closed = fr_noop;
	o.ringbuf_bytes = 32u << 20; /* holds the whole drain-rate burst */
	if (fr_tracer_open(&o, &t))
		goto cleanup;
	life = fr_start_tcplife(ids, &nids);
	if (nids == 0)
		fprintf(stderr, "bench_bpf: %s not running (not installed or failed): no baseline\n", FR_TCPLIFE);

	for (int r = 0; r < rounds; r++) {
		uint64_t lc0 = 0, ln0 = 0, lc1 = 0, ln1 = 0, c0, n0, c1, n1, ours = 0;
		uint64_t closed0 = g_closed;

		np = fr_tracer_prog_stats(t, p0, FR_MAXP);
		for (int i = 0; i < nids; i++)
			if (!fr_prog_stat_by_id(ids[i], &c0, &n0))
				lc0 += c0, ln0 += n0;
		if (np < 0 || fr_churn(t, conns))
			goto cleanup;
		for (int i = 0; i < 50; i++)
			fr_tracer_poll(t, 2);
		fr_tracer_prog_stats(t, p1, FR_MAXP);
		for (int i = 0; i < nids; i++)
			if (!fr_prog_stat_by_id(ids[i], &c1, &n1))
				lc1 += c1, ln1 += n1;
		for (int i = 0; i < np && i < FR_MAXP; i++) {
			uint64_t dc = p1[i].run_cnt - p0[i].run_cnt, dn = p1[i].run_time_ns - p0[i].run_time_ns;

			per_prog[i][r] = dc ? (double)dn / (double)dc : 0;
			ours += dn;
			if (!strcmp(p1[i].name, "fr_tcp_state"))
				state_ns[r] = per_prog[i][r];
		}
		/* per closed connection: 2 records (both ends) per loopback connection */
		total_ns[r] = (double)ours / (double)(g_closed - closed0 ? g_closed - closed0 : 1);
		life_ns[r] = lc1 - lc0 ? (double)(ln1 - ln0) / (double)(lc1 - lc0) : 0;
		life_conn[r] = (double)(ln1 - ln0) / (double)(2 * conns);
	}

	printf("bench_bpf: %d rounds x %d loopback TCP connections (64 B each), %s\n", rounds, conns,
	       smoke ? "smoke" : "full");
	printf("%-22s %16s %16s\n", "program", "ns/run (median)", "recursion misses");
	for (int i = 0; i < np && i < FR_MAXP; i++)
		printf("%-22s %16.0f %16llu\n", p1[i].name, fr_median(per_prog[i], rounds),
		       (unsigned long long)p1[i].recursion_misses);
	{
		double st = fr_median(state_ns, rounds), lf = fr_median(life_ns, rounds);
		double tot = fr_median(total_ns, rounds), lfc = fr_median(life_conn, rounds);

		printf("same hook (inet_sock_set_state): flowring %.0f ns/run, tcplife %.0f ns/run, ratio %.2f "
		       "(goal <= 1000 ns and <= 0.33)\n",
		       st, lf, lf > 0 ? st / lf : 0);
		printf("all programs per closed connection: flowring %.0f ns, tcplife %.0f ns, ratio %.2f\n", tot, lfc,
		       lfc > 0 ? tot / lfc : 0);
	}
	/* Raw drain rate: accumulate one churn's records, then drain them with the no-op consumer. */
	{
		uint64_t before = g_closed, t0, t1;
		int n;

		fr_tracer_consume(t);
		before = g_closed;
		if (fr_churn(NULL, conns))
			goto cleanup;
		usleep(100000);
		t0 = fr_now_ns();
		n = fr_tracer_consume(t);
		t1 = fr_now_ns();
		printf("raw drain: %d records in %.3f ms = %.2f M events/s (no-op consumer)\n", n, (double)(t1 - t0) / 1e6,
		       (double)n / ((double)(t1 - t0) / 1e3));
		/* stragglers: the last closes of the churn may still be in flight in softirq */
		for (int i = 0; i < 100 && g_closed - before < (uint64_t)(2 * conns); i++)
			fr_tracer_poll(t, 10);
		if (g_closed - before < (uint64_t)(2 * conns)) {
			int reaped = fr_tracer_reap_tcp(t, fr_now_ns());

			fprintf(stderr, "bench_bpf: %d connection(s) whose close the kernel did not show, reaped\n", reaped);
			fr_tracer_consume(t);
		}
		if (g_closed - before < (uint64_t)(2 * conns)) {
			/* A tracepoint program interrupted by a softirq on its CPU cannot run nested:
			 * the kernel skips that run and counts a recursion miss. */
			uint64_t misses = 0;

			np = fr_tracer_prog_stats(t, p1, FR_MAXP);
			for (int i = 0; i < np && i < FR_MAXP; i++)
				misses += p1[i].recursion_misses;
			fprintf(stderr, "bench_bpf: drained %llu records, expected %d (recursion misses so far: %llu)\n",
				(unsigned long long)(g_closed - before), 2 * conns, (unsigned long long)misses);
			if (g_closed - before + misses < (uint64_t)(2 * conns))
				goto cleanup;
		}
	}
	if (fr_tracer_read_counters(t, &cnt))
		goto cleanup;
	printf("drops: ringbuf_reserve_failed=%llu tcp_map_full=%llu wakeups=%llu submitted=%llu\n",
	       (unsigned long long)cnt.rb_reserve_failed, (unsigned long long)cnt.tcp_map_full,
	       (unsigned long long)cnt.rb_wakeups, (unsigned long long)cnt.rb_submitted);
	rc = cnt.rb_reserve_failed ? 1 : 0;
cleanup:
	if (life > 0) {
		kill(life, SIGINT);
		waitpid(life, NULL, 0);
	}
	fr_tracer_close(t);
	return rc;
}
