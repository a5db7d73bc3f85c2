/* bench_scale.c - how flowringd's costs grow with the number of active connections: 1k, 10k, 100k, 1M.
 *
 *   bench_scale [--max N] [--events N] [--dat FILE] [--smoke]
 *
 * For each N a fresh real daemon runs in-process (bench_daemon.h) with one registered client. Active connections
 * are synthetic: entries written with bpf_map_update_batch straight into the tracer's BPF map of active TCP
 * connections (fr_tcp_conns, sized N + 64k), so the daemon reads them exactly as it reads real ones. For each N:
 *   (a) one client's snapshot (fr_daemon_publish_snapshot) and its parts: BPF map read (batch lookups + record
 *       conversion), enrichment (filters, port map, NAT, intra-host marking: the rest), the state read, the
 *       region write;
 *   (b) the SDK reading that snapshot: zero-copy (fr_snapshot_latest + a scan + fr_snapshot_valid) and copy-out
 *       (fr_snapshot_copy), against a plain memcpy of the same bytes in the same run;
 *   (c) closed-connection ingest (bpf/inject.bpf.c through the tracer's ring buffer, as bench_ingest) while the
 *       client remembers the N active keys;
 *   (d) memory: process RSS, the state's mem_bytes_current, the snapshot region, the BPF map's memlock;
 *   (e) once: the map read of 1000 entries in a map sized for 1k and in one sized for the largest N;
 *   (f) ingest during a snapshot build: a second thread closes connections at a fixed rate (bpf/inject.bpf.c) while
 *       the daemon's thread builds the client's snapshot, once with the daemon's ingest pump (producer/
 *       daemon_pump.c) and once without (the baseline, the same run): the longest time the events ring's head stood
 *       still, the ring buffer's peak backlog, records lost, the build's wall time.
 * Times are this thread's CPU time, the minimum over repeats (the 2 cores are shared). --dat writes one
 * gnuplot-friendly line per N (columns named in its header). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <flowring/flowring.h>

#include "bench_daemon.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "region.h"
#include "scale_build.h"
#include "state.h"
#include "tracer.h"
#include "tracer_private.h"

#define FR_SCALE_MAX_SIZES 4
#define FR_SCALE_CHUNK 10000u

struct fr_scale_point {
	uint64_t n, n_active;
	double map_ns, enrich_ns, state_ns, write_ns, total_ns; /* per snapshot */
	double zc_ns, copy_ns, memcpy_ns;                        /* per snapshot read */
	double ingest_ns;                                        /* per closed event */
	struct fr_scale_build build[2];                          /* (f): [0] without the pump, [1] with it */
	uint64_t rss, state_mem, region, map_mem;                /* bytes */
};

static uint64_t fr_cpu_ns(void)
{
	return fr_clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

static double fr_min(double a, double b)
{
	return a < b ? a : b;
}

/* Bytes of a "Key:  <n> kB"-style line of a /proc file (status: VmRSS; fdinfo: memlock, in bytes). */
static uint64_t fr_proc_value(const char *path, const char *key, uint64_t unit)
{
	char line[256];
	uint64_t v = 0;
	size_t kl = strlen(key);
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl)) {
			v = strtoull(line + kl, NULL, 10) * unit;
			break;
		}
	fclose(f);
	return v;
}

static void fr_noop_conn(void *ctx, const struct fr_conn *c)
{
	(*(uint64_t *)ctx) += c->sport ? 1 : 0;
}

static int fr_count_emit(void *ctx, const struct fr_conn *c)
{
	(*(uint64_t *)ctx) += c->dport ? 1 : 0;
	return 0;
}

