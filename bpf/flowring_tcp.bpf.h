/* flowring_tcp.bpf.h - kernel-only: TCP connections from tp_btf/inet_sock_set_state (established,
 * closed, failed connects, listening ports) and their byte counts from the send/receive tracepoints
 * (fr_tcp_account, called by flowring.bpf.c). Included once by flowring.bpf.c.
 */
#ifndef FR_BPF_FLOWRING_TCP_BPF_H
#define FR_BPF_FLOWRING_TCP_BPF_H


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
		/* inet_sport is set by bind(); a listen() without bind() gets its port after this
		 * transition (inet_csk_listen_start), reads 0 here and is not reported. */
		if (newstate == TCP_LISTEN)
			fr_port_listen(st, (void *)sk, FR_BPF_TCP, netns, fr_sk_sport(sk));
		return 0;
	case TCP_ESTABLISHED:
		if (oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV)
			fr_tcp_established(sk, oldstate, netns);
		return 0;
	case TCP_CLOSE:
		if (oldstate == TCP_LISTEN) {
			st = bpf_sk_storage_get(&fr_sk_state, (void *)sk, 0, 0);
			fr_port_unlisten(st, (void *)sk, FR_BPF_TCP, netns);
		} else if (oldstate != TCP_CLOSE) {
			fr_tm_add(FR_BPF_TM_TCP_CLOSES, 1);
			fr_tcp_closed(sk, oldstate, netns);
		}
		return 0;
	}
	return 0;
}

#endif /* FR_BPF_FLOWRING_TCP_BPF_H */
