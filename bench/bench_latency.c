/* bench_latency.c - close() in a workload -> a consumer blocked in the SDK's wait sees the record, through a real
 * flowringd: p50, p99, p99.9; baselines in the same run: a pipe write -> blocked read (one wake-up), and the same
 * through a relay process (two wake-ups, the shape of flowring's path), under the same --load.
 *
 *   bench_latency FLOWRINGD [--conns N] [--gap-us US] [--load K] [--smoke]
 *
 * The latency of a record is the reader's CLOCK_MONOTONIC when it has the record minus the record's end_ns, which
 * the kernel stamped with the same clock when the socket closed: no clock correlation is needed. Connections are
 * paced (--gap-us apart) so each close meets an idle pipeline, which is the case the budget speaks about. */
#include <flowring/flowring.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e_util.h"

struct fr_lat {
	uint64_t *v;
	size_t n, cap;
};

static int fr_lat_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void fr_lat_print(const char *what, struct fr_lat *l)
{
	if (!l->n) {
		printf("%-36s no samples\n", what);
		return;
	}
	qsort(l->v, l->n, sizeof(l->v[0]), fr_lat_cmp);
	printf("%-36s p50 %8.1f us  p99 %8.1f us  p99.9 %8.1f us  max %8.1f us  (%zu samples)\n", what,
	       l->v[l->n / 2] / 1e3, l->v[l->n * 99 / 100] / 1e3, l->v[l->n * 999 / 1000] / 1e3, l->v[l->n - 1] / 1e3,
	       l->n);
}

/* --nice N: the priority of the delivering side (flowringd, its reader; the relay and reader of the baselines),
 * the workload and the load stay at 0: what an operator gets by giving the daemon and its consumer priority. */
static int fr_nice;

static void fr_nice_self(void)
{
	if (fr_nice)
		setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), fr_nice); /* this thread only */
}

struct fr_reader_arg {
	struct fr_e2e_daemon *d;
	uint16_t port; /* the workload's listening port: its records are the ones timed */
	size_t want;
	struct fr_lat lat;  /* the server end: it closes first */
	struct fr_lat lat2; /* the client end, closed microseconds later: often inside the kernel's wake-up rate limit */
	int ready;
};

static void *fr_reader(void *p)
{
	struct fr_reader_arg *a = p;
	struct fr_events_reader r;
	struct fr_conn c;

	fr_nice_self();
	if (fr_events_open(&r, a->d->shm, a->d->instance, FR_FROM_LATEST) != FR_OK)
		return NULL;
	__atomic_store_n(&a->ready, 1, __ATOMIC_RELEASE);
	uint64_t deadline = fr__now_ns() + 120000000000ull;
	while (a->lat.n < a->want && fr__now_ns() < deadline) {
		int st = fr_events_read(&r, &c);
		if (st == FR_OK) {
			uint64_t now = fr__now_ns();
			/* one sample per socket end; the server's counts the connection */
			if (c.type == FR_CONN_TCP && c.sport == a->port && now > c.end_ns && a->lat.n < a->lat.cap)
				a->lat.v[a->lat.n++] = now - c.end_ns;
			else if (c.type == FR_CONN_TCP && c.dport == a->port && now > c.end_ns && a->lat2.n < a->lat2.cap)
				a->lat2.v[a->lat2.n++] = now - c.end_ns;
		} else if (st == FR_AGAIN) {
			fr_events_wait(&r, 1000);
		} else if (st != FR_LAPPED) {
			break;
		}
	}
	fr_events_close(&r);
	return NULL;
}

static int fr_workload(uint16_t *port_out, size_t n, unsigned gap_us, int listen_fd)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);

	if (getsockname(listen_fd, (struct sockaddr *)&sa, &len) != 0)
		return -errno;
	*port_out = ntohs(sa.sin_port);
	for (size_t i = 0; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) != 0)
			return -errno;
		int a = accept(listen_fd, NULL, NULL);
		if (a < 0)
			return -errno;
		close(c);
		close(a);
		usleep(gap_us);
	}
	return 0;
}

struct fr_pipe_arg {
	int fd;
	size_t n;
	struct fr_lat lat;
};

static void *fr_pipe_reader(void *p)
{
	struct fr_pipe_arg *a = p;
	uint64_t t;

	fr_nice_self();
	while (a->lat.n < a->n && read(a->fd, &t, sizeof(t)) == (ssize_t)sizeof(t))
		a->lat.v[a->lat.n++] = fr__now_ns() - t;
	return NULL;
}

/* The relay of the two-hop baseline: a process blocked in read() that passes each timestamp on, as flowringd
 * passes each record from the kernel's ring buffer to the events ring. */
