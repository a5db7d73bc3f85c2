/* flowring/telemetry.h - the self-describing telemetry block of the events region.
 *
 * Part of the flowring wire format (ABI major 1). The events region carries a telemetry section
 * of FR_TELEMETRY_MAX entries, each one cache line: a NUL-terminated name and a 64-bit counter.
 * The producer writes the names once before it marks the region ready, then only the values.
 * Readers need no list of names: they print whatever entries have a non-empty name, so a newer
 * producer can add counters without a new SDK. Every counter is monotonic for the life of the
 * producer (one generation) unless its name ends in "_current" (a gauge).
 *
 * Each value is written by exactly one producer thread, with a relaxed atomic store, and read
 * with a relaxed atomic load: counters are independent, no ordering between them is promised.
 */
#ifndef FLOWRING_TELEMETRY_H
#define FLOWRING_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FR_TELEMETRY_MAX 256u
#define FR_TELEMETRY_NAME_LEN 56u

struct fr_telemetry_entry {
	char name[FR_TELEMETRY_NAME_LEN];
	uint64_t value;
};

#if defined(__cplusplus)
static_assert(sizeof(struct fr_telemetry_entry) == 64, "one cache line per counter");
#else
_Static_assert(sizeof(struct fr_telemetry_entry) == 64, "one cache line per counter");
_Static_assert(offsetof(struct fr_telemetry_entry, value) == 56, "value offset");
#endif

/* The producer's fixed counters: X(id, name, help). The id is the entry's index in the block;
 * entries past FR_TM__COUNT are allocated at run time (per-BPF-program run counts and the like).
 * Append only: never renumber, the index is what a reader of an older producer sees. */
