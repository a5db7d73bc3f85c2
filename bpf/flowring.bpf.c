// SPDX-License-Identifier: GPL-2.0
/* flowring.bpf.c - CO-RE tracing of TCP and UDP connections on tracepoints and cgroup hooks.
 *
 * TCP: lifecycle from tp_btf/inet_sock_set_state; application bytes from sock_send_length /
 * sock_recv_length; tcp_sock counters at close. UDP: flows per socket and peer; sends from the send
 * tracepoint (destination of unconnected sends from cgroup/sendmsg4/6), receives of connected
 * sockets from the receive tracepoint, of unconnected ones from cgroup_skb/ingress; closed on
 * cgroup/sock_release. Per-socket state (pid, netns, pending destination, known peers) lives in an
 * sk_storage map. Active connections: fr_tcp_conns / fr_udp_flows (read by user space with batch
 * lookups). Closed connections: fr_rb. See docs/BPF.md for why each field comes from where.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "flowring.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by user space before load. */
const volatile __u32 fr_targ_netns = 0;     /* trace only this netns (0: all) */
const volatile __u8 fr_trace_udp = 1;       /* 0: TCP only */
const volatile __u64 fr_wakeup_bytes = 65536; /* force a wakeup once this much is pending */

/* Written by user space at run time: the generation of the current iter/tcp pass. */
volatile __u32 fr_reap_gen = 0;

#define FR_SK_PEERS 4

struct fr_sk_peer {
	__u8 addr[16];
	__u16 port;
	__u8 family;
	__u8 pad;
};

/* Per-socket state. Cloned into accepted sockets (BPF_F_CLONE) so they carry the listener's pid. */
struct fr_sk_state {
	__u32 pid;
	__u32 netns;
	__u8 pend_valid; /* pend_* holds the destination of the send in progress (cgroup/sendmsg) */
	__u8 npeers;     /* UDP flows remembered in peers[] */
	__u8 overflow;   /* more UDP flows than peers[]: user space closes the rest by cookie */
	__u8 pad;
	struct fr_sk_peer pend;
	struct fr_sk_peer peers[FR_SK_PEERS];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} fr_rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct fr_bpf_conn);
} fr_tcp_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct fr_bpf_udp_key);
	__type(value, struct fr_bpf_conn);
} fr_udp_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct fr_sk_state);
} fr_sk_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FR_BPF_TM__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} fr_telemetry SEC(".maps");

#include "flowring.bpf.h"

static __always_inline __u32 fr_current_pid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
}

/* ---------------------------------------------------------------- TCP */

static __always_inline void fr_tcp_fill_final(struct fr_bpf_conn *c, struct tcp_sock *tp)
{
	c->retransmits = tp->total_retrans;
	c->rtt_us = tp->srtt_us >> 3;
	c->rtt_var_us = tp->mdev_us >> 2;
	c->sent_packets = tp->segs_out;
	c->recv_packets = tp->segs_in;
}

static __always_inline void fr_tcp_established(const struct sock *sk, int oldstate, __u32 netns)
{
	struct fr_sk_state *st = bpf_sk_storage_get(&fr_sk_state, (void *)sk, 0, 0);
	struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);
	struct fr_bpf_conn c = {};
	__u64 cookie = bpf_get_socket_cookie((void *)sk);
	__u64 now = bpf_ktime_get_ns();
	long err;

	if (!tp || fr_read_sk_addrs(sk, &c)) {
		fr_tm_add(FR_BPF_TM_EVENTS_SKIPPED, 1);
		return;
	}
	c.proto = FR_BPF_TCP;
	c.cookie = cookie;
	c.sport = fr_tcp_sport(tp);
	c.dport = fr_sk_dport(sk);
	c.netns = netns;
	c.start_ns = now;
	c.last_update_ns = now;
	/* Listener's pid (cloned storage) for accepted sockets, connect()er's for clients: the task
	 * running now may be softirq or the peer. */
	c.pid = st ? st->pid : 0;
	if (oldstate == TCP_SYN_RECV)
		c.flags |= FR_BPF_F_LISTENER_SIDE;
	err = bpf_map_update_elem(&fr_tcp_conns, &cookie, &c, BPF_NOEXIST);
	if (err && err != -17 /* EEXIST: seeded */)
		fr_tm_add(FR_BPF_TM_TCP_MAP_FULL, 1);
}

