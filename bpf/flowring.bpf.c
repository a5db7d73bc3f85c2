// SPDX-License-Identifier: GPL-2.0
/* flowring.bpf.c - CO-RE tracing of TCP and UDP connections on tracepoints and cgroup hooks.
 *
 * One BPF object; its programs are grouped by concern in kernel-only headers:
 *   flowring_maps.bpf.h   configuration, per-socket state (sk_storage), maps
 *   flowring.bpf.h        helpers: addresses, socket reads, telemetry, ring output
 *   flowring_ports.bpf.h  listening-port events (TCP LISTEN, UDP bind/release)
 *   flowring_tcp.bpf.h    TCP lifecycle (inet_sock_set_state) and byte accounting
 *   flowring_udp.bpf.h    UDP flows: tracepoints' accounting, cgroup sendmsg/egress/ingress/release
 *   flowring_iter.bpf.h   iter/tcp, iter/udp: seeding and the TCP liveness pass
 * This file holds the two tracepoints shared by TCP and UDP (application bytes sent / received).
 * Active connections: fr_tcp_conns / fr_udp_flows (read by user space with batch lookups). Closed
 * connections and port events: fr_rb. See docs/BPF.md for why each field comes from where.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "flowring.h"

char LICENSE[] SEC("license") = "GPL";

#include "flowring_maps.bpf.h"
#include "flowring.bpf.h"
#include "flowring_ports.bpf.h"
#include "flowring_tcp.bpf.h"
#include "flowring_udp.bpf.h"
#include "flowring_iter.bpf.h"

SEC("tp_btf/sock_send_length")
int BPF_PROG(fr_send_length, struct sock *sk, int ret, int flags)
{
	__u16 proto;

	if (ret < 0) {
		struct fr_sk_state *st = bpf_sk_storage_get(&fr_sk_state, sk, 0, 0);

		if (st)
			st->pend_valid = st->src_valid = 0; /* failed send: must not leak into the next */
		return 0;
	}
	proto = sk->sk_protocol;
	if (proto == FR_IPPROTO_TCP) {
		if (ret > 0)
			fr_tcp_account(sk, ret, 1);
	} else if (proto == FR_IPPROTO_UDP && fr_trace_udp) {
		fr_udp_account(sk, ret, 1);
	}
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(fr_recv_length, struct sock *sk, int ret, int flags)
{
	__u16 proto;

	if (ret < 0 || (flags & FR_MSG_PEEK))
		return 0;
	proto = sk->sk_protocol;
	if (proto == FR_IPPROTO_TCP) {
		if (ret > 0)
			fr_tcp_account(sk, ret, 0);
	} else if (proto == FR_IPPROTO_UDP && fr_trace_udp) {
		fr_udp_account(sk, ret, 0);
	}
	return 0;
}