/* (a) one snapshot and its parts, minimum over reps. */
static int fr_time_snapshot(struct fr_daemon *d, struct fr_daemon_client *c, unsigned reps, struct fr_scale_point *p)
{
	p->map_ns = p->state_ns = p->write_ns = p->total_ns = 1e30;
	/* without the pump: nothing arrives to drain here */
	d->pump_disabled = true;
	for (unsigned r = 0; r < reps; r++) {
		uint64_t seen = 0, t0, t1;
		int rc;

		t0 = fr_cpu_ns();
		rc = fr_daemon_publish_snapshot(d, c, fr_now_ns());
		t1 = fr_cpu_ns();
		if (rc)
			return rc;
		p->total_ns = fr_min(p->total_ns, (double)(t1 - t0));
		p->n_active = d->n_active;

		t0 = fr_cpu_ns();
		rc = fr_tracer_for_each_active(d->tracer, fr_noop_conn, &seen);
		t1 = fr_cpu_ns();
		if (rc < 0)
			return rc;
		p->map_ns = fr_min(p->map_ns, (double)(t1 - t0));

		/* the state read alone, over the enriched records the publish left in d->active (no new closed ones:
		 * the same transition the publish made) */
		seen = 0;
		t0 = fr_cpu_ns();
		long n = fr_state_read_sp(d->state, c->id, fr_now_ns(), d->active, d->n_active, fr_count_emit, &seen);
		t1 = fr_cpu_ns();
		if (n < 0)
			return (int)n;
		p->state_ns = fr_min(p->state_ns, (double)(t1 - t0));

		/* the region write alone: the same records into the client's next slot */
		t0 = fr_cpu_ns();
		rc = fr_snapshot_begin_sp(&c->w, fr_now_ns(), d->n_active);
		for (size_t i = 0; i < d->n_active && !rc; i++)
			rc = fr_snapshot_append_sp(&c->w, &d->active[i]);
		if (!rc)
			rc = fr_snapshot_commit_sp(&c->w);
		else
			fr_snapshot_abort_sp(&c->w);
		t1 = fr_cpu_ns();
		if (rc)
			return rc;
		p->write_ns = fr_min(p->write_ns, (double)(t1 - t0));
	}
	d->pump_disabled = false;
	p->enrich_ns = p->total_ns - p->map_ns - p->state_ns - p->write_ns;
	if (p->enrich_ns < 0)
		p->enrich_ns = 0;
	return 0;
}

/* (b) the SDK reading the newest snapshot, against memcpy of the same bytes. */
static int fr_time_read(const struct fr_config *cfg, const char *id, unsigned reps, struct fr_scale_point *p)
{
	struct fr_snapshot_reader r;
	struct fr_snapshot_view v, meta;
	struct fr_conn *buf = NULL;
	volatile uint64_t sink = 0;
	int st = fr_snapshot_open(&r, cfg->shm_dir, cfg->instance, id), rc = 0;

	if (st != FR_OK)
		return -EIO;
	st = fr_snapshot_latest(&r, &v);
	if (st != FR_OK || v.count == 0) {
		rc = -EIO;
		goto cleanup;
	}
	buf = malloc(v.count * sizeof(*buf));
	if (!buf) {
		rc = -ENOMEM;
		goto cleanup;
	}
	p->zc_ns = p->copy_ns = p->memcpy_ns = 1e30;
	for (unsigned k = 0; k < reps; k++) {
		uint64_t t0 = fr_cpu_ns(), sum = 0;
		if (fr_snapshot_latest(&r, &v) != FR_OK) {
			rc = -EIO;
			goto cleanup;
		}
		for (uint64_t i = 0; i < v.count; i++)
			sum += v.records[i].monotonic_sent_bytes;
		if (fr_snapshot_valid(&r, &v) != FR_OK) {
			rc = -EIO;
			goto cleanup;
		}
		uint64_t t1 = fr_cpu_ns();
		sink += sum;
		p->zc_ns = fr_min(p->zc_ns, (double)(t1 - t0));

		t0 = fr_cpu_ns();
		st = fr_snapshot_copy(&r, buf, v.count, &meta);
		t1 = fr_cpu_ns();
		if (st != FR_OK || meta.count != v.count) {
			rc = -EIO;
			goto cleanup;
		}
		p->copy_ns = fr_min(p->copy_ns, (double)(t1 - t0));

		t0 = fr_cpu_ns();
		memcpy(buf, v.records, v.count * sizeof(*buf));
		t1 = fr_cpu_ns();
		sink += buf[v.count - 1].sport;
		p->memcpy_ns = fr_min(p->memcpy_ns, (double)(t1 - t0));
	}
	(void)sink;
cleanup:
	free(buf);
	fr_snapshot_close(&r);
	return rc;
}

/* (c) closed events through the pipeline with the N active keys remembered by the client. */
static int fr_time_ingest(struct fr_daemon *d, struct inject_bpf *sk, uint64_t *next, uint64_t events,
			  struct fr_scale_point *p)
{
	uint64_t spent = 0, before;
	int rc = 0;

