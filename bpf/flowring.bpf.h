/* flowring.bpf.h - kernel-only helpers of flowring.bpf.c: address folding, socket reads, telemetry,
 * ring output. Included once, after vmlinux.h, the libbpf BPF headers and flowring_maps.bpf.h.
 */
#ifndef FR_BPF_FLOWRING_BPF_H
#define FR_BPF_FLOWRING_BPF_H

#define FR_AF_INET 2
#define FR_AF_INET6 10
#define FR_IPPROTO_TCP 6
#define FR_IPPROTO_UDP 17
#define FR_MSG_PEEK 2
#define FR_ETH_P_IP 0x0800
#define FR_ETH_P_IPV6 0x86DD

static __always_inline __u32 fr_current_pid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
}

static __always_inline void fr_tm_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&fr_telemetry, &idx);

	/* Per-CPU, but a softirq program (cgroup_skb) can interrupt a process-context one on the
	 * same CPU: an atomic add keeps the count exact. */
	if (v)
		__sync_fetch_and_add(v, n);
}

/* v4-mapped (::ffff:a.b.c.d) */
static __always_inline int fr_is_v4_mapped(const __u32 a[4])
{
	return a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff);
}

static __always_inline int fr_is_any6(const __u32 a[4])
{
	return (a[0] | a[1] | a[2] | a[3]) == 0;
}

/* Fill saddr/daddr/family of c from a pair of IPv6 addresses, folding v4-mapped ones to IPv4. */
static __always_inline void fr_set_addrs6(struct fr_bpf_conn *c, const __u32 s[4], const __u32 d[4])
{
	__u32 *cs = (__u32 *)c->saddr, *cd = (__u32 *)c->daddr;

	if (fr_is_v4_mapped(d) && (fr_is_v4_mapped(s) || fr_is_any6(s))) {
		c->family = FR_BPF_V4;
		cs[0] = s[3];
		cd[0] = d[3];
		cs[1] = cs[2] = cs[3] = 0;
		cd[1] = cd[2] = cd[3] = 0;
		return;
	}
	c->family = FR_BPF_V6;
	cs[0] = s[0], cs[1] = s[1], cs[2] = s[2], cs[3] = s[3];
	cd[0] = d[0], cd[1] = d[1], cd[2] = d[2], cd[3] = d[3];
}

static __always_inline void fr_set_addrs4(struct fr_bpf_conn *c, __u32 s, __u32 d)
{
	__u32 *cs = (__u32 *)c->saddr, *cd = (__u32 *)c->daddr;

	c->family = FR_BPF_V4;
	cs[0] = s, cs[1] = cs[2] = cs[3] = 0;
	cd[0] = d, cd[1] = cd[2] = cd[3] = 0;
}

/* Addresses of a socket. sk must be a BTF pointer (tp_btf, iterators): direct reads are CO-RE
 * relocated (vmlinux.h's preserve_access_index) and cheaper than probe reads. Returns -1 if not inet. */
static __always_inline int fr_read_sk_addrs(const struct sock *sk, struct fr_bpf_conn *c)
{
	__u16 fam = sk->__sk_common.skc_family;

	if (fam == FR_AF_INET) {
		fr_set_addrs4(c, sk->__sk_common.skc_rcv_saddr, sk->__sk_common.skc_daddr);
		return 0;
	}
	if (fam == FR_AF_INET6) {
		__u32 s[4], d[4];

		s[0] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[0];
		s[1] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[1];
		s[2] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[2];
		s[3] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[3];
		d[0] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[0];
		d[1] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[1];
		d[2] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[2];
		d[3] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[3];
		fr_set_addrs6(c, s, d);
		return 0;
	}
	return -1;
}

static __always_inline __u32 fr_sk_netns(const struct sock *sk)
{
	return sk->__sk_common.skc_net.net->ns.inum;
}

/* Local port in host order; inet_sport because skc_num is already 0 at TCP_CLOSE. inet_sock lies
 * beyond struct sock, which the verifier will not let a sock pointer reach directly. */
static __always_inline __u16 fr_sk_sport(const struct sock *sk)
{
	return bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
}

static __always_inline __u16 fr_tcp_sport(const struct tcp_sock *tp)
{
	return bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport);
}

static __always_inline __u16 fr_sk_dport(const struct sock *sk)
{
	return bpf_ntohs(sk->__sk_common.skc_dport);
}

static __always_inline int fr_addr_is_any(const __u8 a[16])
{
	const __u32 *w = (const __u32 *)a;

	return (w[0] | w[1] | w[2] | w[3]) == 0;
}

/* Send one record; lost_idx counts it if the ring is full. Without a wakeup (BPF_RB_NO_WAKEUP: a
 * wakeup per event costs ~10x the program) unless enough data is pending; user space also drains
 * on a short timer. Returns 0, or -1 if the record was lost. */
static __always_inline int fr_emit_counted(const struct fr_bpf_conn *src, __u32 lost_idx)
{
	struct fr_bpf_conn *r = bpf_ringbuf_reserve(&fr_rb, sizeof(*r), 0);
	__u64 flags = BPF_RB_NO_WAKEUP, avail;

	if (!r) {
		fr_tm_add(lost_idx, 1);
		if (lost_idx == FR_BPF_TM_RB_RESERVE_FAILED)
			fr_tm_add(FR_BPF_TM_RB_BYTES_DROPPED, sizeof(*r));
		return -1;
	}
	__builtin_memcpy(r, src, sizeof(*r));
	/* Wake when this record crosses the threshold: a consumer that is behind is already awake or
	 * will be drained by its timer; waking it per record would cost ~5 us each. And wake a consumer
	 * that is idle (nothing else pending): an isolated close reaches user space in microseconds,
	 * while records that arrive faster than the consumer wakes find it already woken (pending
	 * data) and cost no wakeup of their own. */
	avail = bpf_ringbuf_query(&fr_rb, BPF_RB_AVAIL_DATA);
	if (avail < fr_wakeup_bytes && avail + sizeof(*r) + 8 >= fr_wakeup_bytes) {
		flags = BPF_RB_FORCE_WAKEUP;
	} else if (fr_wake_idle && avail <= sizeof(*r) + 8) {
		flags = BPF_RB_FORCE_WAKEUP;
		if (fr_idle_wake_min_ns) {
			__u64 now = bpf_ktime_get_ns();

			if (now - fr_last_idle_wake_ns < fr_idle_wake_min_ns)
				flags = BPF_RB_NO_WAKEUP;
			else
				fr_last_idle_wake_ns = now;
		}
	}
	if (flags == BPF_RB_FORCE_WAKEUP)
		fr_tm_add(FR_BPF_TM_WAKEUPS, 1);
	bpf_ringbuf_submit(r, flags);
	return 0;
}

/* A closed connection (or a UDP release marker). */
static __always_inline void fr_emit(const struct fr_bpf_conn *src)
{
	if (!fr_emit_counted(src, FR_BPF_TM_RB_RESERVE_FAILED))
		fr_tm_add(FR_BPF_TM_RB_SUBMITTED, 1);
}

#endif /* FR_BPF_FLOWRING_BPF_H */
