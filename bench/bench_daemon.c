/* bench_daemon.c - a real flowringd built in-process for the benches (bench_daemon.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench_daemon.h"
#include "control_server.h"
#include "inject.skel.h"
#include "log.h"
#include "tracer.h"

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
