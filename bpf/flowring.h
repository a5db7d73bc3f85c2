/* flowring.h - the structures shared by the BPF programs (bpf/flowring.bpf.c) and the user side
 * (producer/tracer.c): map keys and values, ring-buffer records, telemetry indexes.
 *
 * Fixed-width types only and no includes, so both sides can use it: the BPF side gets the __u*
 * types from vmlinux.h, the user side from <linux/types.h> (included before this header).
 * Addresses are in network byte order, ports in host byte order, times CLOCK_MONOTONIC ns.
 */
#ifndef FR_BPF_FLOWRING_H
#define FR_BPF_FLOWRING_H

/* fr_bpf_conn.kind */
#define FR_BPF_KIND_CONN 0        /* a closed connection */
#define FR_BPF_KIND_UDP_RELEASE 1 /* a UDP socket with more flows than its sk_storage remembers was
				   * released: user space closes its remaining flows (by cookie) */
#define FR_BPF_KIND_PORT_LISTEN 2 /* a socket started listening (TCP) or was bound to a port (UDP):
				   * proto, netns, sport, pid, cookie, start_ns */
#define FR_BPF_KIND_PORT_CLOSE 3  /* that socket stopped (listener closed; UDP socket released or
				   * connected); sent only for sockets that had a PORT_LISTEN */

/* fr_bpf_conn.proto / family (same numbers as enum fr_conn_type / fr_conn_family) */
#define FR_BPF_TCP 0
#define FR_BPF_UDP 1
#define FR_BPF_V4 0
#define FR_BPF_V6 1

/* fr_bpf_conn.flags: the FR_CONN_F_* bits of include/flowring/record.h, repeated here because the
 * BPF side cannot include that header (it pulls in libc). tracer.c asserts they are equal. */
#define FR_BPF_F_CLOSED (1u << 0)
#define FR_BPF_F_FAILED_CONNECT (1u << 1)
#define FR_BPF_F_SEEDED (1u << 3)
#define FR_BPF_F_UDP_CONNECTED (1u << 6)
#define FR_BPF_F_LISTENER_SIDE (1u << 7)

/* Key of the UDP flow map: one flow per socket and peer. Connected sockets use their peer. */
struct fr_bpf_udp_key {
	__u64 cookie;
	__u8 peer[16];
	__u16 peer_port; /* host order */
	__u8 family;
	__u8 pad[5];
};

/* Value of the active maps and record of the ring buffer (every kind: one record size keeps the
 * ring's order and the consumer simple; port events are rare). */
struct fr_bpf_conn {
	__u8 saddr[16];
	__u8 daddr[16];
	__u64 sent_bytes;
	__u64 recv_bytes;
	__u64 sent_packets;
	__u64 recv_packets;
	__u64 start_ns;
	__u64 last_update_ns;
	__u64 end_ns;
	__u64 cookie;
	__u32 retransmits;
	__u32 rtt_us;
	__u32 rtt_var_us;
	__u32 pid;
	__u32 netns;
	__u32 flags;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 family;
	__u8 kind;
	__u8 pad;
	__u32 reap_gen; /* last iter/tcp pass that saw the socket alive (fr_tracer_reap_tcp) */
	__u32 pad2;
};

/* Per-CPU telemetry map (PERCPU_ARRAY) indexes; user space sums the CPUs. */
enum fr_bpf_tm {
	FR_BPF_TM_RB_RESERVE_FAILED = 0, /* closed records lost: ring full */
	FR_BPF_TM_RB_BYTES_DROPPED,      /* their bytes */
	FR_BPF_TM_TCP_MAP_FULL,          /* TCP connections not tracked: map full */
	FR_BPF_TM_UDP_MAP_FULL,          /* UDP flows not tracked: map full */
	FR_BPF_TM_SK_STORAGE_FAILED,     /* sockets whose state could not be stored */
	FR_BPF_TM_EVENTS_SKIPPED,        /* events skipped: unsupported family, no peer known, ... */
	FR_BPF_TM_FAILED_CONNECTS,       /* SYN_SENT -> CLOSE */
	FR_BPF_TM_RB_SUBMITTED,          /* closed records submitted (all of them, before filtering) */
	FR_BPF_TM_WAKEUPS,               /* forced ring-buffer wakeups */
	FR_BPF_TM_TCP_CLOSES,            /* TCP transitions to CLOSE seen (not from LISTEN) */
	FR_BPF_TM_PORT_EVENTS_LOST,      /* listening-port events lost: ring full */
	FR_BPF_TM_PORT_EVENTS,           /* listening-port events submitted */
	FR_BPF_TM__COUNT
};

#endif /* FR_BPF_FLOWRING_H */
