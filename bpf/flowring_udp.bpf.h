/* flowring_udp.bpf.h - kernel-only: UDP flows per socket and peer. Sends and connected receives
 * from the send/receive tracepoints (fr_udp_account, called by flowring.bpf.c); the destination of
 * unconnected sends from cgroup/sendmsg4/6 and their source address from cgroup_skb/egress;
 * unconnected receives from cgroup_skb/ingress; closed on cgroup/sock_release. Included once by
 * flowring.bpf.c, after flowring_ports.bpf.h.
 */
#ifndef FR_BPF_FLOWRING_UDP_BPF_H
#define FR_BPF_FLOWRING_UDP_BPF_H


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
			/* dual-stack socket sending to a v4-mapped address: the v6 local address
			 * does not apply; the route's source (below) does */
			__builtin_memset(c.saddr, 0, 16);
		}
		c.family = st->pend.family;
		/* A socket not bound to an address: the route chose the source, which
		 * cgroup_skb/egress took from this datagram's IP header. */
		if (st->src_valid && st->src.family == c.family && fr_addr_is_any(c.saddr))
			__builtin_memcpy(c.saddr, st->src.addr, 16);
		st->src_valid = 0;
	} else if (c.dport) {
		c.flags |= FR_BPF_F_UDP_CONNECTED;
		/* connect()ed after a bind(): no longer receives from everyone */
		if (st && (st->port_flags & FR_SK_PORT_LISTENING))
			fr_port_unlisten(st, sk, FR_BPF_UDP, netns);
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
	/* a flow created before its source was known (egress missed, e.g. corked) learns it now */
	if (is_send && fr_addr_is_any(f->saddr) && !fr_addr_is_any(c.saddr))
		__builtin_memcpy(f->saddr, c.saddr, 16);
	f->last_update_ns = now;
}

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
	st->src_valid = 0;
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

/* The addresses and ports of a UDP datagram into c, the local end first: the packet's destination
 * on ingress, its source on egress. *payload: the UDP length minus the header. Returns 0, or -1 if
 * skb is not UDP over IPv4/IPv6. */
static __always_inline int fr_skb_udp(struct __sk_buff *skb, struct fr_bpf_conn *c, int egress, __u16 *payload)
{
	struct udphdr uh;
	__u32 off;

	if (skb->protocol == bpf_htons(FR_ETH_P_IP)) {
		struct iphdr ih;

		if (bpf_skb_load_bytes(skb, 0, &ih, sizeof(ih)) || ih.protocol != FR_IPPROTO_UDP)
			return -1;
		if (egress)
			fr_set_addrs4(c, ih.saddr, ih.daddr);
		else
			fr_set_addrs4(c, ih.daddr, ih.saddr);
		off = (ih.ihl & 0xf) * 4;
	} else if (skb->protocol == bpf_htons(FR_ETH_P_IPV6)) {
		struct ipv6hdr ih;

		if (bpf_skb_load_bytes(skb, 0, &ih, sizeof(ih)) || ih.nexthdr != FR_IPPROTO_UDP)
			return -1;
		if (egress)
			fr_set_addrs6(c, ih.saddr.in6_u.u6_addr32, ih.daddr.in6_u.u6_addr32);
		else
			fr_set_addrs6(c, ih.daddr.in6_u.u6_addr32, ih.saddr.in6_u.u6_addr32);
		off = sizeof(ih);
	} else {
		return -1;
	}
	if (bpf_skb_load_bytes(skb, off, &uh, sizeof(uh)))
		return -1;
	c->sport = bpf_ntohs(egress ? uh.source : uh.dest);
	c->dport = bpf_ntohs(egress ? uh.dest : uh.source);
	*payload = (__u16)(bpf_ntohs(uh.len) - 8);
	return 0;
}

/* The UDP socket of skb if it is unconnected (connected sockets are the tracepoints' alone). */
static __always_inline struct bpf_sock *fr_skb_unconnected_udp(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;

	if (!fr_trace_udp || !sk)
		return 0;
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->protocol != FR_IPPROTO_UDP || sk->dst_port)
		return 0;
	return sk;
}

/* Datagrams to unconnected UDP sockets: the peer is only in the packet. */
SEC("cgroup_skb/ingress")
int fr_udp_ingress(struct __sk_buff *skb)
{
	struct bpf_sock *sk = fr_skb_unconnected_udp(skb);
	struct fr_bpf_udp_key key = {};
	struct fr_bpf_conn c = {}, *f;
	struct fr_sk_state *st;
	__u16 payload;
	__u64 now;

	if (!sk || fr_skb_udp(skb, &c, 0, &payload))
		return 1;
	st = fr_sk_state_get(sk);
	if (fr_targ_netns && (!st || st->netns != fr_targ_netns))
		return 1;
	now = bpf_ktime_get_ns();
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
	__sync_fetch_and_add(&f->recv_bytes, payload);
	__sync_fetch_and_add(&f->recv_packets, 1);
	f->last_update_ns = now;
	return 1;
}

/* Datagrams from unconnected UDP sockets, inside sendto() between cgroup/sendmsg and the send
 * tracepoint: the source address the route chose for the pending destination, which the socket
 * does not hold when it is bound to the wildcard address (or not bound). */
SEC("cgroup_skb/egress")
int fr_udp_egress(struct __sk_buff *skb)
{
	struct bpf_sock *sk = fr_skb_unconnected_udp(skb);
	struct fr_bpf_conn c = {};
	struct fr_sk_state *st;
	const __u32 *d, *p;
	__u16 payload;

	if (!sk)
		return 1;
	st = bpf_sk_storage_get(&fr_sk_state, sk, 0, 0);
	if (!st || !st->pend_valid || st->src_valid || fr_skb_udp(skb, &c, 1, &payload))
		return 1;
	/* Only the datagram of the pending send (a corked one may flush an older destination). */
	d = (const __u32 *)c.daddr;
	p = (const __u32 *)st->pend.addr;
	if (c.family != st->pend.family || c.dport != st->pend.port || d[0] != p[0] || d[1] != p[1] ||
	    d[2] != p[2] || d[3] != p[3])
		return 1;
	__builtin_memcpy(st->src.addr, c.saddr, 16);
	st->src.family = c.family;
	st->src_valid = 1;
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
	fr_port_unlisten(st, ctx, FR_BPF_UDP, st->netns);
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


#endif /* FR_BPF_FLOWRING_UDP_BPF_H */