static __always_inline void fr_tcp_closed(const struct sock *sk, int oldstate, __u32 netns)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);
	__u64 cookie = bpf_get_socket_cookie((void *)sk);
	struct fr_bpf_conn *a, c = {};

	if (!tp) {
		fr_tm_add(FR_BPF_TM_EVENTS_SKIPPED, 1);
		return;
	}
	a = bpf_map_lookup_elem(&fr_tcp_conns, &cookie);
	if (a) {
		__builtin_memcpy(&c, a, sizeof(c));
	} else {
		struct fr_sk_state *st;

		/* Not tracked: a failed connect, a map-full connection, or one that predates us
		 * and was not seeded. Addresses and counters still come from the socket. */
		if (oldstate == TCP_SYN_RECV)
			return; /* never established: not a connection */
		if (fr_read_sk_addrs(sk, &c)) {
			fr_tm_add(FR_BPF_TM_EVENTS_SKIPPED, 1);
			return;
		}
		st = bpf_sk_storage_get(&fr_sk_state, (void *)sk, 0, 0);
		c.proto = FR_BPF_TCP;
		c.cookie = cookie;
		c.sport = fr_tcp_sport(tp);
		c.dport = fr_sk_dport(sk);
		c.netns = netns;
		c.pid = st ? st->pid : 0;
		if (oldstate == TCP_SYN_SENT) {
			c.flags |= FR_BPF_F_FAILED_CONNECT;
			fr_tm_add(FR_BPF_TM_FAILED_CONNECTS, 1);
		} else {
			/* Payload put on the wire once (bytes_acked would count SYN and FIN, and
			 * not the same way on both sides); bytes_received counts the FIN. */
			__u64 rcvd = tp->bytes_received;

			c.sent_bytes = tp->bytes_sent - tp->bytes_retrans;
			c.recv_bytes = rcvd > 1 ? rcvd - 1 : 0;
		}
	}
	fr_tcp_fill_final(&c, tp);
	c.end_ns = bpf_ktime_get_ns();
	c.last_update_ns = c.end_ns;
	if (!c.start_ns)
		c.start_ns = c.end_ns;
	c.flags |= FR_BPF_F_CLOSED;
	c.kind = FR_BPF_KIND_CONN;
	if (a) {
		/* Marked before the delete: if the delete fails (-EBUSY: a program on this CPU holds
		 * the bucket), user space removes the entry without reporting it a second time. */
		a->end_ns = c.end_ns;
		fr_emit(&c);
		bpf_map_delete_elem(&fr_tcp_conns, &cookie);
	} else {
		fr_emit(&c);
	}
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(fr_tcp_state, const struct sock *sk, const int oldstate, const int newstate)
{
	struct fr_sk_state *st;
	__u32 netns;

	/* Most transitions (FIN_WAIT1, CLOSE_WAIT, ...) need nothing: leave before any read. */
	if (newstate != TCP_LISTEN && newstate != TCP_SYN_SENT && newstate != TCP_ESTABLISHED &&
	    newstate != TCP_CLOSE)
		return 0;
	if (sk->sk_protocol != FR_IPPROTO_TCP)
		return 0;
	netns = fr_sk_netns(sk);
	if (fr_targ_netns && netns != fr_targ_netns)
		return 0;
	switch (newstate) {
	case TCP_LISTEN:
	case TCP_SYN_SENT:
		/* Process context (listen(), connect()): the only reliable moment for the pid. */
		st = bpf_sk_storage_get(&fr_sk_state, (void *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (!st) {
			fr_tm_add(FR_BPF_TM_SK_STORAGE_FAILED, 1);
			return 0;
		}
		st->pid = fr_current_pid();
		st->netns = netns;
		return 0;
	case TCP_ESTABLISHED:
		if (oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV)
			fr_tcp_established(sk, oldstate, netns);
		return 0;
	case TCP_CLOSE:
		if (oldstate != TCP_LISTEN && oldstate != TCP_CLOSE) {
			fr_tm_add(FR_BPF_TM_TCP_CLOSES, 1);
			fr_tcp_closed(sk, oldstate, netns);
		}
		return 0;
	}
	return 0;
}

/* ---------------------------------------------------------------- UDP flows */

static __always_inline struct fr_sk_state *fr_sk_state_get(void *sk)
{
	struct fr_sk_state *st = bpf_sk_storage_get(&fr_sk_state, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);

	if (!st)
		fr_tm_add(FR_BPF_TM_SK_STORAGE_FAILED, 1);
	return st;
}

/* Find or create the flow (key) of a UDP socket; c0 holds the new flow's identity. */
static __always_inline struct fr_bpf_conn *fr_udp_flow(struct fr_bpf_udp_key *key, struct fr_bpf_conn *c0,
						       struct fr_sk_state *st)
{
	struct fr_bpf_conn *f = bpf_map_lookup_elem(&fr_udp_flows, key);
	long err;

	if (f)
		return f;
	err = bpf_map_update_elem(&fr_udp_flows, key, c0, BPF_NOEXIST);
	if (err && err != -17) {
		fr_tm_add(FR_BPF_TM_UDP_MAP_FULL, 1);
		return 0;
	}
	if (!err && st) {
		__u32 n = st->npeers;

		if (n < FR_SK_PEERS) {
			__builtin_memcpy(st->peers[n].addr, key->peer, 16);
			st->peers[n].port = key->peer_port;
			st->peers[n].family = key->family;
			st->npeers = n + 1;
		} else {
			st->overflow = 1;
		}
	}
	return bpf_map_lookup_elem(&fr_udp_flows, key);
}

static __always_inline void fr_udp_key_from_conn(struct fr_bpf_udp_key *k, const struct fr_bpf_conn *c)
{
	__builtin_memcpy(k->peer, c->daddr, 16);
	k->peer_port = c->dport;
	k->family = c->family;
}

/* A send or receive on a UDP socket from the tracepoints (process context). */
static __always_inline void fr_udp_account(struct sock *sk, int bytes, int is_send)
{
	struct fr_sk_state *st = fr_sk_state_get(sk);
	struct fr_bpf_udp_key key = {};
	struct fr_bpf_conn c = {}, *f;
	__u32 netns = fr_sk_netns(sk);
	__u64 now;

	if (fr_targ_netns && netns != fr_targ_netns)
		return;
	if (st) {
		if (!st->pid)
			st->pid = fr_current_pid();
		st->netns = netns;
	}
	if (fr_read_sk_addrs(sk, &c)) {
		fr_tm_add(FR_BPF_TM_EVENTS_SKIPPED, 1);
		return;
	}
	c.sport = fr_sk_sport(sk);
	c.dport = fr_sk_dport(sk);
	if (is_send && st && st->pend_valid) {
		/* Destination given to sendto()/sendmsg(), seen by cgroup/sendmsg just before. */
		st->pend_valid = 0;
		__builtin_memcpy(c.daddr, st->pend.addr, 16);
		c.dport = st->pend.port;
		if (st->pend.family == FR_BPF_V4 && c.family == FR_BPF_V6) {
			/* dual-stack socket sending to a v4-mapped address: local side unknown */
			__builtin_memset(c.saddr, 0, 16);
		}
		c.family = st->pend.family;
	} else if (c.dport) {
		c.flags |= FR_BPF_F_UDP_CONNECTED;
	} else {
		/* Unconnected receive: counted by cgroup_skb/ingress, which sees the peer. */
		if (is_send)
			fr_tm_add(FR_BPF_TM_EVENTS_SKIPPED, 1);
		return;
	}
	if (!is_send && !(c.flags & FR_BPF_F_UDP_CONNECTED))
		return;
	now = bpf_ktime_get_ns();
	c.proto = FR_BPF_UDP;
	c.cookie = bpf_get_socket_cookie(sk);
	c.netns = netns;
	c.pid = st ? st->pid : fr_current_pid();
	c.start_ns = now;
	c.last_update_ns = now;
	key.cookie = c.cookie;
	fr_udp_key_from_conn(&key, &c);
	f = fr_udp_flow(&key, &c, st);
	if (!f)
		return;
	if (is_send) {
		__sync_fetch_and_add(&f->sent_bytes, bytes);
		__sync_fetch_and_add(&f->sent_packets, 1);
	} else {
		__sync_fetch_and_add(&f->recv_bytes, bytes);
		__sync_fetch_and_add(&f->recv_packets, 1);
	}
	if (!f->pid && st)
		f->pid = st->pid;
	f->last_update_ns = now;
}

/* ---------------------------------------------------------------- bytes */

static __always_inline void fr_tcp_account(struct sock *sk, int bytes, int is_send)
{
	__u64 cookie = bpf_get_socket_cookie(sk);
	struct fr_bpf_conn *c = bpf_map_lookup_elem(&fr_tcp_conns, &cookie);
	struct tcp_sock *tp;

	if (!c)
		return;
	if (is_send)
		__sync_fetch_and_add(&c->sent_bytes, bytes);
	else
		__sync_fetch_and_add(&c->recv_bytes, bytes);
	if (!c->pid)
		c->pid = fr_current_pid(); /* seeded connection: process context gives the owner */
	c->last_update_ns = bpf_ktime_get_ns();
	tp = bpf_skc_to_tcp_sock(sk);
	if (tp)
		fr_tcp_fill_final(c, tp); /* keep the active view's counters current */
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(fr_send_length, struct sock *sk, int ret, int flags)
{
	__u16 proto;

	if (ret < 0) {
		struct fr_sk_state *st = bpf_sk_storage_get(&fr_sk_state, sk, 0, 0);

		if (st)
			st->pend_valid = 0; /* failed send: its destination must not leak into the next */
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

/* ---------------------------------------------------------------- cgroup hooks */

/* Process context at socket(): pid and netns for sockets whose first event is in softirq. */
SEC("cgroup/sock_create")
int fr_sock_create(struct bpf_sock *ctx)
{
	struct task_struct *task;
	struct fr_sk_state *st;

	if (ctx->protocol != FR_IPPROTO_UDP)
		return 1;
	st = fr_sk_state_get(ctx);
	if (!st)
		return 1;
	task = (struct task_struct *)bpf_get_current_task();
	st->pid = fr_current_pid();
	st->netns = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
	return 1;
}

static __always_inline void fr_pend_store(struct bpf_sock_addr *ctx, __u8 family)
{
	struct fr_sk_state *st;

	if (!fr_trace_udp || ctx->protocol != FR_IPPROTO_UDP)
		return;
	st = fr_sk_state_get(ctx->sk);
	if (!st)
		return;
	__builtin_memset(st->pend.addr, 0, 16);
	if (family == FR_BPF_V4) {
		*(__u32 *)st->pend.addr = ctx->user_ip4;
	} else {
		__u32 a[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3] };

		if (fr_is_v4_mapped(a)) {
			*(__u32 *)st->pend.addr = a[3];
			family = FR_BPF_V4;
		} else {
			__builtin_memcpy(st->pend.addr, a, 16);
		}
	}
	st->pend.port = bpf_ntohs(ctx->user_port);
	st->pend.family = family;
	st->pend_valid = 1;
}

SEC("cgroup/sendmsg4")
int fr_sendmsg4(struct bpf_sock_addr *ctx)
{
	fr_pend_store(ctx, FR_BPF_V4);
	return 1;
}

SEC("cgroup/sendmsg6")
int fr_sendmsg6(struct bpf_sock_addr *ctx)
{
	fr_pend_store(ctx, FR_BPF_V6);
	return 1;
}

/* Datagrams to unconnected UDP sockets: the peer is only in the packet. */
SEC("cgroup_skb/ingress")
int fr_udp_ingress(struct __sk_buff *skb)
{
	struct fr_bpf_udp_key key = {};
	struct fr_bpf_conn c = {}, *f;
	struct fr_sk_state *st;
	struct bpf_sock *sk;
	struct udphdr uh;
	__u32 off;
	__u64 now;

	if (!fr_trace_udp)
		return 1;
	sk = skb->sk;
	if (!sk)
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->protocol != FR_IPPROTO_UDP || sk->dst_port)
		return 1;
	if (skb->protocol == bpf_htons(FR_ETH_P_IP)) {
		struct iphdr ih;

		if (bpf_skb_load_bytes(skb, 0, &ih, sizeof(ih)) || ih.protocol != FR_IPPROTO_UDP)
			return 1;
		fr_set_addrs4(&c, ih.daddr, ih.saddr);
		off = (ih.ihl & 0xf) * 4;
	} else if (skb->protocol == bpf_htons(FR_ETH_P_IPV6)) {
		struct ipv6hdr ih;

		if (bpf_skb_load_bytes(skb, 0, &ih, sizeof(ih)) || ih.nexthdr != FR_IPPROTO_UDP)
			return 1;
		fr_set_addrs6(&c, ih.daddr.in6_u.u6_addr32, ih.saddr.in6_u.u6_addr32);
		off = sizeof(ih);
	} else {
		return 1;
	}
	if (bpf_skb_load_bytes(skb, off, &uh, sizeof(uh)))
		return 1;
	st = fr_sk_state_get(sk);
	if (fr_targ_netns && (!st || st->netns != fr_targ_netns))
		return 1;
	now = bpf_ktime_get_ns();
	c.sport = bpf_ntohs(uh.dest);
	c.dport = bpf_ntohs(uh.source);
	c.proto = FR_BPF_UDP;
	c.cookie = bpf_get_socket_cookie(skb);
	c.pid = st ? st->pid : 0;
	c.netns = st ? st->netns : 0;
	c.start_ns = now;
	c.last_update_ns = now;
	key.cookie = c.cookie;
	fr_udp_key_from_conn(&key, &c);
	f = fr_udp_flow(&key, &c, st);
	if (!f)
		return 1;
	__sync_fetch_and_add(&f->recv_bytes, (__u16)(bpf_ntohs(uh.len) - 8));
	__sync_fetch_and_add(&f->recv_packets, 1);
	f->last_update_ns = now;
	return 1;
}

/* close() of a UDP socket (process context; ports unreadable here, so the flows come from the
 * peers remembered in sk_storage). */
SEC("cgroup/sock_release")
int fr_sock_release(struct bpf_sock *ctx)
{
	struct fr_bpf_udp_key key = {};
	struct fr_sk_state *st;
	__u64 now;
	int i;

	if (!fr_trace_udp || ctx->protocol != FR_IPPROTO_UDP)
		return 1;
	st = bpf_sk_storage_get(&fr_sk_state, ctx, 0, 0);
	if (!st)
		return 1;
	now = bpf_ktime_get_ns();
	key.cookie = bpf_get_socket_cookie(ctx);
	for (i = 0; i < FR_SK_PEERS; i++) {
		struct fr_bpf_conn *f;

		if (i >= st->npeers)
			break;
		__builtin_memcpy(key.peer, st->peers[i].addr, 16);
		key.peer_port = st->peers[i].port;
		key.family = st->peers[i].family;
		f = bpf_map_lookup_elem(&fr_udp_flows, &key);
		if (!f)
			continue; /* closed by the idle timeout already */
		f->end_ns = now; /* also marks it reported, should the delete fail */
		f->flags |= FR_BPF_F_CLOSED;
		f->kind = FR_BPF_KIND_CONN;
		fr_emit(f);
		bpf_map_delete_elem(&fr_udp_flows, &key);
	}
	if (st->overflow) {
		struct fr_bpf_conn m = {};

		m.kind = FR_BPF_KIND_UDP_RELEASE;
		m.proto = FR_BPF_UDP;
		m.cookie = key.cookie;
		m.end_ns = now;
		fr_emit(&m);
	}
	st->npeers = 0;
	st->overflow = 0;
	return 1;
}

/* ---------------------------------------------------------------- seeding */

/* Seeding (at open) and liveness (fr_tracer_reap_tcp): marks every tracked socket that still
 * exists with the pass's generation, and inserts the ones not tracked yet. */
SEC("iter/tcp")
int fr_iter_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct fr_bpf_conn c = {}, *a;
	struct tcp_sock *tp;
	struct sock *sk;
	__u64 cookie;
	int state;

	if (!skc)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0; /* TIME_WAIT or request socket */
	sk = (struct sock *)tp;
	state = sk->__sk_common.skc_state;
	if (state == TCP_LISTEN || state == TCP_CLOSE || state == TCP_SYN_SENT || state == TCP_SYN_RECV)
		return 0;
	c.netns = fr_sk_netns(sk);
	if (fr_targ_netns && c.netns != fr_targ_netns)
		return 0;
	cookie = bpf_get_socket_cookie(sk);
	a = bpf_map_lookup_elem(&fr_tcp_conns, &cookie);
	if (a) {
		a->reap_gen = fr_reap_gen;
		return 0;
	}
	if (fr_read_sk_addrs(sk, &c))
		return 0;
	c.reap_gen = fr_reap_gen;
	c.proto = FR_BPF_TCP;
	c.cookie = cookie;
	c.sport = fr_tcp_sport(tp);
	c.dport = fr_sk_dport(sk);
	c.start_ns = bpf_ktime_get_ns();
	c.last_update_ns = c.start_ns;
	c.flags = FR_BPF_F_SEEDED;
	/* Bytes before we started: payload transmitted once (bytes_sent counts retransmissions,
	 * bytes_acked the SYN on one side only); bytes_received has no FIN while established. */
	c.sent_bytes = tp->bytes_sent - tp->bytes_retrans;
	c.recv_bytes = tp->bytes_received;
	fr_tcp_fill_final(&c, tp);
	if (bpf_map_update_elem(&fr_tcp_conns, &cookie, &c, BPF_NOEXIST) == -7 /* E2BIG */)
		fr_tm_add(FR_BPF_TM_TCP_MAP_FULL, 1);
	return 0;
}

SEC("iter/udp")
int fr_iter_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *us = ctx->udp_sk;
	struct fr_bpf_udp_key key = {};
	struct fr_bpf_conn c = {};
	struct fr_sk_state *st;
	struct sock *sk;

	if (!us || !fr_trace_udp)
		return 0;
	sk = (struct sock *)us;
	c.netns = fr_sk_netns(sk);
	if (fr_targ_netns && c.netns != fr_targ_netns)
		return 0;
	st = bpf_sk_storage_get(&fr_sk_state, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (st)
		st->netns = c.netns; /* for cgroup_skb/ingress, which cannot read the socket */
	c.dport = fr_sk_dport(sk);
	if (!c.dport || fr_read_sk_addrs(sk, &c))
		return 0; /* unconnected: flows appear with their first datagram */
	c.proto = FR_BPF_UDP;
	c.cookie = bpf_get_socket_cookie(sk);
	c.sport = fr_sk_sport(sk);
	c.start_ns = bpf_ktime_get_ns();
	c.last_update_ns = c.start_ns;
	c.flags = FR_BPF_F_SEEDED | FR_BPF_F_UDP_CONNECTED;
	c.pid = st ? st->pid : 0;
	key.cookie = c.cookie;
	fr_udp_key_from_conn(&key, &c);
	fr_udp_flow(&key, &c, st);
	return 0;
}
