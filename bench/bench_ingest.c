/* bench_ingest.c - closed-connection events made in the kernel, through flowringd's whole pipeline: the tracer's
 * real BPF ring buffer -> filters -> direction -> NAT lookup -> per-client state (1, 8, 64 clients) -> events ring.
 * Prints events/s end to end and, in the same run, the raw drain rate of the same ring buffer with a no-op
 * consumer, and their ratio.
 *
 *   bench_ingest [--events N] [--chunk N] [--clients N] [--smoke]
 *
 * An in-kernel program (bpf/inject.bpf.c) writes records into the tracer's ring buffer map (its fd is reused) with
 * BPF_PROG_TEST_RUN and bpf_loop; then the daemon's drain runs the pipeline over them. Generation and drain
 * alternate on one thread, so the drain time is measured alone (CLOCK_THREAD_CPUTIME_ID and wall clock). After each
 * chunk every client reads (not timed), as clients do, so closed buffers never sit at their cap. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "bench_daemon.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "region.h"
#include "state.h"
#include "tracer.h"

static int fr_noop(void *ctx, void *data, size_t len)
{
	(void)data;
	(*(uint64_t *)ctx) += len ? 1 : 0;
	return 0;
}

/* The same ring, drained by a bare libbpf consumer that only counts: the ceiling the pipeline is compared with. */
static int fr_raw_drain(struct inject_bpf *sk, int rb_fd, uint64_t total, uint64_t chunk, struct fr_clock *spent)
{
	uint64_t seen = 0;
	struct ring_buffer *rb = ring_buffer__new(rb_fd, fr_noop, &seen, NULL);
	int rc = 0;

	if (!rb)
		return -errno;
	for (uint64_t done = 0; done < total && !rc; done += chunk) {
		rc = fr_bench_inject(sk, done, chunk);
		struct fr_clock a = fr_clock_now();
		ring_buffer__consume(rb);
		struct fr_clock b = fr_clock_now();
		spent->wall += b.wall - a.wall;
		spent->cpu += b.cpu - a.cpu;
	}
	ring_buffer__free(rb);
	if (!rc && seen != total)
		rc = -EPROTO;
	return rc;
}

/* One configuration: a fresh daemon with nclients registered, total events through its pipeline. */
static int fr_pipeline_run(struct fr_config *cfg, unsigned nclients, uint64_t total, uint64_t chunk, double *eps,
			   double *raw_eps)
{
	struct fr_daemon d;
	struct inject_bpf *sk = NULL;
	struct fr_clock spent = {0, 0}, raw = {0, 0};
	uint64_t before;
	int rc = fr_bench_daemon_open(&d, cfg, 0);

	if (rc)
		return rc;
	rc = fr_bench_daemon_register(&d, nclients);
	if (!rc)
		rc = fr_bench_inject_open(&d, &sk);
	/* what the machine itself closed meanwhile is not ours to count */
	fr_tracer_consume(d.tracer);
	fr_bench_daemon_read_all(&d);
	before = d.conns_closed;
	for (uint64_t done = 0; done < total && !rc; done += chunk) {
		rc = fr_bench_inject(sk, done, chunk);
		struct fr_clock a = fr_clock_now();
		fr_tracer_consume(d.tracer);
		fr_events_flush_sp(&d.events);
		struct fr_clock b = fr_clock_now();
		spent.wall += b.wall - a.wall;
		spent.cpu += b.cpu - a.cpu;
		fr_bench_daemon_read_all(&d);
	}
	if (!rc && d.conns_closed - before < total)
		rc = -EPROTO;
	if (!rc && raw_eps)
		rc = fr_raw_drain(sk, fr_tracer_ringbuf_fd(d.tracer), total, chunk, &raw);
	if (!rc) {
		*eps = (double)total / ((double)spent.cpu / 1e9);
		printf("  %2u client%s: %6.2f M events/s per CPU-second (%6.2f M/s wall), %.0f ns/event\n", nclients,
		       nclients == 1 ? " " : "s", *eps / 1e6, (double)total / ((double)spent.wall / 1e9) / 1e6,
		       (double)spent.cpu / (double)total);
		if (raw_eps)
			*raw_eps = (double)total / ((double)raw.cpu / 1e9);
	}
	fr_bench_inject_close(sk);
	fr_daemon_close(&d);
	return rc;
}

int main(int argc, char **argv)
{
	uint64_t total = 2000000, chunk = 10000;
	unsigned clients[3] = {1, 8, 64}, nconf = 3;
	char dir[] = "/dev/shm/fr-ingest-XXXXXX"; /* regions on tmpfs, as the daemon's /dev/shm */
	struct fr_config cfg;
	double eps[3] = {0}, raw = 0;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--smoke"))
			total = 50000;
		else if (!strcmp(argv[i], "--events") && i + 1 < argc)
			total = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--chunk") && i + 1 < argc)
			chunk = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--clients") && i + 1 < argc) {
			/* one configuration only (for profiling) */
			clients[0] = (unsigned)strtoul(argv[++i], NULL, 10);
			nconf = 1;
		}
		else {
			fprintf(stderr, "usage: bench_ingest [--events N] [--chunk N] [--clients N] [--smoke]\n");
			return 2;
		}
	}
	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: bench_ingest needs root (BPF)\n");
		return 77;
	}
	/* chunks of at most the default closed-buffer cap: each client reads after every chunk */
	if (chunk == 0 || chunk > FR_STATE_DEFAULT_MAX_CLOSED)
		chunk = FR_STATE_DEFAULT_MAX_CLOSED;
	total -= total % chunk;
	if (!mkdtemp(dir))
		return 1;
	fr_log_set_level(FR_LOG_WARN);
	fr_config_defaults(&cfg);
	snprintf(cfg.shm_dir, sizeof(cfg.shm_dir), "%s", dir);
	snprintf(cfg.control_path, sizeof(cfg.control_path), "%s/ctl.sock", dir);
	snprintf(cfg.instance, sizeof(cfg.instance), "ingest%d", (int)getpid());
	cfg.ringbuf_size = 64u << 20; /* room for a chunk of 136-byte records many times over */
	cfg.max_clients = 64;

	printf("bench_ingest: %llu events in chunks of %llu, pipeline = filters, direction, NAT lookup, state, events "
	       "ring\n", (unsigned long long)total, (unsigned long long)chunk);
	for (unsigned i = 0; i < nconf && !rc; i++)
		rc = fr_pipeline_run(&cfg, clients[i], total, chunk, &eps[i], i == 0 ? &raw : NULL);
	rmdir(dir);
	if (rc) {
		fprintf(stderr, "bench_ingest: failed: %s\n", strerror(-rc));
		return 1;
	}
	printf("  raw drain of the same ring, no-op consumer: %6.2f M events/s per CPU-second\n", raw / 1e6);
	for (unsigned i = 0; i < nconf; i++)
		printf("  pipeline / raw drain with %2u client%s: %.2f\n", clients[i], clients[i] == 1 ? " " : "s",
		       eps[i] / raw);
	return 0;
}
