/* bench_daemon.c - a real flowringd built in-process for the benches (bench_daemon.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench_daemon.h"
#include "control_server.h"
#include "inject.skel.h"
#include "log.h"
#include "tracer.h"
#include "tracer_private.h"

uint64_t fr_clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct fr_clock fr_clock_now(void)
{
	return (struct fr_clock){fr_clock_ns(CLOCK_MONOTONIC), fr_clock_ns(CLOCK_THREAD_CPUTIME_ID)};
}

int fr_bench_daemon_open(struct fr_daemon *d, struct fr_config *cfg, uint32_t tcp_map_entries)
{
	struct fr_tracer_opts to;
	int rc = fr_daemon_open(d, cfg);

	if (rc || !tcp_map_entries)
		return rc;
	/* Same options as the daemon's own tracer (daemon.c), but a larger TCP map. The old tracer goes first: both
	 * would attach to the same hooks and report every connection twice. */
	fr_tracer_close(d->tracer);
	d->tracer = NULL;
	fr_tracer_opts_init(&to);
	to.udp = !cfg->no_udp;
	to.udp_idle_timeout_ns = cfg->udp_idle_timeout_ms * 1000000ull;
	if (cfg->ringbuf_size)
		to.ringbuf_bytes = (uint32_t)cfg->ringbuf_size;
	to.tcp_map_entries = tcp_map_entries;
	to.on_closed = fr_daemon_ingest;
	to.on_port = fr_daemon_on_port;
	to.ctx = d;
	rc = fr_tracer_open(&to, &d->tracer);
	if (rc) {
		fr_err("bench: tracer with %u TCP map entries: %s", tcp_map_entries, strerror(-rc));
		fr_daemon_close(d);
	}
	return rc;
}

#define FR_BENCH_FILL_BATCH 65536u

int fr_bench_fill_active(struct fr_daemon *d, uint64_t from, uint64_t to)
{
	static uint64_t keys[FR_BENCH_FILL_BATCH];
	static struct fr_bpf_conn vals[FR_BENCH_FILL_BATCH];
	LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = BPF_ANY);
	int map_fd = bpf_map__fd(d->tracer->skel->maps.fr_tcp_conns);
	uint32_t netns = fr_daemon_netns_of("/proc/self");
	uint64_t now = fr_now_ns();

	while (from < to) {
		uint32_t count = 0;
		for (; from < to && count < FR_BENCH_FILL_BATCH; from++, count++) {
			struct fr_bpf_conn *v = &vals[count];
			memset(v, 0, sizeof(*v));
			v->saddr[0] = 10;
			v->saddr[1] = 200;
			v->saddr[2] = (uint8_t)(from >> 8);
			v->saddr[3] = (uint8_t)from;
			v->daddr[0] = 10;
			v->daddr[3] = 2;
			v->sport = (uint16_t)(1024 + (from >> 16));
			v->dport = 443;
			v->pid = 1000 + (uint32_t)(from % 4096);
			v->netns = netns;
			v->sent_bytes = 100 + from % 1000;
			v->recv_bytes = 2000 + from % 5000;
			v->sent_packets = 3;
			v->recv_packets = 4;
			v->rtt_us = 50;
			v->start_ns = now - 1000000000ull;
			v->last_update_ns = now;
			v->cookie = FR_BENCH_COOKIE_BASE + from;
			v->proto = FR_BPF_TCP;
			v->family = FR_BPF_V4;
			v->kind = FR_BPF_KIND_CONN;
			keys[count] = v->cookie;
		}
		uint32_t done = count;
		if (bpf_map_update_batch(map_fd, keys, vals, &done, &o))
			return -errno;
		if (done != count)
			return -ENOSPC;
	}
	return 0;
}

int fr_bench_daemon_register(struct fr_daemon *d, unsigned nclients)
{
	struct fr_ctl_handler h;
	struct fr_ctl_peer peer = {.pid = getpid()};
	struct fr_ctl_register_reply out;
	char id[32];

	fr_daemon_ctl_handler(d, &h);
	for (unsigned i = 0; i < nclients; i++) {
		snprintf(id, sizeof(id), "bench-%u", i);
		int rc = h.register_client(h.ctx, id, 0, &peer, &out);
		if (rc)
			return rc;
	}
	return 0;
}

void fr_bench_daemon_read_all(struct fr_daemon *d)
{
	for (uint32_t i = 0; i < d->cfg->max_clients; i++)
		if (d->clients[i].used)
			fr_daemon_publish_snapshot(d, &d->clients[i], fr_now_ns());
}

int fr_bench_inject_open(struct fr_daemon *d, struct inject_bpf **out)
{
	struct inject_bpf *sk = inject_bpf__open();
	int rc;

	*out = NULL;
	if (!sk)
		return -errno;
	rc = bpf_map__reuse_fd(sk->maps.fr_rb, fr_tracer_ringbuf_fd(d->tracer));
	if (!rc) {
		sk->bss->fr_inject_netns = fr_daemon_netns_of("/proc/self");
		rc = inject_bpf__load(sk);
	}
	if (rc) {
		inject_bpf__destroy(sk);
		return rc;
	}
	*out = sk;
	return 0;
}

