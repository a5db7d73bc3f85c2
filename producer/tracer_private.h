/* tracer_private.h - the state of a tracer shared by its modules (tracer.c: open, attach, close;
 * tracer_drain.c: ring buffer to callbacks; tracer_maps.c: walks of the active maps;
 * tracer_stats.c: counters). Not for users of tracer.h.
 */
#ifndef FR_TRACER_PRIVATE_H
#define FR_TRACER_PRIVATE_H

#include <stdint.h>

#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flowring.h"
#include "flowring.skel.h"
#include "tracer.h"

#define FR_MAX_LINKS FR_TRACER_MAX_PROGS /* programs of flowring.bpf.c, iterators included */
#define FR_BATCH 256

struct fr_tracer {
	struct flowring_bpf *skel;
	struct bpf_link *links[FR_MAX_LINKS];
	int nlinks;
	int cgroup_fd;
	int stats_fd;
	struct ring_buffer *rb;
	int epfd; /* for fr_tracer_poll: wraps the ring buffer's epoll fd */
	/* The ring buffer's consumer and producer positions, mapped read-only a second time (libbpf 1.1
	 * does not expose its own mapping): fr_tracer_pending() compares them. */
	const unsigned long *rb_cons, *rb_prod;
	size_t rb_page;
	struct fr_tracer_opts opts;
	uint64_t udp_idle_closed;
	uint64_t tcp_reaped;
	uint32_t reap_gen;
	uint32_t own_netns; /* iter/tcp only walks the netns of its creator: reap only there */
	uint64_t ingest_events;
	uint64_t ingest_malformed;
};

/* tracer.c: run an iterator program to its end (seeding, the liveness pass). 0 or -errno. */
int fr_tracer_run_iter(struct bpf_program *p);

/* tracer_drain.c: report one closed kernel record through on_closed. */
void fr_tracer_emit_closed(struct fr_tracer *t, const struct fr_bpf_conn *k);

/* tracer_drain.c: the ring buffer's sample callback (ctx is the tracer). */
int fr_tracer_rb_event(void *ctx, void *data, size_t size);

/* tracer_maps.c: close (and report) every remaining UDP flow of a released socket. Returns the
 * count or -errno. */
int fr_tracer_udp_close_cookie(struct fr_tracer *t, uint64_t cookie, uint64_t now_ns);

#endif /* FR_TRACER_PRIVATE_H */
