/* flowring_maps.bpf.h - kernel-only: the configuration (rodata, .bss), the per-socket state and the
 * maps shared by every program of flowring.bpf.c. Included once, first after the libbpf headers.
 */
#ifndef FR_BPF_FLOWRING_MAPS_BPF_H
#define FR_BPF_FLOWRING_MAPS_BPF_H

/* Set by user space before load. */
const volatile __u32 fr_targ_netns = 0;       /* trace only this netns (0: all) */
const volatile __u8 fr_trace_udp = 1;         /* 0: TCP only */
const volatile __u64 fr_wakeup_bytes = 65536; /* force a wakeup once this much is pending */
/* Wake an idle consumer (this record is the only one pending) when fr_wake_idle, at most once per
 * fr_idle_wake_min_ns (0: no limit). fr_last_idle_wake_ns is written racily by every CPU: a lost
 * update only allows one extra wakeup. */
const volatile __u8 fr_wake_idle = 0;
const volatile __u64 fr_idle_wake_min_ns = 0;
__u64 fr_last_idle_wake_ns = 0;

/* Written by user space at run time: the generation of the current iter/tcp pass. */
volatile __u32 fr_reap_gen = 0;

#define FR_SK_PEERS 4

struct fr_sk_peer {
	__u8 addr[16];
	__u16 port;
	__u8 family;
	__u8 pad;
};

/* fr_sk_state.port_flags */
#define FR_SK_PORT_LISTENING 1 /* a PORT_LISTEN event was sent for this socket (a CLOSE is owed) */

/* Per-socket state. Cloned into accepted sockets (BPF_F_CLONE) so they carry the listener's pid
 * (port_flags is cloned too but only read on LISTEN -> CLOSE, which children never make). */
struct fr_sk_state {
	__u32 pid;
	__u32 netns;
	__u8 pend_valid; /* pend_* holds the destination of the send in progress (cgroup/sendmsg) */
	__u8 npeers;     /* UDP flows remembered in peers[] */
	__u8 overflow;   /* more UDP flows than peers[]: user space closes the rest by cookie */
	__u8 src_valid;  /* src holds the source address the route chose for pend (cgroup_skb/egress) */
	struct fr_sk_peer pend;
	struct fr_sk_peer src; /* addr and family only */
	struct fr_sk_peer peers[FR_SK_PEERS];
	__u16 bind_port;   /* UDP: port asked of bind() (cgroup/bind4/6); 0: ephemeral or none */
	__u16 listen_port; /* the port of the PORT_LISTEN event sent */
	__u8 port_flags;   /* FR_SK_PORT_* */
	__u8 pad[3];
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

#endif /* FR_BPF_FLOWRING_MAPS_BPF_H */