static void fr_pipe_relay(int in, int out)
{
	uint64_t t;

	fr_nice_self();
	while (read(in, &t, sizeof(t)) == (ssize_t)sizeof(t))
		if (write(out, &t, sizeof(t)) != (ssize_t)sizeof(t))
			break;
	_exit(0);
}

/* Baseline: the same pacing, a timestamp written into a pipe and read by a thread blocked in read(); with hops == 2
 * a relay process sits in between (blocked in read(), then write()), the shape of flowring's path: kernel -> daemon
 * (woken) -> reader (woken). */
static void fr_pipe_baseline(size_t n, unsigned gap_us, int hops, struct fr_lat *out)
{
	struct fr_pipe_arg a = {.n = n, .lat = *out};
	int p[2], q[2] = {-1, -1};
	pid_t relay = -1;
	pthread_t th;

	if (pipe(p) != 0)
		return;
	a.fd = p[0];
	if (hops == 2) {
		if (pipe(q) != 0 || (relay = fork()) < 0) {
			close(p[0]);
			close(p[1]);
			return;
		}
		if (relay == 0) {
			close(p[1]);
			close(q[0]);
			fr_pipe_relay(p[0], q[1]);
		}
		close(p[0]);
		close(q[1]);
		a.fd = q[0];
	}
	pthread_create(&th, NULL, fr_pipe_reader, &a);
	for (size_t i = 0; i < n; i++) {
		uint64_t t = fr__now_ns();
		if (write(p[1], &t, sizeof(t)) != (ssize_t)sizeof(t))
			break;
		usleep(gap_us);
	}
	close(p[1]);
	pthread_join(th, NULL);
	close(a.fd);
	if (relay > 0)
		waitpid(relay, NULL, 0);
	*out = a.lat;
}

/* --load K: K processes spinning on the CPU for the whole run (flowringd and both baselines), so "under load" is
 * measured against baselines under the same load. */
static pid_t fr_load[64];
static int fr_nload;

static void fr_load_start(int k)
{
	for (fr_nload = 0; fr_nload < k; fr_nload++) {
		pid_t pid = fork();
		if (pid == 0) {
			for (volatile uint64_t x = 0;; x++)
				;
		}
		if (pid < 0)
			break;
		fr_load[fr_nload] = pid;
	}
}

static void fr_load_stop(void)
{
	for (int i = 0; i < fr_nload; i++) {
		kill(fr_load[i], SIGKILL);
		waitpid(fr_load[i], NULL, 0);
	}
	fr_nload = 0;
}

static double fr_lat_at(const struct fr_lat *l, size_t per_mille)
{
	return l->n ? (double)l->v[l->n * per_mille / 1000] : 0;
}

static void fr_report(struct fr_lat *fr, struct fr_lat *fr2, struct fr_lat *one, struct fr_lat *two)
{
	fr_lat_print("close() -> consumer, server end", fr);
	fr_lat_print("close() -> consumer, client end", fr2);
	fr_lat_print("pipe, 1 hop (baseline)", one);
	fr_lat_print("pipe, 2 hops via a relay (baseline)", two);
	if (!fr->n || !one->n || !two->n)
		return;
	printf("ratio to the 2-hop baseline: p50 %.2f x, p99 %.2f x, p99.9 %.2f x (to 1 hop: p50 %.2f x, p99 %.2f x)\n",
	       fr_lat_at(fr, 500) / fr_lat_at(two, 500), fr_lat_at(fr, 990) / fr_lat_at(two, 990),
	       fr_lat_at(fr, 999) / fr_lat_at(two, 999), fr_lat_at(fr, 500) / fr_lat_at(one, 500),
	       fr_lat_at(fr, 990) / fr_lat_at(one, 990));
	printf("budget p50 <= 50 us, p99 <= 500 us: %s (p50 %.1f us, p99 %.1f us)\n",
	       fr_lat_at(fr, 500) <= 50e3 && fr_lat_at(fr, 990) <= 500e3 ? "met" : "NOT met", fr_lat_at(fr, 500) / 1e3,
	       fr_lat_at(fr, 990) / 1e3);
}

struct fr_phase {
	struct fr_reader_arg ra;
	struct fr_lat base, base2;
};

static void fr_phase_free(struct fr_phase *ph)
{
	free(ph->ra.lat.v);
	free(ph->ra.lat2.v);
	free(ph->base.v);
	free(ph->base2.v);
}

