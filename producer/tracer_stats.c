/* tracer_stats.c - the tracer's counters: the kernel's per-CPU telemetry map, the user side's own,
 * per-program bpf_stats, and their mapping to the telemetry ids. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tracer_private.h"

int fr_tracer_read_counters(struct fr_tracer *t, struct fr_tracer_counters *out)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t sum[FR_BPF_TM__COUNT] = { 0 };
	uint64_t *v;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (__u32 i = 0; i < FR_BPF_TM__COUNT; i++) {
		if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.fr_telemetry), &i, v)) {
			int err = -errno;

			fr_err("tracer: reading the telemetry map failed: %s", strerror(-err));
			free(v);
			return err;
		}
		for (int c = 0; c < ncpu; c++)
			sum[i] += v[c];
	}
	free(v);
	out->rb_reserve_failed = sum[FR_BPF_TM_RB_RESERVE_FAILED];
	out->rb_bytes_dropped = sum[FR_BPF_TM_RB_BYTES_DROPPED];
	out->tcp_map_full = sum[FR_BPF_TM_TCP_MAP_FULL];
	out->udp_map_full = sum[FR_BPF_TM_UDP_MAP_FULL];
	out->sk_storage_failed = sum[FR_BPF_TM_SK_STORAGE_FAILED];
	out->events_skipped = sum[FR_BPF_TM_EVENTS_SKIPPED];
	out->failed_connects = sum[FR_BPF_TM_FAILED_CONNECTS];
	out->rb_submitted = sum[FR_BPF_TM_RB_SUBMITTED];
	out->rb_wakeups = sum[FR_BPF_TM_WAKEUPS];
	out->tcp_closes = sum[FR_BPF_TM_TCP_CLOSES];
	out->udp_idle_closed = t->udp_idle_closed;
	out->tcp_reaped = t->tcp_reaped;
	out->ingest_events = t->ingest_events;
	out->ingest_malformed = t->ingest_malformed;
	out->port_events = sum[FR_BPF_TM_PORT_EVENTS];
	out->port_events_lost = sum[FR_BPF_TM_PORT_EVENTS_LOST];
	return 0;
}

int fr_tracer_prog_stats(struct fr_tracer *t, struct fr_tracer_prog_stat *out, size_t max)
{
	struct bpf_program *p;
	int n = 0;

	bpf_object__for_each_program(p, t->skel->obj)
	{
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(p);

		if (fd < 0)
			continue; /* not loaded (UDP off) */
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			return -errno;
		if ((size_t)n < max) {
			snprintf(out[n].name, sizeof(out[n].name), "%s", bpf_program__name(p));
			out[n].run_cnt = info.run_cnt;
			out[n].run_time_ns = info.run_time_ns;
			out[n].recursion_misses = info.recursion_misses;
		}
		n++;
	}
	return n;
}

int fr_tracer_read_telemetry(struct fr_tracer *t, uint64_t tm[FR_TM__COUNT])
{
	struct fr_tracer_prog_stat ps[FR_MAX_LINKS];
	struct fr_tracer_counters c;
	uint64_t runs = 0, misses = 0;
	int err = fr_tracer_read_counters(t, &c);
	int n;

	if (err)
		return err;
	n = fr_tracer_prog_stats(t, ps, FR_MAX_LINKS);
	if (n < 0)
		return n;
	for (int i = 0; i < n && i < FR_MAX_LINKS; i++) {
		runs += ps[i].run_cnt;
		misses += ps[i].recursion_misses;
	}
	tm[FR_TM_BPF_PROG_RUNS] = runs;
	tm[FR_TM_BPF_PROG_MISSES] = misses;
	tm[FR_TM_BPF_RINGBUF_RESERVE_FAILED] = c.rb_reserve_failed;
	tm[FR_TM_BPF_RINGBUF_WAKEUPS] = c.rb_wakeups;
	tm[FR_TM_BPF_RINGBUF_BYTES_DROPPED] = c.rb_bytes_dropped;
	tm[FR_TM_BPF_TCP_MAP_FULL] = c.tcp_map_full;
	tm[FR_TM_BPF_UDP_MAP_FULL] = c.udp_map_full;
	tm[FR_TM_BPF_SK_STORAGE_FAILED] = c.sk_storage_failed;
	tm[FR_TM_BPF_EVENTS_SKIPPED] = c.events_skipped;
	tm[FR_TM_BPF_FAILED_CONNECTS] = c.failed_connects;
	tm[FR_TM_BPF_TCP_REAPED] = c.tcp_reaped;
	tm[FR_TM_BPF_UDP_IDLE_CLOSED] = c.udp_idle_closed;
	tm[FR_TM_INGEST_EVENTS] = c.ingest_events;
	tm[FR_TM_INGEST_MALFORMED] = c.ingest_malformed;
	tm[FR_TM_BPF_PORT_EVENTS_LOST] = c.port_events_lost;
	return 0;
}
