/* bench_latency.c - close() in a workload -> a consumer blocked in the SDK's wait sees the record, through a real
 * flowringd: p50, p99, p99.9; with a pipe write -> blocked read in the same run as the baseline.
 *
 *   bench_latency FLOWRINGD [--conns N] [--gap-us US] [--smoke]
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
		printf("%-34s no samples\n", what);
		return;
	}
	qsort(l->v, l->n, sizeof(l->v[0]), fr_lat_cmp);
	printf("%-34s p50 %8.1f us  p99 %8.1f us  p99.9 %8.1f us  max %8.1f us  (%zu samples)\n", what,
	       l->v[l->n / 2] / 1e3, l->v[l->n * 99 / 100] / 1e3, l->v[l->n * 999 / 1000] / 1e3, l->v[l->n - 1] / 1e3,
	       l->n);
}

struct fr_reader_arg {
	struct fr_e2e_daemon *d;
	uint16_t port; /* the workload's listening port: its records are the ones timed */
	size_t want;
	struct fr_lat lat;
	int ready;
};

static void *fr_reader(void *p)
{
	struct fr_reader_arg *a = p;
	struct fr_events_reader r;
	struct fr_conn c;

	if (fr_events_open(&r, a->d->shm, a->d->instance, FR_FROM_LATEST) != FR_OK)
		return NULL;
	__atomic_store_n(&a->ready, 1, __ATOMIC_RELEASE);
	uint64_t deadline = fr__now_ns() + 120000000000ull;
	while (a->lat.n < a->want && fr__now_ns() < deadline) {
		int st = fr_events_read(&r, &c);
		if (st == FR_OK) {
			uint64_t now = fr__now_ns();
			/* the server end of each connection: one sample per connection */
			if (c.type == FR_CONN_TCP && c.sport == a->port && now > c.end_ns && a->lat.n < a->lat.cap)
				a->lat.v[a->lat.n++] = now - c.end_ns;
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

	while (a->lat.n < a->n && read(a->fd, &t, sizeof(t)) == (ssize_t)sizeof(t))
		a->lat.v[a->lat.n++] = fr__now_ns() - t;
	return NULL;
}

/* Baseline: the same pacing, a timestamp written into a pipe, read by a thread blocked in read(). */
static void fr_pipe_baseline(size_t n, unsigned gap_us, struct fr_lat *out)
{
	struct fr_pipe_arg a = {.n = n, .lat = *out};
	int p[2];
	pthread_t th;

	if (pipe(p) != 0)
		return;
	a.fd = p[0];
	pthread_create(&th, NULL, fr_pipe_reader, &a);
	for (size_t i = 0; i < n; i++) {
		uint64_t t = fr__now_ns();
		if (write(p[1], &t, sizeof(t)) != (ssize_t)sizeof(t))
			break;
		usleep(gap_us);
	}
	close(p[1]);
	pthread_join(th, NULL);
	close(p[0]);
	*out = a.lat;
}

int main(int argc, char **argv)
{
	size_t n = 5000;
	unsigned gap_us = 1000;
	struct fr_e2e_daemon d;
	struct fr_reader_arg ra = {0};
	struct fr_lat base = {0};
	pthread_t th;

	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: bench_latency FLOWRINGD [--conns N] [--gap-us US] [--smoke]\n");
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--smoke")) {
			n = 200;
		} else if (!strcmp(argv[i], "--conns") && i + 1 < argc) {
			n = strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--gap-us") && i + 1 < argc) {
			gap_us = (unsigned)strtoul(argv[++i], NULL, 10);
		} else {
			fprintf(stderr, "bench_latency: unknown argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: bench_latency needs root (it runs flowringd)\n");
		return 77;
	}
	ra.lat.v = calloc(n, sizeof(uint64_t));
	base.v = calloc(n, sizeof(uint64_t));
	if (!ra.lat.v || !base.v) {
		free(ra.lat.v);
		free(base.v);
		return 1;
	}
	ra.lat.cap = n;
	base.cap = n;
	ra.want = n;
	ra.d = &d;

	printf("bench_latency: %zu connections, one every %u us, through flowringd (%s)\n", n, gap_us, argv[1]);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(l, 128) != 0 ||
	    fr_e2e_daemon_start(&d, argv[1], NULL) != 0) {
		fprintf(stderr, "bench_latency: cannot listen on loopback or start flowringd\n");
		free(ra.lat.v);
		free(base.v);
		return 1;
	}
	socklen_t len = sizeof(sa);
	getsockname(l, (struct sockaddr *)&sa, &len);
	ra.port = ntohs(sa.sin_port);
	pthread_create(&th, NULL, fr_reader, &ra);
	while (!__atomic_load_n(&ra.ready, __ATOMIC_ACQUIRE))
		usleep(1000);
	uint16_t port;
	int rc = fr_workload(&port, n, gap_us, l);
	pthread_join(th, NULL);
	fr_e2e_daemon_stop(&d);
	close(l);
	if (rc) {
		fprintf(stderr, "bench_latency: workload failed: %s\n", strerror(-rc));
		free(ra.lat.v);
		free(base.v);
		return 1;
	}
	fr_pipe_baseline(n, gap_us, &base);
	fr_lat_print("close() -> consumer (flowringd)", &ra.lat);
	fr_lat_print("pipe write -> read (baseline)", &base);
	if (ra.lat.n && base.n)
		printf("ratio p50 %.2f x, p99 %.2f x the baseline\n",
		       (double)ra.lat.v[ra.lat.n / 2] / (double)base.v[base.n / 2],
		       (double)ra.lat.v[ra.lat.n * 99 / 100] / (double)base.v[base.n * 99 / 100]);
	int ok = ra.lat.n == n;
	if (!ok)
		fprintf(stderr, "bench_latency: only %zu of %zu connections were seen\n", ra.lat.n, n);
	free(ra.lat.v);
	free(base.v);
	return ok ? 0 : 1;
}