#define FR_TELEMETRY_FIXED(X)                                                                              \
	/* the seed's ConnectionsTelemetry */                                                               \
	X(CONNS_CLOSED, "conns_closed", "closed connections ingested from the kernel")                     \
	X(CONNS_BPF_MAP_SIZE, "conns_bpf_map_size_current", "active connections in the BPF maps")          \
	X(CONNTRACK_REGISTERS, "conntrack_registers", "NAT entries added from conntrack")                  \
	X(CONNTRACK_REGISTERS_DROPPED, "conntrack_registers_dropped", "NAT entries dropped: table full")    \
	X(DNS_PACKETS_PROCESSED, "dns_packets_processed", "DNS packets parsed")                            \
	X(BPF_PROG_RUNS, "bpf_prog_runs", "BPF program runs, all programs (kernel bpf_stats)")             \
	X(BPF_PROG_MISSES, "bpf_prog_misses", "BPF program runs the kernel skipped (recursion)")           \
	/* kernel side drops (read from the per-CPU telemetry map) */                                       \
	X(BPF_RINGBUF_RESERVE_FAILED, "bpf_ringbuf_reserve_failed", "closed records lost: ring full")      \
	X(BPF_RINGBUF_BYTES_DROPPED, "bpf_ringbuf_bytes_dropped", "bytes of closed records lost")          \
	X(BPF_TCP_MAP_FULL, "bpf_tcp_map_full", "TCP connections not tracked: map full")                   \
	X(BPF_UDP_MAP_FULL, "bpf_udp_map_full", "UDP flows not tracked: map full")                         \
	X(BPF_SK_STORAGE_FAILED, "bpf_sk_storage_failed", "sockets whose pid could not be stored")         \
	X(BPF_EVENTS_SKIPPED, "bpf_events_skipped", "kernel events skipped (unsupported family etc.)")     \
	X(BPF_FAILED_CONNECTS, "bpf_failed_connects", "TCP connects that never established")               \
	X(BPF_UDP_IDLE_CLOSED, "bpf_udp_idle_closed", "UDP flows closed by the idle timeout")              \
	/* ingest */                                                                                        \
	X(INGEST_EVENTS, "ingest_events", "records read from the BPF ring buffer")                         \
	X(INGEST_MALFORMED, "ingest_malformed", "ring buffer records of a wrong size, skipped")            \
	X(INGEST_FILTERED, "ingest_filtered", "connections excluded by filters")                           \
	X(EVENTS_PUBLISHED, "events_published", "records written to the events ring")                      \
	/* per-client state (SEMANTICS.md) */                                                               \
	X(STATS_RESETS, "stats_resets", "counters that went backwards: key memory reset")                  \
	X(UNORDERED_CONNS, "unordered_conns", "closed records older than the buffered one: skipped")       \
	X(CLOSED_DROPPED, "closed_dropped", "closed records dropped: client buffer full")                   \
	X(CONN_DROPPED, "conn_dropped", "keys not remembered: client table full")                          \
	X(TIME_SYNC_COLLISIONS, "time_sync_collisions", "closed and active records with equal times")      \
	X(DNS_STATS_DROPPED, "dns_stats_dropped", "DNS stats dropped: table full")                         \
	X(CLIENTS_REGISTERED, "clients_registered", "client registrations")                                \
	X(CLIENTS_EXPIRED, "clients_expired", "clients removed for not reading")                           \
	X(CLIENTS_CURRENT, "clients_current", "registered clients")                                        \
	/* snapshots */                                                                                     \
	X(SNAPSHOTS_PUBLISHED, "snapshots_published", "snapshots written to client rings")                 \
	X(SNAPSHOT_RECORDS, "snapshot_records", "records written into snapshots")                          \
	X(SNAPSHOT_REGROWS, "snapshot_regrows", "snapshot regions re-created larger (new generation)")     \
	X(SNAPSHOT_FAILED, "snapshot_failed", "snapshots that could not be published (ENOSPC etc.)")       \
	/* NAT (conntrack) */                                                                               \
	X(CONNTRACK_ENTRIES, "conntrack_entries_current", "NAT entries held")                              \
	X(CONNTRACK_OVERRUNS, "conntrack_overruns", "netlink ENOBUFS overruns")                            \
	X(CONNTRACK_RESYNCS, "conntrack_resyncs", "conntrack table re-dumps after an overrun")             \
	X(CONNTRACK_TRANSLATED, "conntrack_translated", "connections given an ip_translation")             \
	/* port map */                                                                                      \
	X(PROC_LINES_MALFORMED, "proc_lines_malformed", "malformed /proc/net lines skipped")               \
	X(LISTEN_PORTS, "listen_ports_current", "listening ports known")                                   \
	/* control socket */                                                                                \
	X(CTL_REQUESTS, "ctl_requests", "control requests served")                                         \
	X(CTL_REFUSED_CRED, "ctl_refused_cred", "control requests refused: credentials")                   \
	X(CTL_MALFORMED, "ctl_malformed", "control messages malformed or truncated")                       \
	X(CTL_OVERSIZED, "ctl_oversized", "control messages over the size limit")                          \
	X(CTL_FLOOD_REFUSED, "ctl_flood_refused", "control connections refused: limit reached")               \
	/* kernel side, continued */                                                                        \
	X(BPF_TCP_REAPED, "bpf_tcp_reaped", "TCP closes the kernel never ran our program for, recovered")   \
	X(BPF_PORT_EVENTS_LOST, "bpf_port_events_lost", "listening-port events lost: ring full")           \
	/* ingest during snapshot builds (producer/daemon_pump.c) */                                        \
	X(SNAPSHOT_PUMPS, "snapshot_pumps", "ring buffer drains run from inside snapshot builds")          \
	X(SNAPSHOT_DEFERRED, "snapshot_deferred", "closed records whose state store waited for a build")    \
	X(SNAPSHOT_DEFERRED_PEAK, "snapshot_deferred_peak", "most closed records waiting at once")         \
	X(SNAPSHOT_PUMP_FULL, "snapshot_pump_full", "pumps skipped: deferral queue full (kernel ring holds)") \
	X(SNAPSHOT_DEFERRED_LOST, "snapshot_deferred_lost", "deferred state stores lost: out of memory")     \
	/* wake-ups: what the pipeline's latency costs (docs/BPF.md "Wakeups") */                            \
	X(BPF_RINGBUF_WAKEUPS, "bpf_ringbuf_wakeups", "consumer wake-ups the kernel side forced")          \
	X(INGEST_DRAINS, "ingest_drains", "ring buffer drains by the event loop")                           \
	X(INGEST_FAST_DRAINS, "ingest_fast_drains", "drains by the fast timer: a record had no wake-up")    \
	X(EVENTS_WAKES, "events_wakes", "futex wakes issued to events-ring readers")

enum fr_telemetry_id {
#define FR__TM_ENUM(id, name, help) FR_TM_##id,
	FR_TELEMETRY_FIXED(FR__TM_ENUM)
#undef FR__TM_ENUM
	FR_TM__COUNT
};

#if defined(__cplusplus)
static_assert(FR_TM__COUNT <= FR_TELEMETRY_MAX, "telemetry block too small");
#else
_Static_assert(FR_TM__COUNT <= FR_TELEMETRY_MAX, "telemetry block too small");
#endif

#ifdef __cplusplus
}
#endif

#endif /* FLOWRING_TELEMETRY_H */