static int fr_phase_alloc(struct fr_phase *ph, size_t n)
{
	memset(ph, 0, sizeof(*ph));
	ph->ra.lat.v = calloc(n, sizeof(uint64_t));
	ph->ra.lat2.v = calloc(n, sizeof(uint64_t));
	ph->base.v = calloc(n, sizeof(uint64_t));
	ph->base2.v = calloc(n, sizeof(uint64_t));
	if (!ph->ra.lat.v || !ph->ra.lat2.v || !ph->base.v || !ph->base2.v) {
		fr_phase_free(ph);
		return -ENOMEM;
	}
	ph->ra.lat.cap = ph->ra.lat2.cap = ph->base.cap = ph->base2.cap = ph->ra.want = n;
	return 0;
}

/* One measurement: the workload through the daemon, then both baselines, all with `load` spinning processes. */
static int fr_phase_run(struct fr_e2e_daemon *d, int listen_fd, uint16_t port, size_t n, unsigned gap_us, int load)
{
	struct fr_phase ph;
	pthread_t th;
	uint16_t p;
	int rc;

	if (fr_phase_alloc(&ph, n))
		return -ENOMEM;
	ph.ra.d = d;
	ph.ra.port = port;
	printf("\n-- %d spinning load process(es) on %ld CPUs\n", load, sysconf(_SC_NPROCESSORS_ONLN));
	fr_load_start(load);
	pthread_create(&th, NULL, fr_reader, &ph.ra);
	while (!__atomic_load_n(&ph.ra.ready, __ATOMIC_ACQUIRE))
		usleep(1000);
	rc = fr_workload(&p, n, gap_us, listen_fd);
	pthread_join(th, NULL);
	if (!rc) {
		fr_pipe_baseline(n, gap_us, 1, &ph.base);
		fr_pipe_baseline(n, gap_us, 2, &ph.base2);
	}
	fr_load_stop();
	if (rc) {
		fprintf(stderr, "bench_latency: workload failed: %s\n", strerror(-rc));
	} else {
		fr_report(&ph.ra.lat, &ph.ra.lat2, &ph.base, &ph.base2);
		if (ph.ra.lat.n != n) {
			fprintf(stderr, "bench_latency: only %zu of %zu connections were seen\n", ph.ra.lat.n, n);
			rc = -EIO;
		}
	}
	fr_phase_free(&ph);
	return rc;
}

int main(int argc, char **argv)
{
	size_t n = 5000;
	unsigned gap_us = 1000;
	struct fr_e2e_daemon d;
	int load = (int)sysconf(_SC_NPROCESSORS_ONLN);

	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: bench_latency FLOWRINGD [--conns N] [--gap-us US] [--load K] [--nice N] [--smoke]\n"
				"  --load K  after the quiet measurement, measure again with K processes spinning on the\n"
				"            CPUs (default: one per CPU; 0: quiet only)\n"
				"  --nice N  run flowringd and the reader (and the baselines' relay and reader) at nice N\n");
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--smoke")) {
			n = 200;
		} else if (!strcmp(argv[i], "--conns") && i + 1 < argc) {
			n = strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--gap-us") && i + 1 < argc) {
			gap_us = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--nice") && i + 1 < argc) {
			fr_nice = atoi(argv[++i]);
			if (fr_nice < -20 || fr_nice > 19) {
				fprintf(stderr, "bench_latency: --nice must be -20..19\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "--load") && i + 1 < argc) {
			load = atoi(argv[++i]);
			if (load < 0 || load > 64) {
				fprintf(stderr, "bench_latency: --load must be 0..64\n");
				return 2;
			}
		} else {
			fprintf(stderr, "bench_latency: unknown argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (!n) {
		fprintf(stderr, "bench_latency: --conns must be > 0\n");
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: bench_latency needs root (it runs flowringd)\n");
		return 77;
	}
	printf("bench_latency: %zu connections, one every %u us, through flowringd (%s); quiet, then %d spinning; "
	       "delivering side at nice %d\n", n, gap_us, argv[1], load, fr_nice);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(l, 128) != 0 ||
	    getsockname(l, (struct sockaddr *)&sa, &len) != 0 || fr_e2e_daemon_start(&d, argv[1], NULL) != 0) {
		fprintf(stderr, "bench_latency: cannot listen on loopback or start flowringd\n");
		if (l >= 0)
			close(l);
		return 1;
	}
	if (fr_nice && setpriority(PRIO_PROCESS, (id_t)d.pid, fr_nice) != 0)
		fprintf(stderr, "bench_latency: cannot renice flowringd: %s\n", strerror(errno));
	int rc = fr_phase_run(&d, l, ntohs(sa.sin_port), n, gap_us, 0);
	if (!rc && load)
		rc = fr_phase_run(&d, l, ntohs(sa.sin_port), n, gap_us, load);
	fr_e2e_daemon_stop(&d);
	close(l);
	return rc ? 1 : 0;
}