	fr_tracer_consume(d->tracer);
	before = d->conns_closed;
	for (uint64_t done = 0; done < events && !rc; done += FR_SCALE_CHUNK) {
		rc = fr_bench_inject(sk, *next, FR_SCALE_CHUNK);
		*next += FR_SCALE_CHUNK;
		uint64_t t0 = fr_cpu_ns();
		fr_tracer_consume(d->tracer);
		fr_events_flush_sp(&d->events);
		spent += fr_cpu_ns() - t0;
	}
	if (!rc && d->conns_closed - before < events)
		rc = -EPROTO;
	p->ingest_ns = (double)spent / (double)events;
	return rc;
}

static void fr_measure_memory(struct fr_daemon *d, struct fr_daemon_client *c, int map_fd, struct fr_scale_point *p)
{
	struct fr_state_stats ss;
	char path[64];

	p->rss = fr_proc_value("/proc/self/status", "VmRSS:", 1024);
	p->state_mem = fr_state_stats_mc(d->state, &ss, NULL, NULL) == 0 ? ss.mem_bytes_current : 0;
	p->region = c->w.region.size;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", map_fd);
	p->map_mem = fr_proc_value(path, "memlock:", 1);
}

static unsigned fr_reps(uint64_t n, bool smoke)
{
	if (smoke)
		return 3;
	return n <= 1000 ? 200 : n <= 10000 ? 30 : n <= 100000 ? 8 : 3;
}

static void fr_print(const struct fr_scale_point *pt, unsigned np)
{
	printf("\n(a) one client's snapshot, ns per active record (CPU time, min over repeats)\n");
	printf("  %9s %9s %9s %9s %9s %9s %9s %11s %9s\n", "N", "records", "map read", "enrich", "state", "region",
	       "total", "total ms", "/memcpy");
	for (unsigned i = 0; i < np; i++) {
		const struct fr_scale_point *p = &pt[i];
		double k = (double)p->n_active;
		printf("  %9" PRIu64 " %9" PRIu64 " %9.1f %9.1f %9.1f %9.1f %9.1f %11.3f %9.1f\n", p->n, p->n_active,
		       p->map_ns / k, p->enrich_ns / k, p->state_ns / k, p->write_ns / k, p->total_ns / k,
		       p->total_ns / 1e6, p->total_ns / p->memcpy_ns);
	}
	printf("\n(b) SDK read of that snapshot, ns per record, vs memcpy of the same bytes (same run)\n");
	printf("  %9s %11s %11s %11s %11s %11s\n", "N", "zero-copy", "copy-out", "memcpy", "copy/memcpy", "zc/memcpy");
	for (unsigned i = 0; i < np; i++) {
		const struct fr_scale_point *p = &pt[i];
		double k = (double)p->n_active;
		printf("  %9" PRIu64 " %11.2f %11.2f %11.2f %11.2f %11.2f\n", p->n, p->zc_ns / k, p->copy_ns / k,
		       p->memcpy_ns / k, p->copy_ns / p->memcpy_ns, p->zc_ns / p->memcpy_ns);
	}
	printf("\n(c) closed-connection ingest with N active keys remembered (ratio vs the smallest N)\n");
	printf("  %9s %11s %13s %9s\n", "N", "ns/event", "M events/s", "ratio");
	for (unsigned i = 0; i < np; i++)
		printf("  %9" PRIu64 " %11.0f %13.2f %9.2f\n", pt[i].n, pt[i].ingest_ns, 1e3 / pt[i].ingest_ns,
		       pt[i].ingest_ns / pt[0].ingest_ns);
	printf("\n(d) memory with N active and nothing closed, bytes per active connection (total MiB)\n");
	printf("  %9s %17s %17s %17s %17s\n", "N", "process RSS", "state", "snapshot region", "BPF map");
	for (unsigned i = 0; i < np; i++) {
		const struct fr_scale_point *p = &pt[i];
		double k = (double)p->n_active, m = 1024.0 * 1024.0;
		printf("  %9" PRIu64 " %7.0f (%7.1f) %7.0f (%7.1f) %7.0f (%7.1f) %7.0f (%7.1f)\n", p->n, p->rss / k,
		       p->rss / m, p->state_mem / k, p->state_mem / m, p->region / k, p->region / m, p->map_mem / k,
		       p->map_mem / m);
	}
	/* the fixed costs (64 MiB ring buffer mapping, preallocated map, default region) hide the per-connection
	 * growth at small N: the marginal cost between two sizes shows it */
	printf("  marginal bytes per added connection:\n");
	for (unsigned i = 1; i < np; i++) {
		const struct fr_scale_point *a = &pt[i - 1], *b = &pt[i];
		double k = (double)b->n_active - (double)a->n_active;
		printf("  %9" PRIu64 " %17.0f %17.0f %17.0f %17.0f\n", b->n, ((double)b->rss - (double)a->rss) / k,
		       ((double)b->state_mem - (double)a->state_mem) / k, ((double)b->region - (double)a->region) / k,
		       ((double)b->map_mem - (double)a->map_mem) / k);
	}
}

