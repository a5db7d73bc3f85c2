/* scale_build.c - bench_scale's section (f): how long the live stream stands still while a snapshot is built
 * (scale_build.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_daemon.h"
#include "scale_build.h"
#include "tracer.h"

/* (f): the longest interval between two pumps of a build, and where it ended. */
#define FR_SCALE_WATCH_MAX 16384u

struct fr_pump_watch {
	const struct fr_daemon_client *c;
	uint64_t last_ns, max_ns, at_active, at_emitted;
	uint32_t n, over10; /* intervals kept; intervals over 10 ms */
	uint64_t iv[FR_SCALE_WATCH_MAX];
};

static int fr_u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void fr_pump_watch(struct fr_daemon *d, void *ctx)
{
	struct fr_pump_watch *w = ctx;
	uint64_t now = fr_clock_ns(CLOCK_MONOTONIC);

	if (w->n < FR_SCALE_WATCH_MAX)
		w->iv[w->n++] = now - w->last_ns;
	w->over10 += now - w->last_ns > 10000000u;
	if (now - w->last_ns > w->max_ns) {
		w->max_ns = now - w->last_ns;
		w->at_active = d->n_active;
		w->at_emitted = w->c->w.count;
	}
	w->last_ns = now;
}

int fr_scale_build_ingest(struct fr_daemon *d, struct fr_daemon_client *c, struct inject_bpf *sk, uint64_t *next,
			  bool pump, struct fr_scale_build *b)
{
	struct fr_bench_closer cl = {.d = d, .sk = sk, .base = *next, .tick_ns = FR_SCALE_CLOSE_TICK_NS,
				     .per_tick = FR_SCALE_CLOSE_PER_TICK};
	uint64_t closed0, pumps0 = d->pumps, deferred0 = d->pump_deferred, t0, t1;
	int rc, rc2;

	fr_tracer_consume(d->tracer);
	fr_events_flush_sp(&d->events);
	closed0 = d->conns_closed;
	d->pump_disabled = !pump;
	rc = fr_bench_closer_start(&cl);
	if (rc)
		return rc;
	t0 = fr_clock_ns(CLOCK_MONOTONIC);
	static struct fr_pump_watch pw;
	memset(&pw, 0, sizeof(pw));
	pw.c = c;
	pw.last_ns = t0;
	d->pump_hook = fr_pump_watch;
	d->pump_hook_ctx = &pw;
	rc = fr_daemon_publish_snapshot(d, c, fr_now_ns());
	t1 = fr_clock_ns(CLOCK_MONOTONIC);
	d->pump_hook = NULL;
	fr_bench_closer_stop(&cl);
	d->pump_disabled = false;
	fr_pump_watch(d, &pw); /* the build's end closes the last interval */
	b->pump_gap_ms = (double)pw.max_ns / 1e6;
	qsort(pw.iv, pw.n, sizeof(pw.iv[0]), fr_u64_cmp);
	b->pump_p50_ms = pw.n ? (double)pw.iv[pw.n / 2] / 1e6 : 0;
	b->pump_p99_ms = pw.n ? (double)pw.iv[pw.n * 99 / 100] / 1e6 : 0;
	b->pump_over10 = pw.over10;
	b->gap_active = pw.at_active;
	b->gap_emitted = pw.at_emitted;
	*next += cl.attempted;
	b->pumps = d->pumps - pumps0;
	b->deferred = d->pump_deferred - deferred0;
	/* what the build left in the kernel ring, as the loop's next drain; then the client reads it */
	fr_tracer_consume(d->tracer);
	fr_events_flush_sp(&d->events);
	rc2 = fr_daemon_publish_snapshot(d, c, fr_now_ns());
	rc = rc ? rc : rc2;
	if (!rc && d->conns_closed - closed0 < cl.injected)
		rc = -EPROTO;
	b->gap_ms = (double)cl.max_gap_ns / 1e6;
	b->build_ms = (double)(t1 - t0) / 1e6;
	b->backlog = cl.max_backlog_bytes / FR_SCALE_RB_RECORD;
	b->lost = cl.attempted - cl.injected;
	return rc;
}
