/* scale_build.h - bench_scale's section (f): ingest during one snapshot build, with the daemon's ingest pump
 * (producer/daemon_pump.c) and without it (the baseline, in the same run). */
#ifndef FR_SCALE_BUILD_H
#define FR_SCALE_BUILD_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon.h"

struct inject_bpf;

#define FR_SCALE_RB_RECORD 144u        /* one closed record in the ring buffer: 8-byte header + struct fr_bpf_conn */
#define FR_SCALE_CLOSE_TICK_NS 1000000u /* the closing thread writes FR_SCALE_CLOSE_PER_TICK records per ms */
#define FR_SCALE_CLOSE_PER_TICK 100u    /* = 100k closes/s */

struct fr_scale_build {
	double gap_ms, build_ms;        /* longest stand-still of the events ring's head; the build's wall time */
	uint64_t backlog, lost, pumps, deferred;
	double pump_p50_ms, pump_p99_ms; /* intervals between two pumps: median, 99th */
	uint64_t pump_over10;            /* intervals over 10 ms */
	double pump_gap_ms;              /* longest interval between two pumps ... */
	uint64_t gap_active, gap_emitted; /* ... ending with n_active collected, records emitted */
};

/* One snapshot build of client c while a second thread closes connections at 100k/s into the tracer's ring
 * buffer (records numbered from *next, advanced); pump on or off. Afterwards the rest is drained and read, and
 * every injected record must have been ingested (-EPROTO if not). 0 or -errno. */
int fr_scale_build_ingest(struct fr_daemon *d, struct fr_daemon_client *c, struct inject_bpf *sk, uint64_t *next,
			  bool pump, struct fr_scale_build *b);

#endif /* FR_SCALE_BUILD_H */
