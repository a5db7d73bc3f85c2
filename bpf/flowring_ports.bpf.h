/* flowring_ports.bpf.h - kernel-only: listening-port events for the daemon's port map.
 *
 * TCP: CLOSE -> LISTEN and LISTEN -> CLOSE from tp_btf/inet_sock_set_state (flowring_tcp.bpf.h
 * calls in). UDP: a successful bind() that asked for a port (cgroup/bind4/6 remember the asked
 * port, cgroup/post_bind4/6 see the bind succeed) starts; the socket's release or its connect()
 * (seen at its first send or receive) stops. A PORT_CLOSE is sent only for a socket that had a
 * PORT_LISTEN (fr_sk_state.port_flags), so user space's per-socket counts stay paired. Events go
 * through the same ring as closed connections: their order is kept.
 */
#ifndef FR_BPF_FLOWRING_PORTS_BPF_H
#define FR_BPF_FLOWRING_PORTS_BPF_H

static __always_inline void fr_port_emit(__u8 kind, __u8 proto, __u32 netns, __u16 port, __u64 cookie, __u32 pid)
{
	struct fr_bpf_conn e = {};

	e.kind = kind;
	e.proto = proto;
	e.netns = netns;
	e.sport = port;
	e.cookie = cookie;
	e.pid = pid;
	e.start_ns = bpf_ktime_get_ns();
	if (!fr_emit_counted(&e, FR_BPF_TM_PORT_EVENTS_LOST))
		fr_tm_add(FR_BPF_TM_PORT_EVENTS, 1);
}

/* sk started listening on port: remember it for the stop event. */
static __always_inline void fr_port_listen(struct fr_sk_state *st, void *sk, __u8 proto, __u32 netns, __u16 port)
{
	if (!port || (st->port_flags & FR_SK_PORT_LISTENING))
		return;
	st->port_flags |= FR_SK_PORT_LISTENING;
	st->listen_port = port;
	fr_port_emit(FR_BPF_KIND_PORT_LISTEN, proto, netns, port, bpf_get_socket_cookie(sk), fr_current_pid());
}

/* sk stopped listening: owed only if fr_port_listen reported it. */
static __always_inline void fr_port_unlisten(struct fr_sk_state *st, void *sk, __u8 proto, __u32 netns)
{
	if (!st || !(st->port_flags & FR_SK_PORT_LISTENING))
		return;
	st->port_flags &= ~FR_SK_PORT_LISTENING;
	fr_port_emit(FR_BPF_KIND_PORT_CLOSE, proto, netns, st->listen_port, bpf_get_socket_cookie(sk), st->pid);
}

/* bind() in process context, before the kernel binds: the port asked for. A bind to port 0 is an
 * ephemeral client port, not a service: no event. */
static __always_inline void fr_bind_store(struct bpf_sock_addr *ctx)
{
	struct fr_sk_state *st;

	if (!fr_trace_udp || ctx->protocol != FR_IPPROTO_UDP)
		return;
	st = bpf_sk_storage_get(&fr_sk_state, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st) {
		fr_tm_add(FR_BPF_TM_SK_STORAGE_FAILED, 1);
		return;
	}
	st->bind_port = bpf_ntohs(ctx->user_port);
}

SEC("cgroup/bind4")
int fr_bind4(struct bpf_sock_addr *ctx)
{
	fr_bind_store(ctx);
	return 1;
}

SEC("cgroup/bind6")
int fr_bind6(struct bpf_sock_addr *ctx)
{
	fr_bind_store(ctx);
	return 1;
}

/* After a successful bind(): a UDP port that was asked for now receives datagrams. */
static __always_inline void fr_post_bind(struct bpf_sock *ctx)
{
	struct task_struct *task;
	struct fr_sk_state *st;
	__u32 netns;

	if (!fr_trace_udp || ctx->protocol != FR_IPPROTO_UDP || ctx->dst_port)
		return;
	st = bpf_sk_storage_get(&fr_sk_state, ctx, 0, 0);
	if (!st || !st->bind_port || st->bind_port != ctx->src_port)
		return;
	st->bind_port = 0;
	netns = st->netns;
	if (!netns) {
		/* created before the tracer (no cgroup/sock_create): bind() runs in the owner's
		 * namespace; stored for the stop event, sent from sock_release */
		task = (struct task_struct *)bpf_get_current_task();
		netns = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
		st->netns = netns;
	}
	if (fr_targ_netns && netns != fr_targ_netns)
		return;
	fr_port_listen(st, ctx, FR_BPF_UDP, netns, (__u16)ctx->src_port);
}

SEC("cgroup/post_bind4")
int fr_post_bind4(struct bpf_sock *ctx)
{
	fr_post_bind(ctx);
	return 1;
}

SEC("cgroup/post_bind6")
int fr_post_bind6(struct bpf_sock *ctx)
{
	fr_post_bind(ctx);
	return 1;
}

#endif /* FR_BPF_FLOWRING_PORTS_BPF_H */
