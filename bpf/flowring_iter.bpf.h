/* flowring_iter.bpf.h - kernel-only: iter/tcp and iter/udp, which seed the connections that predate
 * the tracer and, for TCP, mark the live ones for the liveness pass (fr_tracer_reap_tcp). They walk
 * the network namespace of the process that creates the iterator only. Included once by
 * flowring.bpf.c, after flowring_udp.bpf.h (fr_udp_flow).
 */
#ifndef FR_BPF_FLOWRING_ITER_BPF_H
#define FR_BPF_FLOWRING_ITER_BPF_H


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

#endif /* FR_BPF_FLOWRING_ITER_BPF_H */