static void fr_print_build(const struct fr_scale_point *pt, unsigned np)
{
	printf("\n(f) ingest during one snapshot build, a second thread closing %u connections/s (wall time; the "
	       "injection period, %.0f ms, is the floor of the gap)\n",
	       (unsigned)(FR_SCALE_CLOSE_PER_TICK * (1000000000ull / FR_SCALE_CLOSE_TICK_NS)), FR_SCALE_CLOSE_TICK_NS / 1e6);
	printf("  %9s %5s %9s %11s %13s %5s %6s %9s   %s\n", "N", "pump", "build ms", "max gap ms", "peak backlog",
	       "lost", "pumps", "deferred", "pump interval ms: p50 p99 >10ms max (at collected/emitted)");
	for (unsigned i = 0; i < np; i++)
		for (unsigned k = 0; k < 2; k++) {
			const struct fr_scale_build *b = &pt[i].build[k];
			printf("  %9" PRIu64 " %5s %9.1f %11.2f %13" PRIu64 " %5" PRIu64 " %6" PRIu64 " %9" PRIu64, pt[i].n,
			       k ? "on" : "off", b->build_ms, b->gap_ms, b->backlog, b->lost, b->pumps, b->deferred);
			if (k)
				printf("   %.2f %.2f %" PRIu64 " %.2f (%" PRIu64 "/%" PRIu64 ")", b->pump_p50_ms, b->pump_p99_ms,
				       b->pump_over10, b->pump_gap_ms, b->gap_active, b->gap_emitted);
			printf("\n");
		}
	printf("  ratio without/with the pump:\n  %9s %11s %13s %10s\n", "N", "max gap", "peak backlog", "build");
	for (unsigned i = 0; i < np; i++) {
		const struct fr_scale_build *off = &pt[i].build[0], *on = &pt[i].build[1];
		printf("  %9" PRIu64 " %10.1fx %12.1fx %9.2fx\n", pt[i].n, off->gap_ms / on->gap_ms,
		       (double)off->backlog / (double)(on->backlog ? on->backlog : 1), off->build_ms / on->build_ms);
	}
}

static int fr_write_dat(const char *path, const struct fr_scale_point *pt, unsigned np)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fprintf(f, "# bench_scale: per-record ns are CPU time per active record; memory in bytes\n"
		   "# N records map_ns enrich_ns state_ns region_ns snapshot_ns zerocopy_ns copy_ns memcpy_ns "
		   "ingest_ns_per_event rss state_mem region map_mem\n");
	for (unsigned i = 0; i < np; i++) {
		const struct fr_scale_point *p = &pt[i];
		double k = (double)p->n_active;
		fprintf(f, "%" PRIu64 " %" PRIu64 " %.2f %.2f %.2f %.2f %.2f %.3f %.3f %.3f %.1f %" PRIu64 " %" PRIu64
			   " %" PRIu64 " %" PRIu64 "\n",
			p->n, p->n_active, p->map_ns / k, p->enrich_ns / k, p->state_ns / k, p->write_ns / k,
			p->total_ns / k, p->zc_ns / k, p->copy_ns / k, p->memcpy_ns / k, p->ingest_ns, p->rss,
			p->state_mem, p->region, p->map_mem);
	}
	return fclose(f) ? -errno : 0;
}

