/* fanout_flowring.c - bench_fanout's flowring transport: the events ring (producer/events_ring.h)
 * written by one process, read by N processes through the consumer SDK (zero-copy next + check).
 *
 * Slow reader: never waited for. The writer overwrites the oldest slot; a lapped reader is told
 * exactly how many records it lost (FR_LAPPED, total_lost) and resumes at the oldest valid one.
 * Writer wakes: fr_events_flush_lazy_sp every FANOUT_BATCH records (at most one wake per 50 us while
 * busy, the rate docs/benchmarks/rings.md recommends for flowringd), fr_events_flush_sp before idle.
 */
#define _GNU_SOURCE
#include <flowring/flowring.h>

#include <errno.h>
#include <string.h>

#include "events_ring.h"
#include "fanout_common.h"

#define FANOUT_LAZY_WAKE_NS 50000u

static int flowring_probe(char *why, size_t len)
{
	(void)why, (void)len;
	return 0; /* built in */
}

static void fw_publish(void *arg, const struct fr_conn *rec) { fr_events_publish_sp(arg, rec); }

static void fw_batch_end(void *arg, uint64_t now_ns, int idle)
{
	struct fr_events_writer *w = arg;
	if (idle)
		fr_events_flush_sp(w);
	else
		fr_events_flush_lazy_sp(w, now_ns, FANOUT_LAZY_WAKE_NS);
	/* the heartbeat store is one cache line; keep readers from calling the writer stale */
	if ((w->head & 0xffff) < FANOUT_BATCH || idle)
		fr_events_heartbeat_sp(w, now_ns);
}

static void fw_idle(void *arg) { fr_events_heartbeat_sp(arg, fanout_now_ns()); }

static int flowring_writer(struct fanout_ctl *ctl)
{
	struct fr_events_writer w;
	struct fr_conn c;
	struct fr_events_params p = {.shm_dir = ctl->shm_dir[0] ? ctl->shm_dir : NULL,
				     .instance = ctl->name,
				     .capacity = ctl->capacity,
				     .gid = (gid_t)-1};
	int rc = fr_events_create(&w, &p);
	if (rc != 0) {
		fanout_set_error(ctl, "fr_events_create %s: %s", ctl->name, strerror(-rc));
		return rc;
	}
	/* one untimed lap faults every page of the writer's mapping in; readers open FR_FROM_LATEST
	 * after writer_ready, so they never see these records */
	fanout_fill(&c, UINT64_MAX, 0);
	for (uint32_t i = 0; i < ctl->capacity; i++)
		fr_events_publish_sp(&w, &c);
	fr_events_flush_sp(&w);
	struct fanout_writer_ops ops = {.arg = &w, .publish = fw_publish, .batch_end = fw_batch_end,
					.idle = fw_idle};
	rc = fanout_writer_start(ctl, &ops);
	if (rc == 0) {
		fanout_writer_run(ctl, &ops);
		rc = fanout_writer_finish(ctl, &ops);
	}
	fr_events_retire(&w);
	return rc;
}

static int flowring_reader(struct fanout_ctl *ctl, unsigned idx)
{
	struct fr_events_reader r;
	struct fanout_rx rx;
	const struct fr_conn *c;
	int st, rc = 0;
	fanout_rx_init(&rx, ctl, idx);
	uint64_t deadline = fanout_now_ns() + 10000000000ull;
	while ((st = fr_events_open(&r, ctl->shm_dir[0] ? ctl->shm_dir : NULL, ctl->name, FR_FROM_LATEST)) ==
	       FR_NOT_READY) {
		if (fanout_now_ns() > deadline)
			break;
		fanout_sleep_us(1000);
	}
	if (st != FR_OK) {
		fanout_set_error(ctl, "reader %u: fr_events_open %s: %s", idx, ctl->name, fr_status_str(st));
		fanout_rx_end(&rx, -EIO);
		return -EIO;
	}
	fanout_rx_ready(&rx);
	for (;;) {
		/* read done before looking: publishing is synchronous, so "done, then nothing new" means
		 * every record was seen (or counted lost) */
		int done = fanout_rx_writer_done(&rx);
		st = fr_events_next(&r, &c);
		if (st == FR_OK) {
			uint64_t seq = fanout_seq(c), ts = fanout_ts(c);
			/* a record overwritten while we read it is counted lost by the SDK and by the gap */
			if (fr_events_check(&r) == FR_OK && fanout_rx_record(&rx, seq, ts))
				break;
		} else if (st == FR_LAPPED) {
			continue;
		} else if (st == FR_AGAIN || st == FR_PRODUCER_STALE) {
			fanout_rx_idle(&rx);
			if (done)
				break;
			fr_events_wait(&r, 10);
		} else {
			fanout_set_error(ctl, "reader %u: %s", idx, fr_status_str(st));
			rc = -EIO;
			break;
		}
	}
	rx.res->lost_sdk = r.total_lost;
	fanout_rx_end(&rx, rc);
	fr_events_close(&r);
	return rc;
}

const struct fanout_transport fanout_flowring = {
	.name = "flowring",
	.probe = flowring_probe,
	.writer = flowring_writer,
	.reader = flowring_reader,
	.slow_reader = "never blocks the writer: a slow reader is lapped, told the exact loss, resumes at the oldest",
};