int fr_bench_inject(struct inject_bpf *sk, uint64_t base, uint64_t n)
{
	LIBBPF_OPTS(bpf_test_run_opts, o);
	uint64_t failed = sk->bss->fr_inject_failed;

	sk->bss->fr_inject_base = base;
	sk->bss->fr_inject_count = n;
	if (bpf_prog_test_run_opts(bpf_program__fd(sk->progs.fr_inject), &o) != 0)
		return -errno;
	return sk->bss->fr_inject_failed != failed ? -ENOBUFS : 0;
}

void fr_bench_inject_close(struct inject_bpf *sk)
{
	inject_bpf__destroy(sk);
}

/* ---- a closing thread for measurements of ingest while the daemon thread is busy ---- */

static void fr_bench_closer_sample(struct fr_bench_closer *cl, uint64_t now)
{
	/* acquire: pairs with the writer's release store of head (events_ring.c), as a reader's */
	uint64_t head = __atomic_load_n(&cl->d->events.region.hdr->head, __ATOMIC_ACQUIRE);
	/* the kernel and libbpf publish the positions with release stores; a relaxed look is enough for a gauge */
	uint64_t prod = __atomic_load_n(cl->prod_pos, __ATOMIC_RELAXED);
	uint64_t cons = __atomic_load_n(cl->cons_pos, __ATOMIC_RELAXED);

	if (head != cl->last_head) {
		if (now - cl->last_change_ns > cl->max_gap_ns)
			cl->max_gap_ns = now - cl->last_change_ns;
		cl->last_head = head;
		cl->last_change_ns = now;
	}
	if (prod > cons && prod - cons > cl->max_backlog_bytes)
		cl->max_backlog_bytes = prod - cons;
}

static void *fr_bench_closer_main(void *arg)
{
	struct fr_bench_closer *cl = arg;
	const struct timespec nap = {0, 50000};
	uint64_t next = fr_clock_ns(CLOCK_MONOTONIC);

	while (!__atomic_load_n(&cl->stop, __ATOMIC_ACQUIRE)) {
		uint64_t now = fr_clock_ns(CLOCK_MONOTONIC);
		if (now >= next) {
			uint64_t before = cl->sk->bss->fr_injected;
			fr_bench_inject(cl->sk, cl->base + cl->attempted, cl->per_tick);
			cl->attempted += cl->per_tick;
			cl->injected += cl->sk->bss->fr_injected - before;
			/* a fixed rate: a late tick does not make a burst */
			next = next + cl->tick_ns > now ? next + cl->tick_ns : now + cl->tick_ns;
		}
		fr_bench_closer_sample(cl, fr_clock_ns(CLOCK_MONOTONIC));
		nanosleep(&nap, NULL);
	}
	return NULL;
}

int fr_bench_closer_start(struct fr_bench_closer *cl)
{
	int fd = fr_tracer_ringbuf_fd(cl->d->tracer), rc;

	cl->attempted = cl->injected = cl->max_gap_ns = cl->max_backlog_bytes = 0;
	cl->stop = false;
	cl->page = (size_t)sysconf(_SC_PAGESIZE);
	/* a BPF ring buffer map: the consumer position in the first page, the producer's in the second */
	cl->cons_map = mmap(NULL, cl->page, PROT_READ, MAP_SHARED, fd, 0);
	if (cl->cons_map == MAP_FAILED)
		return -errno;
	cl->prod_map = mmap(NULL, cl->page, PROT_READ, MAP_SHARED, fd, (off_t)cl->page);
	if (cl->prod_map == MAP_FAILED) {
		rc = -errno;
		munmap(cl->cons_map, cl->page);
		return rc;
	}
	cl->cons_pos = cl->cons_map;
	cl->prod_pos = cl->prod_map;
	cl->last_head = __atomic_load_n(&cl->d->events.region.hdr->head, __ATOMIC_ACQUIRE);
	cl->last_change_ns = fr_clock_ns(CLOCK_MONOTONIC);
	rc = -pthread_create(&cl->th, NULL, fr_bench_closer_main, cl);
	if (rc) {
		munmap(cl->cons_map, cl->page);
		munmap(cl->prod_map, cl->page);
	}
	return rc;
}

void fr_bench_closer_stop(struct fr_bench_closer *cl)
{
	uint64_t now;

	/* release: pairs with the thread's acquire load of stop */
	__atomic_store_n(&cl->stop, true, __ATOMIC_RELEASE);
	pthread_join(cl->th, NULL);
	now = fr_clock_ns(CLOCK_MONOTONIC);
	if (now - cl->last_change_ns > cl->max_gap_ns)
		cl->max_gap_ns = now - cl->last_change_ns;
	munmap(cl->cons_map, cl->page);
	munmap(cl->prod_map, cl->page);
}
