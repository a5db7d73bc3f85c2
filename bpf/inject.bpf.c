// SPDX-License-Identifier: GPL-2.0
/* inject.bpf.c - the ingest bench's event source: closed-connection records made in the kernel, written into the
 * tracer's own BPF ring buffer (user space reuses its map fd), so the producer's real ring-buffer path is measured.
 * Run with BPF_PROG_TEST_RUN; bpf_loop writes fr_inject_count records per run. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "flowring.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); /* replaced by the tracer's map (bpf_map__reuse_fd) */
} fr_rb SEC(".maps");

__u64 fr_inject_count;  /* records to write in the next run */
__u64 fr_inject_base;   /* record number of the first one: keys differ across runs */
__u32 fr_inject_netns;  /* network namespace inode the records claim */
__u32 fr_inject_keys;   /* distinct connection keys cycled through (0: all distinct) */
__u64 fr_injected;      /* records written, all runs */
__u64 fr_inject_failed; /* reserves that failed: the ring was full (the run stops there) */

static long fr_inject_one(__u64 i, void *ctx)
{
	struct fr_bpf_conn *r = bpf_ringbuf_reserve(&fr_rb, sizeof(*r), 0);
	__u64 n = fr_inject_base + i, now;

	(void)ctx;
	if (!r) {
		fr_inject_failed++;
		return 1;
	}
	__builtin_memset(r, 0, sizeof(*r));
	if (fr_inject_keys)
		n %= fr_inject_keys;
	now = bpf_ktime_get_ns();
	/* 10.x.y.z:port -> 10.0.0.1:443, a different key per record number */
	r->saddr[0] = 10;
	r->saddr[1] = (n >> 24) & 0xff;
	r->saddr[2] = (n >> 16) & 0xff;
	r->saddr[3] = (n >> 8) & 0xff;
	r->daddr[0] = 10;
	r->daddr[3] = 1;
	r->sport = 1024 + (n & 0xff) * 200;
	r->dport = 443;
	r->pid = 1000 + (n % 4096);
	r->netns = fr_inject_netns;
	r->sent_bytes = 100 + (n % 1000);
	r->recv_bytes = 2000 + (n % 5000);
	r->sent_packets = 3;
	r->recv_packets = 4;
	r->rtt_us = 50;
	r->rtt_var_us = 10;
	r->start_ns = now - 1000000;
	r->last_update_ns = now;
	r->end_ns = now;
	r->cookie = n + 1;
	r->flags = FR_BPF_F_CLOSED;
	r->proto = FR_BPF_TCP;
	r->family = FR_BPF_V4;
	r->kind = FR_BPF_KIND_CONN;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	fr_injected++;
	return 0;
}

SEC("syscall")
int fr_inject(void *ctx)
{
	(void)ctx;
	bpf_loop(fr_inject_count, fr_inject_one, NULL, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