/* One size: a fresh daemon whose TCP map holds n plus room for the machine's real connections. */
static int fr_scale_point_run(struct fr_config *cfg, uint64_t n, uint64_t events, bool smoke, struct fr_scale_point *p)
{
	struct fr_daemon d;
	struct inject_bpf *sk = NULL;
	struct fr_daemon_client *c = NULL;
	uint64_t next_event = 0;
	double best;
	int rc = fr_bench_daemon_open(&d, cfg, (uint32_t)(n + 65536));
	int map_fd;

	if (rc)
		return rc;
	map_fd = bpf_map__fd(d.tracer->skel->maps.fr_tcp_conns);
	p->n = n;
	rc = fr_bench_daemon_register(&d, 1);
	if (!rc)
		rc = fr_bench_inject_open(&d, &sk);
	for (uint32_t i = 0; !rc && i < cfg->max_clients; i++)
		if (d.clients[i].used)
			c = &d.clients[i];
	if (!rc && !c)
		rc = -ENOENT;
	if (!rc) {
		rc = fr_bench_fill_active(&d, 0, n);
		if (rc)
			fprintf(stderr, "bench_scale: filling the TCP map with %" PRIu64 ": %s\n", n, strerror(-rc));
	}
	/* first snapshot: the client remembers the N keys, the region grows to fit; then one untimed ingest run
	 * so the timed one finds the closed buffer's memory already touched, as in a daemon that has run a while */
	rc = rc ? rc : fr_daemon_publish_snapshot(&d, c, fr_now_ns());
	/* memory with N active and nothing closed yet: the ingest runs below grow the closed buffer and the region
	 * by what they buffer, which is not a cost of the active connections */
	if (!rc)
		fr_measure_memory(&d, c, map_fd, p);
	rc = rc ? rc : fr_time_ingest(&d, sk, &next_event, events, p);
	rc = rc ? rc : fr_daemon_publish_snapshot(&d, c, fr_now_ns());
	rc = rc ? rc : fr_time_snapshot(&d, c, fr_reps(n, smoke), p);
	rc = rc ? rc : fr_time_read(cfg, c->id, fr_reps(n, smoke), p);
	/* ingest: minimum over runs, the client reading what was closed after each, as clients do (not timed) */
	best = 1e30;
	for (unsigned r = 0; r < (smoke ? 1u : 3u) && !rc; r++) {
		rc = fr_time_ingest(&d, sk, &next_event, events, p);
		best = fr_min(best, p->ingest_ns);
		rc = rc ? rc : fr_daemon_publish_snapshot(&d, c, fr_now_ns());
	}
	p->ingest_ns = best;
	/* (f): the baseline first, so both builds find the client's closed buffer equally empty */
	rc = rc ? rc : fr_scale_build_ingest(&d, c, sk, &next_event, false, &p->build[0]);
	rc = rc ? rc : fr_scale_build_ingest(&d, c, sk, &next_event, true, &p->build[1]);
	fr_bench_inject_close(sk);
	fr_daemon_close(&d);
	return rc;
}

/* The BPF map read walks buckets, not entries: the cost of reading n entries out of a map sized for cap. */
static int fr_map_walk_ns(struct fr_config *cfg, uint64_t n, uint32_t cap, double *ns)
{
	struct fr_daemon d;
	int rc = fr_bench_daemon_open(&d, cfg, cap);

	if (rc)
		return rc;
	rc = fr_bench_fill_active(&d, 0, n);
	*ns = 1e30;
	for (unsigned r = 0; r < 20 && !rc; r++) {
		uint64_t seen = 0, t0 = fr_cpu_ns();
		int got = fr_tracer_for_each_active(d.tracer, fr_noop_conn, &seen);
		uint64_t t1 = fr_cpu_ns();
		if (got < 0)
			rc = got;
		else
			*ns = fr_min(*ns, (double)(t1 - t0) / (double)got);
	}
	fr_daemon_close(&d);
	return rc;
}

int main(int argc, char **argv)
{
	static const uint64_t all[FR_SCALE_MAX_SIZES] = {1000, 10000, 100000, 1000000};
	struct fr_scale_point pt[FR_SCALE_MAX_SIZES];
	uint64_t max = 1000000, events = 200000, sizes[FR_SCALE_MAX_SIZES];
	const char *dat = NULL;
	char dir[] = "/dev/shm/fr-scale-XXXXXX"; /* regions on tmpfs, as the daemon's /dev/shm */
	struct fr_config cfg;
	bool smoke = false;
	double walk_small = 0, walk_big = 0;
	unsigned np = 0;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--smoke")) {
			smoke = true;
			max = 10000;
			events = 20000;
		} else if (!strcmp(argv[i], "--max") && i + 1 < argc)
			max = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--events") && i + 1 < argc)
			events = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--dat") && i + 1 < argc)
			dat = argv[++i];
		else {
			fprintf(stderr, "usage: bench_scale [--max N] [--events N] [--dat FILE] [--smoke]\n");
			return 2;
		}
	}
	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: bench_scale needs root (BPF)\n");
		return 77;
	}
	for (unsigned i = 0; i < FR_SCALE_MAX_SIZES; i++)
		if (all[i] <= max)
			sizes[np++] = all[i];
	events -= events % FR_SCALE_CHUNK;
	if (np == 0 || events == 0) {
		fprintf(stderr, "bench_scale: --max must be >= 1000 and --events >= %u\n", FR_SCALE_CHUNK);
		return 2;
	}
	if (!mkdtemp(dir))
		return 1;
	memset(pt, 0, sizeof(pt));
	fr_log_set_level(FR_LOG_WARN);
	fr_config_defaults(&cfg);
	snprintf(cfg.shm_dir, sizeof(cfg.shm_dir), "%s", dir);
	snprintf(cfg.control_path, sizeof(cfg.control_path), "%s/ctl.sock", dir);
	snprintf(cfg.instance, sizeof(cfg.instance), "scale%d", (int)getpid());
	cfg.ringbuf_size = 64u << 20; /* a chunk of 136-byte records many times over */
	cfg.max_clients = 1;
	cfg.max_tracked = (uint32_t)(sizes[np - 1] + 65536); /* every active key is remembered */
	cfg.max_closed = (uint32_t)events;                   /* one read after the whole ingest run */

	printf("bench_scale: active TCP connections %" PRIu64 "..%" PRIu64 " (synthetic BPF map entries), 1 client, "
	       "%" PRIu64 " closed events per size\n", sizes[0], sizes[np - 1], events);
	rc = 0;
	for (unsigned i = 0; i < np && !rc; i++) {
		rc = fr_scale_point_run(&cfg, sizes[i], events, smoke, &pt[i]);
		fprintf(stderr, "bench_scale: N=%" PRIu64 " %s\n", sizes[i], rc ? "failed" : "done");
	}
	/* the same 1000 entries read out of a map sized for 1k and one sized for the largest N */
	if (!rc)
		rc = fr_map_walk_ns(&cfg, 1000, 1000 + 65536, &walk_small);
	if (!rc)
		rc = fr_map_walk_ns(&cfg, 1000, (uint32_t)(sizes[np - 1] + 65536), &walk_big);
	rmdir(dir);
	if (rc) {
		fprintf(stderr, "bench_scale: failed: %s\n", strerror(-rc));
		return 1;
	}
	fr_print(pt, np);
	{
		const struct fr_scale_point *a = &pt[0], *z = &pt[np - 1];
		printf("\nheadline: %" PRIu64 " active: one snapshot %.1f ms = %.0f ns/record (%.1f x its memcpy; %.0f ns at "
		       "%" PRIu64 "); SDK copy-out %.2f x memcpy, zero-copy scan %.2f x; ingest %.2f M events/s "
		       "(%.2f x the %" PRIu64 " rate); %.0f B RSS, %.0f B state, %.0f B region per connection\n",
		       z->n, z->total_ns / 1e6, z->total_ns / (double)z->n_active, z->total_ns / z->memcpy_ns,
		       a->total_ns / (double)a->n_active, a->n, z->copy_ns / z->memcpy_ns, z->zc_ns / z->memcpy_ns,
		       1e3 / z->ingest_ns, a->ingest_ns / z->ingest_ns, a->n, (double)z->rss / (double)z->n_active,
		       (double)z->state_mem / (double)z->n_active, (double)z->region / (double)z->n_active);
	}
	printf("\n(e) BPF map read of 1000 active entries: %.0f ns/record in a map of %u entries, %.0f ns/record in a map "
	       "of %" PRIu64 " (the batch walk visits buckets, so tcp_map_entries sets a floor)\n",
	       walk_small, 1000u + 65536u, walk_big, sizes[np - 1] + 65536);
	fr_print_build(pt, np);
	if (dat && (rc = fr_write_dat(dat, pt, np)) != 0) {
		fprintf(stderr, "bench_scale: writing %s: %s\n", dat, strerror(-rc));
		return 1;
	}
	return 0;
}
